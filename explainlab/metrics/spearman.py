"""Spearman's rank correlation between two saliency maps."""

from __future__ import annotations

from torch import Tensor

from explainlab.metrics.base import Metric, as_map
from explainlab.metrics.functional import spearman_rho


class Spearman(Metric):
    """Spearman's rho: the Pearson correlation of the pixels' ranks (Spearman 1904; Ghorbani et al. 2019).

    rho = corr(rank(a), rank(b)) with ties given their average rank, as ``scipy.stats.spearmanr``.
    """

    name = "spearman"
    title = "Spearman's ρ"
    citation = "Spearman 1904, Am. J. Psychol. 15(1); Ghorbani, Abid, Zou 2019, arXiv:1710.10547"
    category = "similarity"
    higher_is_better = True

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        return spearman_rho(as_map(a), as_map(b))
