"""Ghorbani targeted attack: pull saliency mass into a chosen image region while keeping the label."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from explainlab.attacks.explanation_base import AttackContext, ExplanationAttack, ExplanationAttackParams

Region = Literal["top_left", "top_right", "bottom_left", "bottom_right", "center", "border"]


def region_mask(region: Region, h: int, w: int, device: torch.device | None = None) -> Tensor:
    """(H, W) float mask of a named region: a quadrant, the central half, or the outer quarter-width frame."""
    m = torch.zeros(h, w, device=device)
    hh, hw = h // 2, w // 2
    if region == "top_left":
        m[:hh, :hw] = 1
    elif region == "top_right":
        m[:hh, hw:] = 1
    elif region == "bottom_left":
        m[hh:, :hw] = 1
    elif region == "bottom_right":
        m[hh:, hw:] = 1
    elif region == "center":
        m[h // 4 : h - h // 4, w // 4 : w - w // 4] = 1
    else:
        m[:, :] = 1
        m[h // 4 : h - h // 4, w // 4 : w - w // 4] = 0
    return m


class TargetedRegionAttack(ExplanationAttack):
    """Ghorbani, Abid, Zou 2019 (arXiv:1710.10547): maximize D(x) = sum_i M_i s(x)_i for a region mask M; keep the
    label-preserving iterate with the most saliency mass inside M."""

    name = "targeted_region"
    title = "Targeted-region explanation attack"
    citation = "Ghorbani, Abid, Zou 2019, Interpretation of Neural Networks is Fragile, arXiv:1710.10547"

    class Params(ExplanationAttackParams):
        region: Region = Field("top_left", description="where to pull the saliency mass")

    params: Params

    def context_extra(self, ctx: AttackContext) -> dict[str, Tensor]:
        h, w = ctx.clean_map.shape[-2:]
        return {"mask": region_mask(self.params.region, h, w, ctx.x.device).flatten()}  # (H*W,)

    def dissimilarity(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return (s.flatten(1) * ctx.extra["mask"]).sum(1)

    def criterion(self, s: Tensor, ctx: AttackContext) -> Tensor:
        flat = s.flatten(1)
        return (flat * ctx.extra["mask"]).sum(1) / flat.sum(1).clamp_min(1e-12)  # fraction of mass in the region
