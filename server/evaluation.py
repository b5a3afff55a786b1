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
from starlette.concurrency import run_in_threadpool
from torch import Tensor

from explainlab.attacks import ATTACKS
from explainlab.errors import DataIntegrityError, DataNotFoundError
from explainlab.eval.testset import attack_images, extend, summarize
from explainlab.explain import EXPLAINERS
from explainlab.zoo.listing import short_id
from server.checks import attack_passes, build, check_transfer, explainer_passes
from server.errors import ApiError
from server.jobs import Job
from server.schemas import EvaluationRequest

if TYPE_CHECKING:
    from server.services import Lab

MAX_BATCH = 32  # images per piece of compute at most
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

    async def get(self, dataset: str, stop: int) -> tuple[Tensor, Tensor]:
        """Images ``0..stop`` (uint8 NCHW) and labels; a missing or broken dataset is a 409 that says what to do."""
        try:
            images, labels = await run_in_threadpool(self._load, dataset)
        except (DataNotFoundError, DataIntegrityError) as error:
            raise ApiError(
                409,
                "dataset_unavailable",
                f"{dataset}: the server has no test images for it ({error}). Start the server with EXPLAINLAB_DATA "
                "set to the folder that holds the dataset",
                "models",
            ) from None
        if stop > len(labels):
            raise ApiError(
                422, "invalid_parameter", f"start + n: this server has {len(labels)} {dataset} test images", "n"
            )
        return images[:stop], labels[:stop]


def _batch_job(lab: Lab, req: EvaluationRequest, attacker: Any, explainer: Any, batch: tuple[Tensor, Tensor]) -> list:
    """Compute worker: one batch of images through every model."""
    images, labels = batch
    models = [lab.zoo.load(model_id)[0] for model_id in req.models]
    x = images.to(lab.device, torch.float32).div_(255.0)
    source = None if req.transfer_from is None else req.models.index(req.transfer_from)
    return [attack_images(models, x, labels.to(lab.device), attacker, explainer, k=req.k, transfer_from=source)]


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
    most = max(1, min(MAX_BATCH, lab.settings.max_gradient_evals // (sum(per_image) * len(cards))))
    images, labels = await lab.test_images.get(datasets[0], req.start + req.n)
    images, labels = images[req.start :], labels[req.start :]
    titles = {card.id: card.title or card.id for card in cards}
    head = {
        "dataset": datasets[0],
        "start": req.start,
        "n": req.n,
        "attack_kind": attacker.kind,
        "attack_params": attacker.params.model_dump(mode="json"),
        "method_params": explainer.params.model_dump(mode="json"),
    }
    request = {**req.model_dump(), **{k: head[k] for k in ("attack_params", "method_params")}}

    def result(gathered: list[dict[str, list]]) -> dict[str, Any]:
        return {
            **head,
            "done_images": len(gathered[0].get("correct", [])),
            "models": [
                {"model": m, "short_id": short_id(m), "title": titles[m], **summarize(g)} if g else {"model": m}
                for m, g in zip(req.models, gathered, strict=True)
            ],
        }

    async def work(job: Job) -> dict[str, Any]:
        gathered: list[dict[str, list]] = [{} for _ in req.models]
        run = partial(_batch_job, lab, req, attacker, explainer)
        done, size = 0, 1  # the first batch is one image: it times the rest (and ramps up from there)
        while done < req.n and not job.cancel_requested:
            s = slice(done, min(done + size, req.n))
            start = time.perf_counter()
            [outcomes] = await lab.wait(lab.worker.run(run, (images[s], labels[s])))
            seconds = time.perf_counter() - start
            gathered = [extend(g, o) for g, o in zip(gathered, outcomes, strict=True)]
            per_image = {m: g for m, g in zip(req.models, gathered, strict=True)}  # noqa: C416 - strict
            job.detail = {"labels": labels[: s.stop].tolist(), "per_image": per_image}
            job.advance(result(gathered), steps=s.stop - done)
            done = s.stop
            attended = time.perf_counter() - lab.last_interactive < ATTENDED_S
            size = next_batch(s.stop - s.start, seconds, lab.settings.job_piece_s if attended else None, most)
        return result(gathered)

    return lab.jobs.start("test_set", req.n, request, work)


def next_batch(size: int, seconds: float, target_s: float | None, most: int) -> int:
    """The next batch's images: while people use the lab, sized so that its compute takes about ``target_s`` (a
    request queued behind the job waits for at most the batch in progress); unattended (``None``), as large as
    allowed, where the per-batch overhead weighs least. At most doubling, between 1 and ``most``."""
    wanted = most if target_s is None else int(size * target_s / max(seconds, 1e-3))
    return max(1, min(most, 2 * size, wanted))
