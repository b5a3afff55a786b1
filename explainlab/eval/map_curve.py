"""Explanation robustness against the budget: how much of a model's saliency map survives Ghorbani's label-keeping
top-k attack (Ghorbani et al. 2019, arXiv:1710.10547) as ε grows. The map-similarity curve beside the robust-accuracy
curve on the lab's Models pages (design.md §5); stored as ``map_curve.json`` beside the card.

Only originally-correct images are attacked (as in RAR's protocol); every budget attacks the same images, with a step
of 2.5 ε / steps. Reported per budget: the mean top-k intersection and Spearman ρ between the clean and the attacked
maps (with the top-k ∩'s standard deviation over the images), and the share of attacked images whose label the attack
kept (it only accepts label-keeping iterates).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.attacks.topk import TopKAttack
from explainlab.data import load_dataset
from explainlab.errors import IncompatibleError
from explainlab.eval.benchmark import EvalSettings, batches, threat_defaults
from explainlab.explain import EXPLAINERS, saliency_map
from explainlab.metrics.functional import spearman_rho, topk_intersection
from explainlab.params import Params
from explainlab.provenance import hardware
from explainlab.zoo.store import MAP_CURVE, load_model

log = logging.getLogger(__name__)


class MapCurveSettings(Params):
    """What ``map_curve`` runs; every field lands in the file."""

    n: int = Field(100, ge=1, le=10_000, description="first N test images (the originally-correct ones are attacked)")
    fractions: tuple[float, ...] = Field(
        (0.25, 0.5, 1.0, 2.0), min_length=1, max_length=12, description="budgets as multiples of the threat model's ε"
    )
    explainer: str = Field("saliency", description="the map attacked and compared (a differentiable explainer)")
    steps: int = Field(50, ge=1, le=1000, description="attack iterations at each budget")
    k_fraction: float = Field(0.1, gt=0.0, le=1.0, description="k of the top-k attack and metric, as a share of pixels")
    surrogate_beta: float | None = Field(
        10.0, gt=0.0, le=1e4, description="Softplus beta of the attack's surrogate net (None: the ReLU net itself)"
    )
    batch_size: int = Field(100, ge=1, le=10_000, description="images attacked at once (memory)")
    seed: int = Field(0, ge=0, le=2**31 - 1)


def curve_attack(eps: float, k: int, settings: MapCurveSettings, explainer_params: dict | None = None) -> TopKAttack:
    """The curve's top-k attack at budget ``eps``: ``settings.steps`` signed steps of 2.5 eps / steps on the top ``k``
    pixels of the map of ``settings.explainer`` (with ``explainer_params``, e.g. {"score": "centered_logit"})."""
    s = settings
    return TopKAttack(eps=eps, steps=s.steps, step_size=min(1.0, 2.5 * eps / s.steps), k=k, explainer=s.explainer,
                      explainer_params=explainer_params or {}, surrogate_beta=s.surrogate_beta,
                      seed=s.seed)  # fmt: skip


def map_curve(model: nn.Module, x: Tensor, y: Tensor, eps: float, settings: MapCurveSettings) -> dict[str, Any]:
    """The curve on (x, y) for a model in eval mode: ε = 0 (the clean map, similarity 1), then each fraction of
    ``eps``."""
    s = settings
    with torch.no_grad():
        correct = model(x).argmax(1) == y
    xs, ys = x[correct], y[correct]
    k = max(1, round(s.k_fraction * x.shape[-2] * x.shape[-1]))
    explainer = EXPLAINERS.create(s.explainer, {})
    budgets = sorted({round(min(1.0, eps * f), 6) for f in s.fractions if f > 0})
    topk, topk_std, spearman, kept = [1.0], [0.0], [1.0], [1.0]
    clean = [saliency_map(explainer.explain(model, xs[b], ys[b])) for b in batches(len(xs), s.batch_size)]
    for e in budgets:
        attack = curve_attack(e, k, s)
        parts: list[tuple[Tensor, Tensor, Tensor]] = []
        for b, before in zip(batches(len(xs), s.batch_size), clean, strict=True):
            x_adv = attack.perturb(model, xs[b], ys[b])
            after = saliency_map(explainer.explain(model, x_adv, ys[b]))
            with torch.no_grad():
                same = model(x_adv).argmax(1) == ys[b]
            flat_a, flat_b = before.flatten(1), after.flatten(1)
            parts.append((topk_intersection(flat_a, flat_b, k), spearman_rho(flat_a, flat_b), same))
        scores = torch.cat([p[0] for p in parts])
        topk.append(_mean(scores))
        topk_std.append(float(scores.std()) if scores.numel() > 1 else float("nan"))
        spearman.append(_mean(torch.cat([p[1] for p in parts])))
        kept.append(_mean(torch.cat([p[2] for p in parts]).float()))
    return {"eps": [0.0, *budgets], "topk_intersection": topk, "topk_std": topk_std, "spearman": spearman,
            "label_kept": kept, "k": k,
            "n_eval": int(len(x)), "n_attacked": int(len(xs))}  # fmt: skip


def _mean(values: Tensor) -> float:
    return float(values.mean()) if values.numel() else float("nan")


def write_map_curve(
    model_dir: str | Path,
    data_dir: str | Path | None = None,
    settings: MapCurveSettings | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """The curve of a stored model on the first test images of its dataset, written to ``map_curve.json`` beside its
    card (or ``out``); ε is the threat model's (the dataset's convention for a natural model)."""
    s = settings or MapCurveSettings()
    start = time.perf_counter()
    model, card = load_model(model_dir)
    data = load_dataset(card.dataset, "test", data_dir=data_dir)
    if list(data.shape) != list(card.input_size):
        raise IncompatibleError(f"{card.id} expects images {card.input_size}, the test data has {list(data.shape)}")
    n = min(len(data), s.n)
    x, y = data.images[:n].float().div_(255.0), data.labels[:n]
    eps = threat_defaults(card, EvalSettings()).eps
    result = {"id": card.id, "attack": "topk", "threat_eps": eps, **map_curve(model, x, y, eps, s),
              "settings": s.model_dump(mode="json"), "data_source": data.source,
              "hardware": hardware(torch.device("cpu")),
              "torch_threads": torch.get_num_threads(), "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    path = Path(out) if out else Path(model_dir) / MAP_CURVE
    path.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s (%.0f s)", path, result["seconds"])
    return result
