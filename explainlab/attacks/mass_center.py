"""Ghorbani mass-center attack: move the saliency map's centre of mass as far as possible."""

from __future__ import annotations

from torch import Tensor

from explainlab.attacks.explanation_base import AttackContext, ExplanationAttack
from explainlab.metrics.functional import center_of_mass, center_of_mass_shift


class MassCenterAttack(ExplanationAttack):
    """Ghorbani, Abid, Zou 2019 (arXiv:1710.10547): maximize D(x) = ||C(x) - C(x0)||^2, C = saliency-weighted
    centre of the map; keep the label-preserving iterate with the largest shift (pixels)."""

    name = "mass_center"
    title = "Mass-center explanation attack"
    citation = "Ghorbani, Abid, Zou 2019, Interpretation of Neural Networks is Fragile, arXiv:1710.10547"

    def dissimilarity(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return (center_of_mass(s) - center_of_mass(ctx.clean_map)).pow(2).sum(1)

    def criterion(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return center_of_mass_shift(s, ctx.clean_map)
