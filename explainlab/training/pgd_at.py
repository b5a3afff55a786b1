"""PGD adversarial training (Madry et al.), optionally mixed with the clean loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.training.base import AdversarialParams, LossParts, TrainingMethod


class PGDAT(TrainingMethod):
    """Madry et al. 2018 (arXiv:1706.06083): min_theta E max_{||d||_inf <= eps} CE(f(x + d), y), inner max by PGD
    with a random start; ``clean_weight`` > 0 adds w * CE(f(x), y) (the AGST-module variant, methods.md §5.0)."""

    name = "pgd_at"
    title = "PGD adversarial training"
    citation = "Madry, Makelov, Schmidt, Tsipras, Vladu 2018, arXiv:1706.06083"

    class Params(AdversarialParams):
        clean_weight: float = Field(0.0, ge=0.0, le=10.0, description="weight of the clean CE term (0 = Madry)")

    params: Params

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        p = self.params
        x_adv = self.adversarial(model, x, y, p.eps, p.steps, p.step_size)
        if p.clean_weight == 0:
            adv = F.cross_entropy(model(x_adv), y)
            return LossParts(adv, {"adv_ce": float(adv.detach())})
        logits = model(torch.cat([x, x_adv]))
        clean, adv = F.cross_entropy(logits[: len(x)], y), F.cross_entropy(logits[len(x) :], y)
        total = adv + p.clean_weight * clean
        return LossParts(total, {"adv_ce": float(adv.detach()), "clean_ce": float(clean.detach())})
