"""FGSM: one signed-gradient step of size eps (L2: one normalized-gradient step)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.attacks.base import Attack, AttackParams
from explainlab.attacks.engine import iterate
from explainlab.attacks.objectives import loss_objective


class FGSM(Attack):
    """Goodfellow, Shlens, Szegedy 2015 (arXiv:1412.6572): x' = clip(x + eps * sign(grad_x CE(f(x), y)))."""

    name = "fgsm"
    title = "FGSM"
    citation = "Goodfellow, Shlens, Szegedy 2015, arXiv:1412.6572"
    targeted = True

    class Params(AttackParams):
        random_start: bool = Field(False, description="uniform random start (FGSM-RS, Wong et al. 2020)")
        step_size: float | None = Field(
            None, gt=0.0, le=2.0, description="step size; None = eps (1.25 eps is usual with a random start)"
        )

    params: Params

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None, gen: torch.Generator) -> Tensor:
        p = self.params
        x_adv, _ = iterate(
            loss_objective(model, y, "ce", target), x, self.threat,
            steps=1, step_size=p.step_size or p.eps, random_start=p.random_start, restarts=1,
            generator=gen, keep="last",
        )  # fmt: skip
        return x_adv
