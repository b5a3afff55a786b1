"""Gini index of an attribution: how concentrated (sparse) it is."""

from __future__ import annotations

from torch import Tensor

from explainlab.metrics.base import Metric
from explainlab.metrics.functional import gini


class Gini(Metric):
    """Gini index of |attribution| over all entries, channels included (Chalasani et al. 2020, arXiv:1810.06583).

    v = sort(|a| + 1e-7) ascending, G = sum_i (2i - n - 1) v_i / (n sum_i v_i); 0 = uniform, (n-1)/n = one pixel.
    """

    name = "gini"
    title = "Gini index (sparsity)"
    citation = "Chalasani, Chen, Chowdhury, Jha, Wu 2020, arXiv:1810.06583"
    category = "sparsity"
    higher_is_better = True

    def __call__(self, attr: Tensor) -> Tensor:
        return gini(attr)
