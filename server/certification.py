"""Certified maps in the lab: POST /certify (and a run's "Certify maps" button) smooths each model's map of one image
and says which pixels provably stay important, or unimportant, under any L2 perturbation up to a radius
(explainlab/eval/certified_map.py), through the flow every map check shares (server/map_checks.py)."""

from __future__ import annotations

import time
from typing import Any

from torch import Tensor

from explainlab import compare, render
from explainlab.eval.certified_map import CertifyParams, certify_map
from explainlab.explain import Explainer
from explainlab.imageio import data_url, tensor_to_png
from explainlab.zoo.card import ModelCard
from server.checks import explainer_passes
from server.map_checks import check_params, map_check
from server.schemas import CertifyRequest
from server.services import Lab


async def certify(lab: Lab, req: CertifyRequest, upload: bytes | None = None) -> dict[str, Any]:
    """Every model's certified map of one image, computed on the lab's compute worker."""
    params = check_params(CertifyParams, req.certify_params, "certify_params")

    def passes(explainer: Explainer, card: ModelCard) -> int:
        return params.n * explainer_passes(explainer, card.input_size)

    return await map_check(lab, req, upload, kind="certify", params=params, passes=passes,
                           cost_field="certify_params.n", one=_certify_one)  # fmt: skip


def _certify_one(lab: Lab, model_id: str, explainer: Explainer, params: CertifyParams, x: Tensor) -> list[dict]:
    """Compute worker: one model's certificate (its noisy samples are batched inside)."""
    start = time.perf_counter()
    model, card = lab.zoo.load(model_id)
    x = x.to(lab.device)
    cert = certify_map(model, x, explainer, params)
    clean_map = compare.explain(model, x, explainer, cert.label)[0].saliency.cpu()
    summary = cert.summary()
    smoothed = cert.smoothed_label
    return [
        {
            "model": model_id,
            "title": card.title or model_id,
            "input_png": data_url(tensor_to_png(x[0].cpu())),
            "map_png": data_url(render.map_to_png(clean_map, render.map_scale([clean_map]))),
            "share_png": data_url(render.map_to_png(cert.top_share, 1.0)),
            "certificate_png": data_url(render.certificate_png(cert.verdict)),
            "label_name": card.class_name(cert.label),
            "smoothed_name": None if smoothed is None else card.class_name(smoothed),
            "certificate": summary,
            "compute_ms": (time.perf_counter() - start) * 1000,
        }
    ]
