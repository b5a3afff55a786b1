"""PGD (L-inf and L2) with random start and restarts, projecting around the clean input."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.attacks.base import Attack, AttackParams
from explainlab.attacks.engine import iterate
from explainlab.attacks.objectives import Loss, loss_objective


class PGD(Attack):
    """Madry et al. 2018 (arXiv:1706.06083): x <- Proj_{B(x0, eps) ∩ [0,1]}(x + a * sign(grad_x L)).

    Returns, per example, the strongest iterate over all steps and restarts (highest classification margin).
    """

    name = "pgd"
    title = "PGD"
    citation = "Madry, Makelov, Schmidt, Tsipras, Vladu 2018, arXiv:1706.06083"
    targeted = True

    class Params(AttackParams):
        steps: int = Field(40, ge=1, le=1000, description="iterations per restart")
        step_size: float = Field(0.01, gt=0.0, le=2.0, description="step size (L-inf: per pixel; L2: per image)")
        random_start: bool = Field(True, description="start from a uniform random point in the ball")
        restarts: int = Field(
            1, ge=1, le=20, description="random restarts; an example counts as broken if any breaks it"
        )
        loss: Loss = Field("ce", description="loss to ascend: cross-entropy or DLR")
        keep: Literal["best", "last"] = Field("best", description="return the best iterate or the last one")

    params: Params

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None, gen: torch.Generator) -> Tensor:
        p = self.params
        x_adv, _ = iterate(
            loss_objective(model, y, p.loss, target), x, self.threat,
            steps=p.steps, step_size=p.step_size, random_start=p.random_start, restarts=p.restarts,
            generator=gen, keep=p.keep,
        )  # fmt: skip
        return x_adv
