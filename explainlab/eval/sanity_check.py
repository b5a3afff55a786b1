"""The model parameter randomization test for attribution maps (Adebayo et al. 2018, "Sanity checks for saliency
maps", NeurIPS, arXiv:1810.03292): a map that explains the model should change when the model's learned weights are
replaced by random ones. Cascading: re-initialize the layers one unit at a time from the output down, keeping the
earlier ones random, and compare each map with the trained model's; independent: one unit at a time, the rest trained.

Units are the net's top-level children with parameters, a ``Sequential`` split into its items and a normalization
layer joined to the unit before it (SmallCNN: fc2, fc1, conv2, conv1; ResNet-20: fc, layer3.2, ... layer1.0,
conv1+bn1); registration order is taken as forward order. Re-initialization is each layer's own
``reset_parameters`` (PyTorch's default initialization; BatchNorm also forgets its running statistics), seeded, on a
copy: the model passed in is never changed. Every stage explains the trained model's predicted class, so a map's
change comes from the weights, not from a new target. Similarity to the trained model's map: Spearman's rank
correlation of the absolute maps and of the signed ones, SSIM of the absolute maps (each min-max scaled) and the
top-k intersection; the same rank correlation between the absolute map and the input's intensity says how much of the
map the image alone could draw.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.eval.testset import mean_2se
from explainlab.explain import Explainer
from explainlab.metrics.functional import spearman_rho, ssim, topk_intersection
from explainlab.nets import Normalized
from explainlab.params import Params

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)
METRICS = ("spearman_abs", "spearman_signed", "ssim", "topk_intersection")


class SanityParams(Params):
    """How the weights are randomized and how the maps are compared."""

    order: Literal["cascading", "independent"] = Field(
        "cascading", description="cascading: randomize from the output down, cumulatively; independent: one unit alone"
    )
    top_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="share of pixels in the top-k intersection")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the random weights (unit i uses seed + i)")
    batch: int = Field(64, ge=1, le=4096, description="images explained at once (memory)")


@dataclass(frozen=True)
class LayerUnit:
    """One randomization step: a name for people and the qualified names of its modules inside the model."""

    name: str
    modules: tuple[str, ...]


def randomization_units(model: nn.Module) -> list[LayerUnit]:
    """The units of ``model`` (a ``Normalized`` net or a bare one), output first: the cascade's order."""
    net, prefix = (model.net, "net.") if isinstance(model, Normalized) else (model, "")
    units: list[LayerUnit] = []
    for name, child in net.named_children():
        items = list(child.named_children()) if isinstance(child, nn.Sequential) else [("", child)]
        for sub, module in items:
            if next(module.parameters(), None) is None:
                continue
            short = f"{name}.{sub}" if sub else name
            if isinstance(module, NORMS) and units:
                last = units[-1]
                units[-1] = LayerUnit(f"{last.name}+{short}", (*last.modules, prefix + short))
            else:
                units.append(LayerUnit(short, (prefix + short,)))
    if not units and next(net.parameters(), None) is not None:
        units.append(LayerUnit("net", (prefix.rstrip(".") or "",)))
    return units[::-1]


def reinitialize(model: nn.Module, unit: LayerUnit, seed: int) -> None:
    """Replace the unit's parameters (and normalization statistics) by freshly initialized ones, seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for qualified in unit.modules:
            for module in model.get_submodule(qualified).modules():
                if callable(getattr(module, "reset_parameters", None)):
                    module.reset_parameters()
                else:  # a custom layer without an initializer: Gaussian at the trained tensor's own scale
                    for p in module.parameters(recurse=False):
                        with torch.no_grad():
                            p.normal_(0.0, float(p.std()) if p.numel() > 1 else 0.01)


def randomized_models(model: nn.Module, params: SanityParams) -> Iterator[tuple[LayerUnit, nn.Module]]:
    """Yield (unit, model with that unit randomized): cumulatively from the output down, or one unit alone. The
    copies are made and re-initialized on the CPU (one seeded generator), then moved to the model's device."""
    device = next(model.parameters()).device
    master = copy.deepcopy(model).cpu()
    for i, unit in enumerate(randomization_units(model)):
        work = master if params.order == "cascading" else copy.deepcopy(master)
        reinitialize(work, unit, params.seed + i)
        yield unit, (work if device.type == "cpu" else copy.deepcopy(work).to(device))


