"""Test-set runs as jobs (design.md §5, Jobs: dataset evaluations): the lab's attack and maps over the first ``n``
test images of the models' dataset, batch by batch through the compute worker, the summary updated after each batch.
The computation is the library's (``explainlab.eval.testset``); this module checks the request, finds the images and
drives the job."""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image
from starlette.concurrency import run_in_threadpool
from torch import Tensor

from explainlab import compare
from explainlab.attacks import ATTACKS
from explainlab.data.specs import DATASETS, canonical_name
from explainlab.errors import DataIntegrityError, DataNotFoundError, UnknownNameError
from explainlab.eval.testset import CHUNK, attack_images, extend, summarize
from explainlab.explain import EXPLAINERS
from explainlab.imageio import data_url, tensor_to_png
from explainlab.zoo.listing import short_id
from server.checks import attack_passes, build, check_transfer, explainer_passes
from server.errors import ApiError
from server.jobs import Job
from server.schemas import AttackRequest, EvaluationRequest

if TYPE_CHECKING:
    from server.services import Lab

MAX_CHUNKS = 2  # chunks of eval.testset.CHUNK images per piece of compute at most (32 images)
ATTENDED_S = 10.0  # a lab with an /explain or /attack this recent has someone waiting: the job's pieces stay short


class TestImages:
    """The first ``limit`` test images of each dataset, loaded once (``EXPLAINLAB_DATA``, else the library's lookup)."""

    __test__ = False  # not a pytest class

    def __init__(self, data_dir: Path | None, limit: int) -> None:
        self.data_dir, self.limit = data_dir, limit
        self._sets: dict[str, tuple[Tensor, Tensor]] = {}
        self._lock = threading.Lock()

    def _load(self, dataset: str) -> tuple[Tensor, Tensor]:
        from explainlab.data import load_dataset  # the data loaders are needed only here

        with self._lock:
            if dataset not in self._sets:
                data = load_dataset(dataset, "test", self.data_dir)
                self._sets[dataset] = (data.images[: self.limit].clone(), data.labels[: self.limit].clone())
            return self._sets[dataset]

    def cached(self, dataset: str) -> tuple[Tensor, Tensor] | None:
        """The images already loaded, or None (a page render never loads a dataset)."""
        return self._sets.get(dataset)

    async def get(self, dataset: str, stop: int, field: str = "n") -> tuple[Tensor, Tensor]:
        """Images ``0..stop`` (uint8 NCHW) and labels; a missing or broken dataset is a 409 that says what to do."""
        try:
            images, labels = await run_in_threadpool(self._load, dataset)
        except (DataNotFoundError, DataIntegrityError) as error:
            raise ApiError(
                409,
                "dataset_unavailable",
                f"{dataset}: the server has no test images for it ({error}). Start the server with EXPLAINLAB_DATA "
                "set to the folder that holds the dataset",
                "models" if field == "n" else field,
            ) from None
        if stop > len(labels):
            raise ApiError(
                422, "invalid_parameter", f"{field}: this server has {len(labels)} {dataset} test images", field
            )
        return images[:stop], labels[:stop]

    async def image(self, ref: str) -> tuple[Image.Image, int]:
        """One test image by ``"<dataset>:<index>"`` as a PIL image, and its label."""
        dataset, index = ref.split(":")
        try:
            name = canonical_name(dataset)
        except UnknownNameError as error:
            raise ApiError(422, "unknown_name", f"test_image: {error}", "test_image") from None
        if name not in DATASETS:
            raise ApiError(422, "unknown_name", f"test_image: one of {', '.join(DATASETS)}", "test_image")
        if int(index) >= self.limit:
            raise ApiError(422, "invalid_parameter", f"test_image: the index must be below {self.limit} "
                           "(EXPLAINLAB_MAX_TEST_IMAGES)", "test_image")  # fmt: skip
        images, labels = await self.get(name, int(index) + 1, field="test_image")
        pixels = images[int(index)].permute(1, 2, 0).numpy()
        image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
        return image, int(labels[int(index)])


