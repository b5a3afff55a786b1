"""Attribution robustness under RAR's evaluation protocol (Chen et al. 2019, arXiv:1905.09957; methods.md §4.1).

IG maps (zero baseline, right Riemann sum), |.| summed over channels; the Ghorbani top-k attack through the IG path
on a Softplus surrogate, only label-preserving iterates eligible; several restarts, and per example the restart with
the smallest Kendall tau counts. Only originally-correct examples are attacked. Reported: top-k intersection ("IN"),
Kendall tau ("CO"), Spearman.

Deviation: RAR's restarts all start at x (deterministic for top-k, so identical); ours start the 2nd and later
restarts at random points of the ball, which can only make the attack stronger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.attacks.topk import TopKAttack
from explainlab.explain import saliency_map
from explainlab.explain.base import scored_model
from explainlab.explain.integrated_gradients import IntegratedGradients
from explainlab.metrics.functional import kendall_tau, spearman_rho, topk_intersection
from explainlab.params import FloatOrFraction, Params


class RARProtocol(Params):
    """The protocol's settings; defaults are RAR's MNIST row."""

    eps: FloatOrFraction = Field(0.3, gt=0.0, le=1.0, description="L-inf budget")
    step_size: FloatOrFraction = Field(0.01, gt=0.0, le=1.0, description="signed step size")
    steps: int = Field(100, ge=1, le=1000, description="attack iterations per restart")
    restarts: int = Field(3, ge=1, le=10, description="restarts; per example the one with the lowest Kendall counts")
    k_attack: int = Field(200, ge=1, le=100_000, description="top-k set the attack pushes mass off")
    k_eval: int = Field(100, ge=1, le=100_000, description="k of the reported top-k intersection")
    ig_steps: int = Field(100, ge=1, le=1024, description="IG path points of the evaluated maps")
    attack_ig_steps: int = Field(100, ge=1, le=1024, description="IG path points the attack differentiates through")
    ig_path_start: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="IG's path starts this fraction of the way from the zero baseline to x, in the evaluated maps and "
        "in the attack (0: IG proper, RAR's; near 1: the gradient near x only)",
    )
    surrogate_beta: float = Field(10.0, gt=0.0, le=1e4, description="Softplus beta of the surrogate net")
    batch_size: int = Field(50, ge=1, le=10_000, description="examples attacked at once (memory)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the random restarts")
    centered_logit: bool = Field(
        False,
        description="explain f_y - mean_j f_j (the same softmax) instead of the logit f_y: a component shared by every "
        "logit, which changes no prediction, then cannot make the maps look stable (RAR explains the logit)",
    )


PRESETS: dict[str, RARProtocol] = {
    "mnist": RARProtocol(),
    "fashion_mnist": RARProtocol(eps=0.1, k_attack=100),
    "cifar10": RARProtocol(eps=8 / 255, step_size=1 / 255, k_attack=100),
}


@dataclass
class AttributionRobustness:
    """Per-example results over the attacked (originally-correct) examples."""

    attacked: Tensor  # (N_total,) bool: originally correct, hence attacked
    topk_intersection: Tensor  # (N_attacked,)
    kendall: Tensor  # (N_attacked,)
    spearman: Tensor  # (N_attacked,)
    label_preserved: Tensor  # (N_attacked,) bool
    x_adv: Tensor  # (N_attacked, C, H, W)

    def summary(self) -> dict[str, Any]:
        n = int(self.attacked.sum())
        mean = lambda t: float(t.float().mean()) if n else float("nan")  # noqa: E731
        return {
            "topk_intersection": mean(self.topk_intersection),
            "kendall": mean(self.kendall),
            "spearman": mean(self.spearman),
            "label_preserved": mean(self.label_preserved),
            "n_attacked": n,
            "n_eval": int(self.attacked.numel()),
        }


def attribution_robustness(
    model: nn.Module, x: Tensor, y: Tensor, protocol: RARProtocol | None = None
) -> AttributionRobustness:
    """Run the protocol on (x, y); the model should be in eval mode."""
    p = protocol or RARProtocol()
    model = scored_model(model, "centered_logit" if p.centered_logit else "logit")
    with torch.no_grad():
        attacked = model(x).argmax(1) == y
    xs, ys = x[attacked], y[attacked]
    parts: list[tuple[Tensor, ...]] = []
    for start in range(0, xs.shape[0], p.batch_size):
        parts.append(_attack_batch(model, xs[start : start + p.batch_size], ys[start : start + p.batch_size], p))
    if parts:
        tki, kendall, spearman, keeps, x_adv = (torch.cat(t) for t in zip(*parts, strict=True))
    else:
        empty = torch.empty(0)
        tki = kendall = spearman = empty
        keeps, x_adv = empty.bool(), x[:0]
    return AttributionRobustness(attacked, tki, kendall, spearman, keeps, x_adv)


def _attack_batch(model: nn.Module, x: Tensor, y: Tensor, p: RARProtocol) -> tuple[Tensor, ...]:
    evaluate = IntegratedGradients(steps=p.ig_steps, rule="riemann_right", path_start=p.ig_path_start)
    clean = saliency_map(evaluate.explain(model, x, y))  # (N, H, W)
    best_kendall = torch.full((x.shape[0],), float("inf"))
    best = (torch.ones(x.shape[0]), best_kendall.clone(), torch.ones(x.shape[0]), x.clone())
    for restart in range(p.restarts):
        attack = TopKAttack(
            eps=p.eps, step_size=p.step_size, steps=p.steps, k=p.k_attack, restarts=1, random_start=restart > 0,
            seed=p.seed + restart, explainer="integrated_gradients",
            explainer_params={"steps": p.attack_ig_steps, "rule": "riemann_right", "path_start": p.ig_path_start},
            surrogate_beta=p.surrogate_beta,
        )  # fmt: skip
        x_adv = attack.perturb(model, x, y)
        adv = saliency_map(evaluate.explain(model, x_adv, y))
        kendall = kendall_tau(clean, adv)
        better = kendall < best[1]
        values = (topk_intersection(clean, adv, p.k_eval), kendall, spearman_rho(clean, adv), x_adv)
        best = tuple(torch.where(better.view(-1, *[1] * (v.ndim - 1)), v, b) for v, b in zip(values, best, strict=True))
    with torch.no_grad():
        keeps = model(best[3]).argmax(1) == y
    return best[0], best[1], best[2], keeps, best[3]
