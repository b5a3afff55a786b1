"""SmoothGrad: the input gradient averaged over noisy copies of the input."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import Explainer, GradientParams, input_gradient


class SmoothGrad(Explainer):
    """Smilkov et al. 2017 (arXiv:1706.03825): A = (1/n) sum_i d f_t(x + e_i)/dx, e_i ~ N(0, stdev^2)."""

    name = "smoothgrad"
    title = "SmoothGrad"
    citation = "Smilkov, Thorat, Kim, Viegas, Wattenberg 2017, arXiv:1706.03825"

    class Params(GradientParams):
        samples: int = Field(25, ge=1, le=512, description="noisy copies averaged")
        stdev: float = Field(0.15, ge=0.0, le=1.0, description="noise standard deviation in pixel units")
        abs: bool = Field(False, description="average |gradient| instead of the signed gradient")
        clip: bool = Field(True, description="clip noisy inputs to the valid range [0, 1]")
        seed: int = Field(0, ge=0, le=2**31 - 1, description="noise seed (same seed, same map)")

    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
        p = self.params
        gen = torch.Generator(device=x.device).manual_seed(p.seed)  # type: ignore[attr-defined]
        n, s = x.shape[0], p.samples  # type: ignore[attr-defined]
        noise = torch.randn((s, *x.shape), generator=gen, device=x.device, dtype=x.dtype) * p.stdev  # type: ignore[attr-defined]
        noisy = (x.unsqueeze(0) + noise).reshape(s * n, *x.shape[1:])  # (s*N, C, H, W)
        if p.clip:  # type: ignore[attr-defined]
            noisy = noisy.clamp(0.0, 1.0)
        grad = input_gradient(model, noisy, target.repeat(s), create_graph).view(s, n, *x.shape[1:])
        if p.abs:  # type: ignore[attr-defined]
            grad = grad.abs()
        return grad.mean(0)  # (N, C, H, W)
