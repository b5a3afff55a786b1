"""Distance between the saliency-weighted centres of two maps."""

from __future__ import annotations

from torch import Tensor

from explainlab.metrics.base import Metric, as_map
from explainlab.metrics.functional import center_of_mass_shift


class CenterOfMassShift(Metric):
    """Euclidean distance in pixels between the centres of mass of two maps (Ghorbani et al. 2019, arXiv:1710.10547).

    C(s) = sum_ij s_ij (i, j) / sum_ij s_ij over the non-negative part of s; shift = ||C(a) - C(b)||_2. Needs (N, H, W).
    """

    name = "center_of_mass_shift"
    title = "Centre-of-mass shift"
    citation = "Ghorbani, Abid, Zou 2019, arXiv:1710.10547"
    category = "similarity"
    higher_is_better = False

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        a, b = as_map(a), as_map(b)
        if a.ndim != 3 or a.shape != b.shape:
            raise ValueError(f"needs two maps (N, H, W) of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
        return center_of_mass_shift(a, b)