def worst_images(job: Job, images: TestImages, per_model: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Per model, the images whose map moved most (lowest top-k ∩), each with its index among the run's images,
    label, top-k ∩, whether the prediction held, and a thumbnail when the dataset is loaded."""
    detail, result = job.detail or {}, job.result or {}
    if result.get("points"):
        return {}  # an ε sweep: its images are not one attack's
    cached = images.cached(result.get("dataset", ""))
    out: dict[str, list[dict[str, Any]]] = {}
    for model, outcomes in (detail.get("per_image") or {}).items():
        scored = [(v, i) for i, v in enumerate(outcomes["topk_intersection"]) if v is not None]
        picks = []
        for topk, i in sorted(scored)[:per_model]:
            number = result["start"] + i
            thumb = None
            if cached is not None and number < len(cached[1]):
                thumb = data_url(tensor_to_png(cached[0][number].float() / 255.0))
            picks.append({"index": i, "number": number, "label": detail["labels"][i], "topk": topk,
                          "robust": outcomes["robust"][i], "thumb": thumb})  # fmt: skip
        out[model] = picks
    return out


def image_request(job_request: dict[str, Any], dataset: str, index: int) -> AttackRequest:
    """The attack of a test-set run on one of its images (``index`` among the run's images), as an /attack request."""
    fields = {k: v for k, v in job_request.items() if k in AttackRequest.model_fields}
    return AttackRequest.model_validate({**fields, "test_image": f"{dataset}:{job_request['start'] + index}"})


def _batch_job(
    lab: Lab, req: EvaluationRequest, attacker: Any, explainer: Any, batch: tuple[Tensor, Tensor, int]
) -> list:
    """Compute worker: one piece of the run's images (from its image ``first``) through every model."""
    images, labels, first = batch
    models = [lab.zoo.load(model_id)[0] for model_id in req.models]
    x = images.to(lab.device, torch.float32).div_(255.0)
    source = None if req.transfer_from is None else req.models.index(req.transfer_from)
    y = labels.to(lab.device)
    return [attack_images(models, x, y, attacker, explainer, k=req.k, transfer_from=source, first=first)]


async def start_evaluation(lab: Lab, req: EvaluationRequest) -> Job:
    """Check everything (4xx before any work), load the images, then run the batches as a job."""
    cards = lab.check_models(req.models)
    datasets = sorted({card.dataset for card in cards})
    if len(datasets) > 1:
        raise ApiError(
            422, "incompatible", f"models: a test-set run takes models of one dataset; got {', '.join(datasets)}",
            "models",
        )  # fmt: skip
    if req.start + req.n > lab.settings.max_test_images:
        raise ApiError(
            422, "invalid_parameter", f"start + n: at most {lab.settings.max_test_images} test images "
            "(EXPLAINLAB_MAX_TEST_IMAGES)", "n",
        )  # fmt: skip
    explainer = build(EXPLAINERS, req.method, req.method_params, "method")
    attacker = build(ATTACKS, req.attack, req.attack_params, "attack")
    check_transfer(req.transfer_from, req.models, cards)
    size = cards[0].input_size
    per_image = 2 * explainer_passes(explainer, size), attack_passes(attacker, size)
    lab.check_cost(len(cards), *per_image)  # one image must fit the budget of an /attack request
    most = max(1, min(MAX_CHUNKS, lab.settings.max_gradient_evals // (sum(per_image) * len(cards) * CHUNK)))
    images, labels = await lab.test_images.get(datasets[0], req.start + req.n)
    images, labels = images[req.start :], labels[req.start :]
    titles = {card.id: card.title or card.id for card in cards}
    budgets: list[float | None] = [None]
    if req.eps or req.sweep:
        reference = compare.sweep_reference_eps(req.attack_params, attacker.params.eps,
                                                [card.threat_model.eps for card in cards])  # fmt: skip
        budgets = list(req.eps or compare.sweep_budgets(reference, attacker.params.norm))
        attackers = [build(ATTACKS, req.attack, {**req.attack_params, "eps": e}, "attack") for e in budgets]
    else:
        attackers = [attacker]
    head = {
        "dataset": datasets[0],
        "start": req.start,
        "n": req.n,
        "attack_kind": attacker.kind,
        "attack_params": attacker.params.model_dump(mode="json"),
        "method_params": explainer.params.model_dump(mode="json"),
    }
    request = {**req.model_dump(), **{k: head[k] for k in ("attack_params", "method_params")}}
    if budgets != [None]:
        request["eps"] = head["eps"] = budgets
        head["reference_eps"] = reference

    def summaries(gathered: list[dict[str, list]]) -> list[dict[str, Any]]:
        return [
            {"model": m, "short_id": short_id(m), "title": titles[m], **summarize(g)} if g else {"model": m}
            for m, g in zip(req.models, gathered, strict=True)
        ]

    finished: list[list[dict[str, Any]]] = []  # the summaries of the budgets done: they no longer change

    def result(points: list[tuple[float | None, list[dict[str, list]]]]) -> dict[str, Any]:
        """The summaries of the budget in progress (or the last), and with budgets one point per budget."""
        latest = summaries(points[-1][1])
        out = {**head, "done_images": len(points[-1][1][0].get("correct", [])), "models": latest}
        if budgets != [None]:
            done = finished[: len(points) - 1] + [latest]
            out["points"] = [{"eps": e, "models": m} for (e, _), m in zip(points, done, strict=True)]
        return out

    async def work(job: Job) -> dict[str, Any]:
        points: list[tuple[float | None, list[dict[str, list]]]] = []
        all_labels = labels[: req.n].tolist()
        for eps, budget_attacker in zip(budgets, attackers, strict=True):
            if job.cancel_requested:
                break
            if points:
                finished.append(summaries(points[-1][1]))
            gathered: list[dict[str, list]] = [{} for _ in req.models]
            points.append((eps, gathered))
            run = partial(_batch_job, lab, req, budget_attacker, explainer)
            done, chunks = 0, 1  # the first piece is one chunk: it times the rest (and they ramp up from there)
            while done < req.n and not job.cancel_requested:
                s = slice(done, min(done + chunks * CHUNK, req.n))
                start = time.perf_counter()
                [outcomes] = await lab.wait(lab.worker.run(run, (images[s], labels[s], s.start)))
                seconds = time.perf_counter() - start
                gathered = [extend(g, o) for g, o in zip(gathered, outcomes, strict=True)]
                points[-1] = (eps, gathered)
                per_image = dict(zip(req.models, gathered, strict=True))
                job.detail = {"labels": all_labels[: s.stop], "per_image": per_image,
                              "points": [{"eps": e, "per_image": dict(zip(req.models, g, strict=True))}
                                         for e, g in points] if budgets != [None] else None}  # fmt: skip
                job.advance(result(points), steps=s.stop - done)
                attended = time.perf_counter() - lab.last_interactive < ATTENDED_S
                target = lab.settings.job_piece_s if attended else None
                done, chunks = s.stop, next_batch(chunks, seconds, target, most)
        return result(points) if points else {**head, "done_images": 0, "models": []}

    return lab.jobs.start("test_set", req.n * len(budgets), request, work)


def next_batch(size: int, seconds: float, target_s: float | None, most: int) -> int:
    """The next piece's chunks: while people use the lab, as many as take about ``target_s`` (a request queued
    behind the job waits for at most the piece in progress); unattended (``None``), as many as allowed. At most
    doubling, between 1 and ``most``. The numbers do not depend on it: every chunk is seeded on its own."""
    wanted = most if target_s is None else int(size * target_s / max(seconds, 1e-3))
    return max(1, min(most, 2 * size, wanted))
