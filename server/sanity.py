"""The sanity check in the lab: POST /sanity-check (and a run's "Sanity check" button) re-initializes each model's
layers from the output down and draws the map after each step, beside the trained model's map for its runner-up
class (explainlab/eval/sanity_check.py; Adebayo et al. 2018), through the flow every map check shares
(server/map_checks.py)."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from explainlab import render
from explainlab.eval.sanity_check import (
    SanityParams,
    StageMaps,
    input_likeness,
    number_or_none,
    other_class,
    randomization_units,
    sanity_check,
    top_k,
    warning_flags,
)
from explainlab.explain import Explainer
from explainlab.imageio import data_url, tensor_to_png
from explainlab.nets import build_model
from explainlab.zoo.card import ModelCard
from server.checks import explainer_passes
from server.map_checks import check_params, map_check
from server.schemas import SanityRequest
from server.services import Lab


async def sanity(lab: Lab, req: SanityRequest, upload: bytes | None = None) -> dict[str, Any]:
    """Every model's randomization test on one image, computed on the lab's compute worker."""
    params = check_params(SanityParams, req.sanity_params, "sanity_params")

    def passes(explainer: Explainer, card: ModelCard) -> int:  # the trained map, each stage's, the runner-up's
        stages = unit_count(card.net, json.dumps(card.net_params, sort_keys=True)) + 2
        return stages * explainer_passes(explainer, card.input_size)

    return await map_check(lab, req, upload, kind="sanity", params=params, passes=passes,
                           cost_field="method_params", one=_sanity_one)  # fmt: skip


@lru_cache(maxsize=64)
def unit_count(net: str, net_params: str) -> int:
    """The randomization steps of a net, counted on the meta device (no weights, no compute: the event loop may)."""
    with torch.device("meta"):
        return len(randomization_units(build_model(net, [0.0], [1.0], **json.loads(net_params))))


def _stage_row(stage: StageMaps, card: ModelCard, trained_label: int) -> dict[str, Any]:
    predicted = int(stage.predicted[0])
    return {
        "name": stage.name,
        "randomized": stage.randomized,
        "map_png": data_url(render.map_to_png(stage.maps[0], render.map_scale([stage.maps[0]]))),
        "predicted_name": card.class_name(predicted),
        "explains_name": card.class_name(int(stage.explained[0])),
        "same_prediction": predicted == trained_label,
        "similarity": {name: number_or_none(v[0]) for name, v in stage.similarity.items()},
    }


def _sanity_one(lab: Lab, model_id: str, explainer: Explainer, params: SanityParams, x: Tensor) -> list[dict]:
    """Compute worker: one model's maps, trained and after each randomization step (on copies of the model)."""
    start = time.perf_counter()
    model, card = lab.zoo.load(model_id)
    x = x.to(lab.device)
    stages = sanity_check(model, x, explainer, params)
    trained_label = int(stages[0].predicted[0])
    other = _stage_row(other_class(model, x, explainer, stages[0], top_k(x, params)), card, trained_label)
    likeness = number_or_none(input_likeness(x, stages[0].maps)[0])
    rows = [_stage_row(stage, card, trained_label) for stage in stages]
    topk = [(row["name"], row["similarity"]["topk_intersection"]) for row in rows[1:]]
    return [
        {
            "model": model_id,
            "title": card.title or model_id,
            "input_png": data_url(tensor_to_png(x[0].cpu())),
            "label_name": card.class_name(trained_label),
            "input_spearman": likeness,
            "stages": rows,
            "other_class": other,
            "flags": warning_flags(topk, other["similarity"]["topk_intersection"], likeness, params.order),
            "compute_ms": (time.perf_counter() - start) * 1000,
        }
    ]
