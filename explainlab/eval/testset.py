"""The lab's comparison over many test images instead of one (design.md §5, Jobs: dataset evaluations): each model's
clean accuracy, its accuracy under the attack, and how far its map moves between the clean and the attacked image.

The protocol follows the zoo's reports (``eval.benchmark``): only originally-correct images are attacked (a clean
mistake counts as broken), each with its true label, and the maps are compared on those images, each explaining the
true class before and after the attack as RAR's protocol does (Chen et al. 2019). With ``transfer_from`` every image
is crafted once on that model and every model is evaluated on the same adversarial images.

``attack_images`` handles one batch and returns per-image outcomes, ``evaluate_images`` runs every batch (the CLI's
``explainlab test-images``; the server's job submits batches to its compute worker itself); ``summarize`` turns the
outcomes gathered so far into means with two standard errors, so a caller can report after every batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from explainlab.attacks.base import Attack
from explainlab.compare import default_k
from explainlab.eval.benchmark import batches
from explainlab.explain import Explainer, saliency_map
from explainlab.metrics.functional import spearman_rho, ssim, topk_intersection

OUTCOMES = ("correct", "robust", "topk_intersection", "spearman", "ssim", "linf")  # per image, per model
MAP_METRICS = ("topk_intersection", "spearman", "ssim")


@torch.no_grad()
def _labels(model: nn.Module, x: Tensor) -> Tensor:
    return model(x).argmax(1)


def _maps(model: nn.Module, x: Tensor, y: Tensor, explainer: Explainer) -> Tensor:
    return saliency_map(explainer.explain(model, x, y).float()).double()


CHUNK = 16  # images attacked and explained together: a run's numbers depend on these chunks, never on its batches


def attack_images(
    models: Sequence[nn.Module],
    x: Tensor,
    y: Tensor,
    attacker: Attack,
    explainer: Explainer,
    *,
    k: int | None = None,
    transfer_from: int | None = None,
    first: int = 0,
) -> list[dict[str, list]]:
    """Images ``x`` (N, C, H, W) in [0, 1] with true labels ``y``, the run's images ``first..first+N-1``: per model,
    per image, whether it was correct, whether it still is after the attack, and (on originally-correct images, else
    None) top-k intersection, Spearman and SSIM between the clean and the attacked map and the perturbation's L-inf
    size. Every ``CHUNK`` images (counted from the run's first) are attacked together with a generator seeded by the
    attack's seed and the chunk, so the outcomes are the same however a caller splits the run (``first`` a multiple
    of ``CHUNK``)."""
    if first % CHUNK:
        raise ValueError(f"first: a multiple of {CHUNK} (the chunks are counted from the run's first image)")
    out: list[dict[str, list]] = [{} for _ in models]
    for s in batches(len(y), CHUNK):
        seed = int(getattr(attacker.params, "seed", 0)) * 1_000_003 + first + s.start
        chunk = _attack_chunk(models, x[s], y[s], attacker, explainer, k, transfer_from, seed)
        out = [extend(o, c) for o, c in zip(out, chunk, strict=True)]
    return out


def _attack_chunk(
    models: Sequence[nn.Module], x: Tensor, y: Tensor, attacker: Attack, explainer: Explainer, k: int | None,
    transfer_from: int | None, seed: int,
) -> list[dict[str, list]]:  # fmt: skip
    k = default_k(*x.shape[-2:]) if k is None else min(k, x.shape[-2] * x.shape[-1])

    def perturb(model: nn.Module, xs: Tensor, ys: Tensor) -> Tensor:
        return attacker.perturb(model, xs, ys, generator=torch.Generator(device=x.device).manual_seed(seed))

    crafted = None if transfer_from is None else perturb(models[transfer_from], x, y)
    out = []
    for model in models:
        correct = _labels(model, x) == y
        idx = correct.nonzero().squeeze(1)
        robust = torch.zeros_like(correct)
        scores = {name: [None] * len(y) for name in (*MAP_METRICS, "linf")}
        if len(idx):
            xs, ys = x[idx], y[idx]
            x_adv = crafted[idx] if crafted is not None else perturb(model, xs, ys)
            robust[idx] = _labels(model, x_adv) == ys
            before, after = _maps(model, xs, ys, explainer), _maps(model, x_adv, ys, explainer)
            values = {
                "topk_intersection": topk_intersection(before, after, k),
                "spearman": torch.nan_to_num(spearman_rho(before, after), nan=0.0),  # a constant map has no ranks
                "ssim": ssim(before, after),
                "linf": (x_adv - xs).flatten(1).abs().amax(1),
            }
            for name, per_image in values.items():
                for i, v in zip(idx.tolist(), per_image.tolist(), strict=True):
                    scores[name][i] = float(v)
        out.append({"correct": correct.tolist(), "robust": robust.tolist(), **scores})
    return out


def extend(gathered: dict[str, list], batch: dict[str, list]) -> dict[str, list]:
    """The outcomes of the images so far followed by one more batch's (a new dict; the inputs are not changed)."""
    return {name: [*gathered.get(name, []), *batch[name]] for name in OUTCOMES}


def mean_2se(values: Sequence[float | bool | None]) -> dict[str, float | int | None]:
    v = [float(x) for x in values if x is not None]
    n = len(v)
    if not n:
        return {"mean": None, "se2": None, "n": 0}
    mean = sum(v) / n
    se2 = 2 * math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1) / n) if n > 1 else None
    return {"mean": mean, "se2": se2, "n": n}


def format_mean_2se(stat: dict, scale: float = 100.0, digits: int = 1, missing: str = "-") -> str:
    """A ``mean_2se`` summary as text, ``"12.3 ± 0.4"`` (scaled: 100 for percent); ``missing`` when it has no mean."""
    if stat["mean"] is None:
        return missing
    return f"{scale * stat['mean']:.{digits}f} ± {scale * (stat['se2'] or 0):.{digits}f}"


def summarize(outcomes: dict[str, list]) -> dict[str, Any]:
    """Means with two standard errors: accuracies over every image, the attack's success over the originally-correct
    ones, the map metrics over those too, and the largest perturbation seen (a constraint anyone can check)."""
    correct, robust = outcomes["correct"], outcomes["robust"]
    broken = [not r for c, r in zip(correct, robust, strict=True) if c]
    linf = [v for v in outcomes["linf"] if v is not None]
    return {
        "n": len(correct),
        "clean_accuracy": mean_2se(correct),
        "accuracy_under_attack": mean_2se(robust),
        "attack_success": mean_2se(broken),
        **{name: mean_2se(outcomes[name]) for name in MAP_METRICS},
        "max_linf": max(linf) if linf else None,
    }


def evaluate_images(
    models: Sequence[nn.Module],
    x: Tensor,
    y: Tensor,
    attacker: Attack,
    explainer: Explainer,
    *,
    k: int | None = None,
    transfer_from: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, list]]:
    """``attack_images`` over every image of ``x``; per model, every image's outcomes (``summarize`` each for the
    means). ``progress`` is called with the number of images done after every 4 chunks."""
    gathered: list[dict[str, list]] = [{} for _ in models]
    for s in batches(len(y), 4 * CHUNK):
        batch = attack_images(models, x[s], y[s], attacker, explainer, k=k, transfer_from=transfer_from, first=s.start)
        gathered = [extend(g, o) for g, o in zip(gathered, batch, strict=True)]
        if progress is not None:
            progress(s.stop)
    return gathered
