"""Pearson correlation between two saliency maps."""

from __future__ import annotations

from torch import Tensor

from explainlab.metrics.base import Metric, as_map
from explainlab.metrics.functional import pearson


class Pearson(Metric):
    """Pearson correlation of the pixel values of two maps (Dombrowski et al. 2019, arXiv:1906.07983).

    r = sum (a - mean a)(b - mean b) / sqrt(sum (a - mean a)^2 sum (b - mean b)^2); NaN for a constant map.
    """

    name = "pearson"
    title = "Pearson correlation"
    citation = "Dombrowski, Alber, Anders, Ackermann, Müller, Kessel 2019, arXiv:1906.07983"
    category = "similarity"
    higher_is_better = True

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        return pearson(as_map(a), as_map(b))