@dataclass
class StageMaps:
    """The maps of one stage for a batch of images: which units were random, the maps and the model's predictions."""

    name: str  # "trained", or the unit randomized at this stage
    randomized: list[str]  # every unit random at this stage
    maps: Tensor  # (N, H, W) absolute maps
    signed: Tensor  # (N, H, W) signed maps (channels summed)
    predicted: Tensor  # (N,) the stage model's predicted class
    explained: Tensor  # (N,) the class each map explains
    similarity: dict[str, Tensor] = field(default_factory=dict)  # METRICS -> (N,), against the trained stage


def _maps(model: nn.Module, x: Tensor, explainer: Explainer, label: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    attribution = explainer.explain(model, x, label).detach()
    with torch.no_grad():
        predicted = model(x).argmax(1)
    return attribution.abs().sum(1).float(), attribution.sum(1).float(), predicted, label


def similarity(trained: StageMaps, other: StageMaps, k: int) -> dict[str, Tensor]:
    """Each METRIC between the trained stage's maps and another stage's, per image; NaN where a map is constant."""
    return {
        "spearman_abs": spearman_rho(trained.maps, other.maps),
        "spearman_signed": spearman_rho(trained.signed, other.signed),
        "ssim": ssim(trained.maps, other.maps),
        "topk_intersection": topk_intersection(trained.maps, other.maps, k),
    }


def top_k(x: Tensor, params: SanityParams) -> int:
    return max(1, round(params.top_fraction * x.shape[-2] * x.shape[-1]))


def sanity_check(
    model: nn.Module, x: Tensor, explainer: Explainer, params: SanityParams, target: Tensor | None = None
) -> list[StageMaps]:
    """The maps of images (N, C, H, W) in [0, 1] for the trained model and after each randomization step, every one
    explaining ``target`` (default: the trained model's prediction), with their similarity to the trained maps."""
    if x.ndim != 4:
        raise ValueError(f"sanity_check takes images (N, C, H, W); got {tuple(x.shape)}")
    if target is None:
        with torch.no_grad():
            target = model(x).argmax(1)
    k = top_k(x, params)
    trained = StageMaps("trained", [], *_maps(model, x, explainer, target))
    trained.similarity = similarity(trained, trained, k)
    stages, done = [trained], []
    for unit, randomized in randomized_models(model, params):
        done = [*done, unit.name] if params.order == "cascading" else [unit.name]
        stage = StageMaps(unit.name, done, *_maps(randomized.eval(), x, explainer, target))
        stage.similarity = similarity(trained, stage, k)
        stages.append(stage)
    return stages


def other_class(model: nn.Module, x: Tensor, explainer: Explainer, trained: StageMaps, k: int) -> StageMaps:
    """The trained model's maps for its runner-up class, compared with the trained maps: a map that explains the
    decision should differ between classes (a map that does not is drawn by the input, not by the class)."""
    with torch.no_grad():
        runner_up = model(x).topk(2, dim=1).indices[:, 1]
    stage = StageMaps("other class", [], *_maps(model, x, explainer, runner_up))
    stage.similarity = similarity(trained, stage, k)
    return stage


def input_likeness(x: Tensor, maps: Tensor) -> Tensor:
    """Spearman's rho between each absolute map (N, H, W) and its image's intensity (channels summed): (N,)."""
    return spearman_rho(maps, x.sum(1))


UNCHANGED = 0.5  # a map that keeps at least this share of its top-k pixels has not changed much (display flags)
INPUT_LIKE = 0.9  # a rank correlation with the image's own intensity at least this high: the image draws the map


def warning_flags(
    stage_topk: Sequence[tuple[str, float | None]], other_topk: float | None, input_spearman: float | None, order: str
) -> list[dict[str, Any]]:
    """Signs that a map explains the input more than the model, from the top-k intersections of each stage (output
    first, trained stage left out) and of the runner-up class's map, and the input likeness. Cascading: with every
    unit random the map still keeps >= UNCHANGED of its top pixels (``random_model_map``), or, failing that, it does
    with every unit random but the first (``first_layer_map``). Any order: the runner-up class's map keeps as much
    (``class_insensitive``); the map ranks pixels like the image (>= INPUT_LIKE, ``input_like``). Thresholds for
    display, not a test."""
    flags: list[dict[str, Any]] = []
    if order == "cascading" and stage_topk:
        last_name, last = stage_topk[-1]
        if last is not None and last >= UNCHANGED:
            flags.append({"code": "random_model_map", "value": last})
        elif len(stage_topk) >= 2 and (kept := stage_topk[-2][1]) is not None and kept >= UNCHANGED:
            flags.append({"code": "first_layer_map", "value": kept, "randomized_to": stage_topk[-2][0],
                          "kept_layer": last_name})  # fmt: skip
    if other_topk is not None and other_topk >= UNCHANGED:
        flags.append({"code": "class_insensitive", "value": other_topk})
    if input_spearman is not None and input_spearman >= INPUT_LIKE:
        flags.append({"code": "input_like", "value": input_spearman})
    return flags


def number_or_none(t: Tensor | float) -> float | None:
    """A 0-dim tensor or float as a float, NaN (a metric of a constant map) as None."""
    v = float(t)
    return None if v != v else v


def check_images(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    explainer: Explainer,
    params: SanityParams,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Per image: its label, the trained prediction, the input likeness of the trained map, the similarity of the
    runner-up class's map, and per stage the similarity to the trained map and whether that stage's model still
    predicts the trained class."""
    rows: list[dict[str, Any]] = []
    for start in range(0, x.shape[0], params.batch):
        xb = x[start : start + params.batch]
        stages = sanity_check(model, xb, explainer, params)
        likeness = input_likeness(xb, stages[0].maps)
        runner_up = other_class(model, xb, explainer, stages[0], top_k(xb, params))
        trained_label = stages[0].predicted
        for i in range(xb.shape[0]):
            rows.append({
                "label": int(y[start + i]),
                "predicted": int(trained_label[i]),
                "input_spearman": number_or_none(likeness[i]),
                "other_class": {m: number_or_none(runner_up.similarity[m][i]) for m in METRICS},
                "stages": [{"name": s.name, "same_prediction": bool(s.predicted[i] == trained_label[i]),
                            **{m: number_or_none(s.similarity[m][i]) for m in METRICS}} for s in stages],
            })  # fmt: skip
        if progress is not None:
            progress(len(rows))
    return rows


def summarize_checks(rows: Sequence[dict[str, Any]], order: str = "cascading") -> dict[str, Any]:
    """Per stage, each similarity's mean with two standard errors over the images (constant maps left out and
    counted), and the share of images whose prediction the stage's model keeps; the input likeness and the
    runner-up class's similarity likewise; and the warning flags of those means."""
    if not rows:
        return {"n": 0, "stages": [], "input_spearman": mean_2se([]), "other_class": {}, "flags": []}
    stages = []
    for j, first in enumerate(rows[0]["stages"]):
        column = [r["stages"][j] for r in rows]
        stages.append({
            "name": first["name"],
            **{m: mean_2se([c[m] for c in column]) for m in METRICS},
            "constant_maps": sum(c["spearman_abs"] is None for c in column),
            "same_prediction": mean_2se([c["same_prediction"] for c in column]),
        })  # fmt: skip
    summary = {
        "n": len(rows),
        "stages": stages,
        "input_spearman": mean_2se([r["input_spearman"] for r in rows]),
        "other_class": {m: mean_2se([r["other_class"][m] for r in rows]) for m in METRICS},
    }
    return {**summary, "flags": summary_flags(summary, order)}


def summary_flags(summary: dict[str, Any], order: str) -> list[dict[str, Any]]:
    """``warning_flags`` of a summary's means (derived data: a stored summary's flags are recomputed from it)."""
    topk = [(s["name"], s["topk_intersection"]["mean"]) for s in summary["stages"][1:]]
    other = (summary.get("other_class") or {}).get("topk_intersection") or {}
    return warning_flags(topk, other.get("mean"), (summary.get("input_spearman") or {}).get("mean"), order)
