"""Ghorbani top-k attack: push saliency mass off the pixels that were most salient on the clean input."""

from __future__ import annotations

from torch import Tensor

from explainlab.attacks.explanation_base import AttackContext, ExplanationAttack
from explainlab.metrics.functional import topk_intersection


class TopKAttack(ExplanationAttack):
    """Ghorbani, Abid, Zou 2019 (arXiv:1710.10547): maximize D(x) = -sum_{i in B} s(x)_i, B = top-k of s(x0);
    keep the label-preserving iterate with the lowest top-k intersection."""

    name = "topk"
    title = "Top-k explanation attack"
    citation = "Ghorbani, Abid, Zou 2019, Interpretation of Neural Networks is Fragile, arXiv:1710.10547"

    def dissimilarity(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return -(s.flatten(1) * ctx.topk).sum(1)  # (N, H*W) -> (N,)

    def criterion(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return -topk_intersection(s, ctx.clean_map, self.params.k)
