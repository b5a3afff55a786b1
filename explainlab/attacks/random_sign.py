"""The random-sign baseline: random signed steps of the same size, to show what noise alone does to a map."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from explainlab.attacks.explanation_base import AttackContext, ExplanationAttack
from explainlab.metrics.functional import topk_intersection


class RandomSignAttack(ExplanationAttack):
    """Ghorbani, Abid, Zou 2019 (arXiv:1710.10547) baseline: x <- Proj(x + a * sign(z)), z ~ N(0, I) each step;
    keep the label-preserving iterate with the lowest top-k intersection (same criterion as the top-k attack)."""

    name = "random_sign"
    title = "Random-sign baseline"
    citation = "Ghorbani, Abid, Zou 2019, Interpretation of Neural Networks is Fragile, arXiv:1710.10547"

    def _direction(self, model: nn.Module, x_adv: Tensor, ctx: AttackContext, gen: torch.Generator) -> Tensor:
        return torch.randn(x_adv.shape, generator=gen, device=x_adv.device, dtype=x_adv.dtype)

    def dissimilarity(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return torch.zeros(s.shape[0], device=s.device)  # unused: directions are random

    def criterion(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return -topk_intersection(s, ctx.clean_map, self.params.k)
