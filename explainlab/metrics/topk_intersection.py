"""Top-k intersection of two saliency maps."""

from __future__ import annotations

from pydantic import Field
from torch import Tensor

from explainlab.metrics.base import Metric, MetricParams, as_map
from explainlab.metrics.functional import topk_intersection


class TopKIntersection(Metric):
    """Share of the k most salient pixels two maps have in common (Ghorbani, Abid, Zou 2019, arXiv:1710.10547).

    TKI_k(a, b) = |Top_k(a) ∩ Top_k(b)| / k, ties broken by pixel index; 1 = same top-k set.
    """

    name = "topk_intersection"
    title = "Top-k intersection"
    citation = "Ghorbani, Abid, Zou 2019, arXiv:1710.10547"
    category = "similarity"
    higher_is_better = True

    class Params(MetricParams):
        k: int = Field(100, ge=1, le=1_000_000, description="number of most salient pixels compared (at most H*W)")

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        p: TopKIntersection.Params = self.params  # type: ignore[assignment]
        return topk_intersection(as_map(a), as_map(b), p.k)
