"""What the JSON API and the pages share: resolve the image and the methods, check the cost, run on the compute
worker, render PNGs, cache and store the run. Plain Python; the routes only parse HTTP and serialize."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from PIL import Image
from starlette.concurrency import run_in_threadpool
from torch import Tensor

from explainlab import compare, render
from explainlab.attacks import ATTACKS, Attack
from explainlab.explain import EXPLAINERS, Explainer
from explainlab.imageio import data_url, decode_image, parse_data_url, tensor_to_png, to_model_input
from explainlab.zoo.card import ModelCard
from server.checks import attack_passes, build, check_target, check_transfer, explainer_passes
from server.errors import ApiError
from server.evaluation import TestImages, start_evaluation
from server.gallery import Gallery
from server.jobs import Job, JobStore
from server.limits import RateLimiter
from server.runs import LRU, RunStore, content_key
from server.schemas import SOURCES, AttackRequest, EvaluationRequest, ExplainRequest, SweepRequest
from server.settings import Settings
from server.worker import ComputeWorker
from server.zoo import Zoo

SOURCE_SIDE = 256  # stored runs keep the input image at most this many pixels a side (every zoo model is smaller)


@dataclass
class Source:
    """The decoded input image and what it came from."""

    image: Image.Image
    ref: dict[str, Any]
    png: bytes  # a copy at most SOURCE_SIDE a side, stored with the run for reruns from the permalink


def probabilities_out(prediction: compare.Prediction, classes: list[str]) -> dict[str, Any]:
    return {
        "label": prediction.label,
        "class_name": classes[prediction.label],
        "confidence": prediction.confidence,
        "probabilities": [
            {"label": i, "class_name": name, "probability": p}
            for i, (name, p) in enumerate(zip(classes, prediction.probabilities, strict=True))
        ],
    }


def view_out(view: compare.View, card: ModelCard, vmax: float, raw: bool) -> dict[str, Any]:
    return {
        "prediction": probabilities_out(view.prediction, card.classes),
        "map": {
            "png": data_url(render.map_to_png(view.saliency.cpu(), vmax)),
            "target": view.target,
            "target_name": card.class_name(view.target),
            "vmax": vmax,
            "attribution": view.attribution.cpu().tolist() if raw else None,
            "saliency": view.saliency.cpu().tolist() if raw else None,
        },
    }


@dataclass
class PreparedAttack:
    """An /attack request checked and ready to queue (``Lab.prepare_attack``)."""

    req: AttackRequest
    explainer: Explainer
    attacker: Attack
    cards: list[ModelCard]
    source: Source


class Lab:
    """The server's state: zoo, compute worker, caches, run store, gallery."""

    def __init__(self, settings: Settings, device: torch.device) -> None:
        self.settings, self.device = settings, device
        self.zoo = Zoo(settings.models, device, settings.model_cache)
        self.worker = ComputeWorker(
            queue_depth=settings.queue_depth,
            max_batch=settings.max_batch,
            threads=settings.threads,
            inline=settings.compute == "inline",
        )
        self.results = LRU(settings.result_cache)
        self.runs = RunStore(settings.runs_dir, settings.stored_runs)
        self.gallery = Gallery(settings.static_dir / "gallery")
        self.legend = data_url(render.colorbar_png("heat"))
        finished_jobs = RunStore(settings.runs_dir / "jobs", settings.stored_runs)
        self.jobs = JobStore(settings.job_history, settings.max_jobs, finished_jobs)
        self.limiter = RateLimiter(settings.rate_limit)
        self.test_images = TestImages(settings.data, settings.max_test_images)
        self.last_interactive = float("-inf")  # perf_counter of the latest /explain or /attack: jobs yield to people

    # ---- inputs -------------------------------------------------------------------------------------------------
    async def source(self, req: ExplainRequest, upload: bytes | None) -> Source:
        given = [n for n in SOURCES if getattr(req, n)] + (["upload"] if upload is not None else [])
        if len(given) != 1:
            raise ApiError(
                422,
                "invalid_parameter",
                f"image: give exactly one image source (an upload, image as base64, gallery, run or test_image); got "
                f"{', '.join(given) or 'none'}",
                "image",
            )
        if upload is not None:
            data, ref = upload, {"upload": True}
        elif req.image:
            data, ref = parse_data_url(req.image, field="image"), {"upload": True}
        elif req.gallery:
            data, ref = self.gallery.read(req.gallery), {"gallery": req.gallery}
        elif req.test_image:
            image, label = await self.test_images.image(req.test_image)
            ref = {"test_image": req.test_image, "label": label}
            return Source(image, ref, await run_in_threadpool(_thumbnail_png, image))
        else:
            record = self.runs.load(req.run or "")
            if record is None:
                raise ApiError(404, "unknown_run", f"run: no stored run {req.run!r} (runs expire)", "run")
            data, ref = parse_data_url(record["source_png"], field="run"), {"run": req.run}
        limits = {"max_bytes": self.settings.max_upload_bytes, "max_pixels": self.settings.max_pixels}
        image = await run_in_threadpool(decode_image, data, **limits)
        return Source(image, ref, await run_in_threadpool(_thumbnail_png, image))

    def check_models(self, ids: list[str]) -> list[ModelCard]:
        if len(ids) > self.settings.max_models:
            raise ApiError(422, "too_many_models", f"models: at most {self.settings.max_models} per request", "models")
        if len(set(ids)) != len(ids):
            raise ApiError(422, "invalid_parameter", "models: each model id at most once", "models")
        return [self.zoo.card(model_id) for model_id in ids]

    def check_cost(self, n_models: int, method_passes: int, attack_passes: int = 0, field: str | None = None) -> None:
        """Refuse a request whose estimated forward/backward passes exceed the server's budget (never a hang)."""
        total = (attack_passes + method_passes) * n_models
        if total > self.settings.max_gradient_evals:
            raise ApiError(
                422,
                "too_expensive",
                f"this request needs about {total:,} forward/backward passes; the server's limit is "
                f"{self.settings.max_gradient_evals:,} (EXPLAINLAB_MAX_GRADIENT_EVALS): lower steps, restarts or "
                "samples, or use fewer models",
                field or ("attack_params" if attack_passes > method_passes else "method_params"),
            )

    async def inputs(self, source: Source, cards: list[ModelCard], invert: str) -> list[Tensor]:
        def convert() -> list[Tensor]:
            return [to_model_input(source.image, card.input_size, invert=invert) for card in cards]

        return await run_in_threadpool(convert)

    async def _finish(self, key: str, response: dict[str, Any], request: dict[str, Any], source: Source) -> None:
        self.results.put(key, response)
        record = {"request": request, "response": response, "source_png": data_url(source.png), "created": time.time()}
        await run_in_threadpool(self.runs.save, response["run_id"], record)

    async def wait(self, *awaitables: Any) -> list[Any]:
        return await asyncio.wait_for(asyncio.gather(*awaitables), self.settings.request_timeout_s)

    # ---- /explain -----------------------------------------------------------------------------------------------
    async def explain(self, req: ExplainRequest, upload: bytes | None = None) -> dict[str, Any]:
        start = self.last_interactive = time.perf_counter()
        explainer: Explainer = build(EXPLAINERS, req.method, req.method_params, "method")
        cards = self.check_models(req.models)
        check_target(req.target, cards)
        self.check_cost(len(cards), explainer_passes(explainer, cards[0].input_size))
        source = await self.source(req, upload)
        params = explainer.params.model_dump(mode="json")
        key = content_key("explain", image_key(source.image), req.models, req.method, params, req.target, req.invert)
        run_id = key[:16]
        if (hit := self.results.get(key + str(req.raw))) is not None:
            return {**hit, "cached": True, "total_ms": _ms(start)}
        xs = await self.inputs(source, cards, req.invert)
        jobs = [
            self.worker.run(
                partial(self._explain_batch, model_id, explainer, req.target, req.raw),
                x,
                batch_key=("explain", model_id, req.method, json.dumps(params, sort_keys=True), req.target, req.raw),
            )
            for model_id, x in zip(req.models, xs, strict=True)
        ]
        rows = await self.wait(*jobs)
        response = {
            "kind": "explain",
            "run_id": run_id,
            "permalink": f"/runs/{run_id}",
            "method": req.method,
            "method_params": params,
            "legend_png": self.legend,
            "rows": rows,
            "cached": False,
            "total_ms": _ms(start),
        }
        request = {**req.model_dump(exclude=set(SOURCES)), "source": source.ref}
        await self._finish(key + str(req.raw), response, request, source)
        return response

    def _explain_batch(self, model_id: str, explainer: Explainer, target: int | None, raw: bool, *xs: Tensor) -> list:
        """Compute worker: one model, one method, the inputs of every request batched together."""
        start = time.perf_counter()
        model, card = self.zoo.load(model_id)
        x = torch.cat(xs).to(self.device)
        views = compare.explain(model, x, explainer, target)
        share = _ms(start) / len(xs)
        rows = []
        for xi, view in zip(x, views, strict=True):
            vmax = render.map_scale([view.saliency.cpu()])
            rows.append(
                {
                    "model": model_id,
                    "title": card.title or model_id,
                    "dataset": card.dataset,
                    "input_png": data_url(tensor_to_png(xi.cpu())),
                    "view": view_out(view, card, vmax, raw),
                    "compute_ms": share,
                }
            )
        return rows

    # ---- /attack ------------------------------------------------------------------------------------------------
    async def attack(self, req: AttackRequest, upload: bytes | None = None) -> dict[str, Any]:
        start = self.last_interactive = time.perf_counter()
        return await self.run_attack(await self.prepare_attack(req, upload), start)

    async def prepare_attack(
        self, req: AttackRequest, upload: bytes | None = None, source: Source | None = None
    ) -> PreparedAttack:
        """Everything but the compute: methods built, models, target, transfer and cost checked, image decoded
        (or ``source`` reused); each problem is a 4xx here, before any work is queued."""
        explainer: Explainer = build(EXPLAINERS, req.method, req.method_params, "method")
        attacker: Attack = build(ATTACKS, req.attack, req.attack_params, "attack")
        cards = self.check_models(req.models)
        check_target(req.target, cards)
        check_transfer(req.transfer_from, req.models, cards)
        size = cards[0].input_size
        self.check_cost(len(cards), 2 * explainer_passes(explainer, size), attack_passes(attacker, size))
        source = source or await self.source(req, upload)
        return PreparedAttack(req, explainer, attacker, cards, source)

    async def run_attack(self, prepared: PreparedAttack, start: float) -> dict[str, Any]:
        """The compute of a prepared attack (cached by content), its response and its stored run."""
        req, attacker, explainer, source = prepared.req, prepared.attacker, prepared.explainer, prepared.source
        attack_params = attacker.params.model_dump(mode="json")
        method_params = explainer.params.model_dump(mode="json")
        key = content_key(
            "attack", image_key(source.image), req.models, req.method, method_params, req.attack, attack_params,
            req.transfer_from, req.k, req.invert, req.raw,
        )  # fmt: skip
        run_id = key[:16]
        if (hit := self.results.get(key)) is not None:
            return {**hit, "cached": True, "total_ms": _ms(start)}
        xs = await self.inputs(source, prepared.cards, req.invert)
        rows = (await self.wait(self.worker.run(partial(self._attack_job, req, attacker, explainer), xs)))[0]
        response = {
            "kind": "attack",
            "run_id": run_id,
            "permalink": f"/runs/{run_id}",
            "method": req.method,
            "method_params": method_params,
            "attack": req.attack,
            "attack_kind": attacker.kind,
            "attack_params": attack_params,
            "transfer_from": req.transfer_from,
            "legend_png": self.legend,
            "rows": rows,
            "cached": False,
            "total_ms": _ms(start),
        }
        request = {**req.model_dump(exclude=set(SOURCES)), "source": source.ref}
        await self._finish(key, response, request, source)
        return response

    # ---- ε sweeps (a job) ---------------------------------------------------------------------------------------
    async def start_sweep(self, req: SweepRequest, upload: bytes | None = None) -> Job:
        """The attack at each budget of ``req.eps`` (default: ``compare.sweep_budgets`` of its ε), one after another as
        a job. Every point is checked first, so bad input is a 4xx here and not a failed job; each point is a normal
        run (cached, stored, with a permalink)."""
        cards = self.check_models(req.models)
        base = build(ATTACKS, req.attack, req.attack_params, "attack").params
        eps = compare.sweep_reference_eps(req.attack_params, base.eps, [c.threat_model.eps for c in cards])
        grid = req.eps or compare.sweep_budgets(eps, base.norm)
        attack = AttackRequest(**req.model_dump(exclude={"eps"}))
        at = [attack.model_copy(update={"attack_params": {**req.attack_params, "eps": e}}) for e in grid]
        points = [await self.prepare_attack(at[0], upload)]
        points += [await self.prepare_attack(point, source=points[0].source) for point in at[1:]]
        request = {**req.model_dump(exclude=set(SOURCES)), "eps": grid, "source": points[0].source.ref}

        async def work(job: Job) -> dict[str, Any]:
            result: dict[str, Any] = {"models": req.models, "attack": req.attack, "method": req.method,
                                      "reference_eps": eps, "points": []}  # fmt: skip
            for prepared in points:
                if job.cancel_requested:
                    break
                response = await self.run_attack(prepared, time.perf_counter())
                result = {**result, "points": [*result["points"], sweep_point(response)]}
                job.advance(result)
            return result

        return self.jobs.start("eps_sweep", len(points), request, work)

    async def start_evaluation(self, req: EvaluationRequest) -> Job:
        """The attack over the first ``req.n`` test images of the models' dataset, as a job (server/evaluation.py)."""
        return await start_evaluation(self, req)

    def _attack_job(self, req: AttackRequest, attacker: Attack, explainer: Explainer, xs: list[Tensor]) -> list:
        """Compute worker: attack every model (or craft on one), explain before and after, render the row."""
        start = time.perf_counter()
        loaded = [self.zoo.load(model_id) for model_id in req.models]
        models, cards = [m for m, _ in loaded], [c for _, c in loaded]
        inputs = [x.to(self.device) for x in xs]
        source = None if req.transfer_from is None else req.models.index(req.transfer_from)
        outcomes = compare.attack(
            models,
            inputs,
            attacker,
            explainer,
            class_names=[c.classes for c in cards],
            transfer_from=source,
            k=req.k,
            target=req.target,
        )
        eps = float(attacker.params.eps) if attacker.params.norm == "linf" else None
        share = _ms(start) / len(models)
        rows = []
        for model_id, card, x, out in zip(req.models, cards, inputs, outcomes, strict=True):
            vmax = render.map_scale([out.before.saliency.cpu(), out.after.saliency.cpu()])
            rows.append(
                {
                    "model": model_id,
                    "title": card.title or model_id,
                    "dataset": card.dataset,
                    "crafted_on": req.transfer_from or model_id,
                    "input_png": data_url(tensor_to_png(x[0].cpu())),
                    "adversarial_png": data_url(tensor_to_png(out.x_adv.cpu())),
                    "perturbation_png": data_url(render.perturbation_png((out.x_adv - x[0]).cpu(), eps)),
                    "before": view_out(out.before, card, vmax, req.raw),
                    "after": view_out(out.after, card, vmax, req.raw),
                    "similarity": vars(out.similarity),
                    "linf": out.linf,
                    "l2": out.l2,
                    "verdicts": [vars(v) for v in out.verdicts],
                    "compute_ms": share,
                }
            )
        return [rows]


def sweep_point(response: dict[str, Any]) -> dict[str, Any]:
    """One budget of a sweep: per model the prediction before and after and the maps' similarity (no images: each
    point's permalink has the grid)."""
    rows = []
    for row in response["rows"]:
        before, after = row["before"]["prediction"], row["after"]["prediction"]
        rows.append({
            "model": row["model"], "class_before": before["class_name"], "class_after": after["class_name"],
            "flipped": before["label"] != after["label"], "confidence_after": after["confidence"],
            "k": row["similarity"]["k"], "topk": row["similarity"]["topk_intersection"],
            "spearman": row["similarity"]["spearman"], "ssim": row["similarity"]["ssim"], "linf": row["linf"],
        })  # fmt: skip
    eps = response["attack_params"]["eps"]
    return {"eps": eps, "run_id": response["run_id"], "permalink": response["permalink"], "rows": rows}


def image_key(image: Image.Image) -> str:
    return content_key(image.mode, image.size, hashlib.sha256(image.tobytes()).hexdigest())


def _thumbnail_png(image: Image.Image) -> bytes:
    copy = image.copy()
    copy.thumbnail((SOURCE_SIDE, SOURCE_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    copy.save(buffer, format="PNG")
    return buffer.getvalue()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
