"""Structural similarity between two saliency maps."""

from __future__ import annotations

from pydantic import Field, field_validator
from torch import Tensor

from explainlab.metrics.base import Metric, MetricParams, as_map
from explainlab.metrics.functional import ssim


class SSIM(Metric):
    """Mean structural similarity of two maps, each min-max scaled to [0, 1] (Wang et al. 2004; ATEX, Tang et al. 2022).

    SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)), Gaussian window,
    C1 = 0.01^2, C2 = 0.03^2 (data range 1), averaged over the valid window positions. Needs maps (N, H, W).
    """

    name = "ssim"
    title = "SSIM"
    citation = "Wang, Bovik, Sheikh, Simoncelli 2004, IEEE TIP 13(4); Tang et al. 2022, arXiv:2111.04303"
    category = "similarity"
    higher_is_better = True

    class Params(MetricParams):
        window: int = Field(11, ge=3, le=31, description="odd side of the Gaussian window (shrinks for smaller maps)")
        sigma: float = Field(1.5, gt=0.0, le=10.0, description="standard deviation of the Gaussian window, pixels")

        @field_validator("window")
        @classmethod
        def _odd(cls, v: int) -> int:
            if v % 2 == 0:
                raise ValueError("window must be odd")
            return v

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        p: SSIM.Params = self.params  # type: ignore[assignment]
        return ssim(as_map(a), as_map(b), window=p.window, sigma=p.sigma)
