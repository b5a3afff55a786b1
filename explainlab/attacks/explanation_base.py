"""Shared machinery of the explanation attacks (Ghorbani et al. 2019; RAR's evaluation; Dombrowski et al. 2019).

Every explanation attack explains and keeps the class predicted on the clean input, y_hat = argmax f(x). Attack
directions are taken on a Softplus(beta) copy of the net (a ReLU net's gradient map is piecewise constant in x);
every iterate is then re-explained and re-classified on the real (ReLU) net, and only iterates whose label is still
y_hat are eligible. The attack returns the eligible iterate with the best criterion, or x itself if none is eligible
(ATEX's variant instead returns the last eligible iterate: ``keep``, ``reset_rejected``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import torch
from pydantic import Field, field_validator, model_validator
from torch import Tensor, nn

from explainlab.attacks.base import Attack, AttackParams
from explainlab.attacks.engine import iterate
from explainlab.attacks.objectives import margin
from explainlab.errors import IncompatibleError
from explainlab.explain import EXPLAINERS, Explainer, normalize_map, saliency_map
from explainlab.metrics.functional import topk_mask
from explainlab.nets.smoothing import softplus_relus

LABEL_MARGIN = 1e-3  # an iterate is eligible only if y_hat wins by this logit margin (robust to float noise)


class ExplanationAttackParams(AttackParams):
    steps: int = Field(100, ge=1, le=2000, description="iterations per restart")
    step_size: float = Field(0.01, gt=0.0, le=1.0, description="signed step size in pixel units")
    restarts: int = Field(1, ge=1, le=10, description="restarts (random start from the second one on)")
    random_start: bool = Field(False, description="random start for the first restart too")
    k: int = Field(100, ge=1, le=100_000, description="top-k pixels the attack and its criterion use")
    explainer: str = Field("saliency", description="differentiable explainer attacked (registry key)")
    explainer_params: dict[str, Any] = Field(default_factory=dict, description="its params (e.g. {'steps': 32})")
    surrogate_beta: float | None = Field(
        10.0, gt=0.0, le=1e4, description="Softplus beta of the surrogate net for directions (None: the ReLU net)"
    )

    @field_validator("explainer")
    @classmethod
    def _differentiable(cls, name: str) -> str:
        if name not in EXPLAINERS or not EXPLAINERS[name].differentiable:
            raise ValueError(f"explainer must be a differentiable one: {differentiable_explainers()}, not {name!r}")
        return name

    @model_validator(mode="after")
    def _explainer_params_valid(self) -> Self:
        EXPLAINERS[self.explainer].Params(**self.explainer_params)  # raises ValidationError naming the bad field
        return self


def differentiable_explainers() -> list[str]:
    return [e.name for e in EXPLAINERS if e.differentiable]


@dataclass
class AttackContext:
    """What an objective knows about the clean input: its label, its map (on the ReLU net) and its top-k set."""

    x: Tensor  # (N, C, H, W)
    y_hat: Tensor  # (N,)
    clean_map: Tensor  # (N, H, W), mean 1
    topk: Tensor  # (N, H*W) bool
    extra: dict[str, Tensor]


class ExplanationAttack(Attack):
    """Base of label-preserving attacks on a saliency map; subclasses define ``dissimilarity`` and ``criterion``."""

    kind = "explanation"
    norms = ("linf", "l2")
    Params: ClassVar[type[AttackParams]] = ExplanationAttackParams
    params: ExplanationAttackParams
    # which iterate is returned (engine.iterate): the best eligible one, or (ATEX) the last one, with label flips
    # reset to the previous iterate so that the last one is always eligible
    keep: ClassVar[str] = "best"
    reset_rejected: ClassVar[bool] = False

    def __init__(self, params: AttackParams | None = None, **overrides: object) -> None:
        super().__init__(params, **overrides)
        explainer_cls = EXPLAINERS[self.params.explainer]
        self.explainer: Explainer = explainer_cls(explainer_cls.Params(**self.params.explainer_params))

    def saliency(self, model: nn.Module, x: Tensor, y: Tensor, create_graph: bool = False) -> Tensor:
        """Mean-1 per-pixel map of the attacked explainer: (N, H, W)."""
        return normalize_map(saliency_map(self.explainer.explain(model, x, y, create_graph=create_graph)))

    @abstractmethod
    def dissimilarity(self, s: Tensor, ctx: AttackContext) -> Tensor:
        """(N,) objective to ascend on the surrogate's map ``s``."""

    @abstractmethod
    def criterion(self, s: Tensor, ctx: AttackContext) -> Tensor:
        """(N,) how well the attack did on the real net's map (higher = better for the attacker)."""

    def context_extra(self, ctx: AttackContext) -> dict[str, Tensor]:
        return {}

    def _direction(self, model: nn.Module, x_adv: Tensor, ctx: AttackContext, gen: torch.Generator) -> Tensor:
        xr = x_adv.detach().requires_grad_(True)
        with softplus_relus(model, self.params.surrogate_beta):
            objective = self.dissimilarity(self.saliency(model, xr, ctx.y_hat, create_graph=True), ctx)
        (grad,) = torch.autograd.grad(objective.sum(), xr, allow_unused=True)
        return torch.zeros_like(xr) if grad is None else grad  # a map that does not depend on x cannot be moved

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None, gen: torch.Generator) -> Tensor:
        p = self.params
        if p.k > x.shape[-1] * x.shape[-2]:
            raise IncompatibleError(f"k={p.k} exceeds the {x.shape[-2]}x{x.shape[-1]} pixels of the map")
        with torch.no_grad():
            y_hat = model(x).argmax(1)
        clean = self.saliency(model, x, y_hat)
        ctx = AttackContext(x, y_hat, clean, topk_mask(clean, p.k), {})
        ctx.extra = self.context_extra(ctx)

        def objective(x_adv: Tensor, need_grad: bool) -> tuple[Tensor | None, Tensor]:
            with torch.no_grad():
                keeps = margin(model(x_adv), y_hat) < -LABEL_MARGIN
            score = self.criterion(self.saliency(model, x_adv, y_hat), ctx)
            score = torch.where(keeps, score, torch.full_like(score, float("-inf")))
            return (self._direction(model, x_adv, ctx, gen) if need_grad else None), score

        x_adv, _ = iterate(
            objective, x, self.threat,
            steps=p.steps, step_size=p.step_size, random_start=p.random_start, restarts=p.restarts,
            generator=gen, keep=self.keep, stop_score=None, reset_rejected=self.reset_rejected,
        )  # fmt: skip
        return x_adv
