"""Certified maps in the lab: POST /certify (and a run's "Certify maps" button) smooths each model's map of one image
and says which pixels provably stay important, or unimportant, under any L2 perturbation up to a radius
(explainlab/eval/certified_map.py). Cached by content like every result; not a stored run."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from pydantic import ValidationError
from torch import Tensor

from explainlab import compare, render
from explainlab.eval.certified_map import CertifyParams, certify_map
from explainlab.explain import EXPLAINERS, Explainer
from explainlab.imageio import data_url, tensor_to_png
from server.checks import build, explainer_passes
from server.errors import validation_error
from server.runs import content_key
from server.schemas import CertifyRequest
from server.services import Lab, image_key


def certify_params(values: dict[str, Any]) -> CertifyParams:
    try:
        return CertifyParams(**values)
    except ValidationError as error:
        raise validation_error(error, prefix="certify_params") from None


async def certify(lab: Lab, req: CertifyRequest, upload: bytes | None = None) -> dict[str, Any]:
    """Every model's certified map of one image, computed on the lab's compute worker."""
    start = lab.last_interactive = time.perf_counter()
    explainer: Explainer = build(EXPLAINERS, req.method, req.method_params, "method")
    params = certify_params(req.certify_params)
    cards = lab.check_models(req.models)
    lab.check_cost(len(cards), params.n * explainer_passes(explainer, cards[0].input_size), field="certify_params.n")
    source = await lab.source(req, upload)
    method_params = explainer.params.model_dump(mode="json")
    key = content_key("certify", image_key(source.image), req.models, req.method, method_params,
                      params.model_dump(mode="json"), req.invert)  # fmt: skip
    if (hit := lab.results.get(key)) is not None:
        return {**hit, "cached": True, "total_ms": (time.perf_counter() - start) * 1000}
    xs = await lab.inputs(source, cards, req.invert)
    jobs = [lab.worker.run(partial(_certify_one, lab, model_id, explainer, params), x) for model_id, x in
            zip(req.models, xs, strict=True)]  # fmt: skip
    rows = await lab.wait(*jobs)
    response = {
        "kind": "certify",
        "method": req.method,
        "method_params": method_params,
        "certify_params": params.model_dump(mode="json"),
        "source": source.ref,
        "rows": rows,
        "cached": False,
        "total_ms": (time.perf_counter() - start) * 1000,
    }
    lab.results.put(key, response)
    return response


def _certify_one(lab: Lab, model_id: str, explainer: Explainer, params: CertifyParams, x: Tensor) -> list[dict]:
    """Compute worker: one model's certificate (its noisy samples are batched inside)."""
    start = time.perf_counter()
    model, card = lab.zoo.load(model_id)
    x = x.to(lab.device)
    cert = certify_map(model, x, explainer, params)
    clean_map = compare.explain(model, x, explainer, cert.label)[0].saliency.cpu()
    summary = cert.summary()
    name = card.classes[cert.label] if cert.label < len(card.classes) else str(cert.label)
    smoothed = cert.smoothed_label
    return [
        {
            "model": model_id,
            "title": card.title or model_id,
            "input_png": data_url(tensor_to_png(x[0].cpu())),
            "map_png": data_url(render.map_to_png(clean_map, render.map_scale([clean_map]))),
            "share_png": data_url(render.map_to_png(cert.top_share, 1.0)),
            "certificate_png": data_url(render.certificate_png(cert.verdict)),
            "label_name": name,
            "smoothed_name": None if smoothed is None else card.classes[smoothed],
            "certificate": summary,
            "compute_ms": (time.perf_counter() - start) * 1000,
        }
    ]
