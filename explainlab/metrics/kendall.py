"""Kendall's rank correlation tau-b between two saliency maps."""

from __future__ import annotations

from torch import Tensor

from explainlab.metrics.base import Metric, as_map
from explainlab.metrics.functional import kendall_tau


class Kendall(Metric):
    """Kendall's tau-b over all pixel pairs, with tie correction (Kendall 1945; RAR's "CO", Chen et al. 2019).

    tau_b = (n_c - n_d) / sqrt((n_0 - n_1)(n_0 - n_2)), as ``scipy.stats.kendalltau``; NaN for a constant map.
    """

    name = "kendall"
    title = "Kendall's τ"
    citation = "Kendall 1945, Biometrika 33(3); Chen, Wu, Rastogi, Liang, Jha 2019, arXiv:1905.09957"
    category = "similarity"
    higher_is_better = True

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        return kendall_tau(as_map(a), as_map(b))
