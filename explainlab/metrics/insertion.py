"""Insertion AUC: most salient pixels copied into a blurred image first."""

from __future__ import annotations

import math

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import Explainer, saliency_map
from explainlab.metrics.base import Metric, MetricParams, eval_mode, explained_class
from explainlab.metrics.deletion import curve_auc, perturbation_curve
from explainlab.metrics.functional import gaussian_window


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of images (N, C, H, W), radius ceil(3 sigma) (at most side - 1), reflect padding."""
    radius = min(math.ceil(3 * sigma), x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x.clone()
    c = x.shape[1]
    g = gaussian_window(2 * radius + 1, sigma, dtype=x.dtype).to(x.device)
    out = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # blur rows
    return F.conv2d(out, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # blur columns -> (N, C, H, W)


class Insertion(Metric):
    """Area under the class probability as the most salient pixels are inserted first (Petsiuk et al. 2018, RISE).

    Start from a Gaussian-blurred x (sigma ``blur_sigma``), copy in x's pixels every ``pixels_per_step`` by decreasing
    s = sum_c |A|, record p_t; AUC by the trapezoid rule on [0, 1] (methods.md §6.7). Higher = more faithful.
    """

    name = "insertion"
    title = "Insertion AUC"
    citation = "Petsiuk, Das, Saenko 2018 (RISE, BMVC), arXiv:1806.07421"
    category = "faithfulness"
    higher_is_better = True

    class Params(MetricParams):
        pixels_per_step: int = Field(8, ge=1, le=65536, description="pixels inserted per step (lab: 8 MNIST, 16 CIFAR)")
        blur_sigma: float = Field(2.0, gt=0.0, le=20.0, description="std of the Gaussian blur of the start image, px")
        batch_size: int = Field(256, ge=1, le=8192, description="images per forward pass (memory only, not the score)")

    def __call__(self, model: nn.Module, explainer: Explainer, x: Tensor, target: Tensor | int | None = None) -> Tensor:
        p: Insertion.Params = self.params  # type: ignore[assignment]
        t = explained_class(model, x, target)
        with eval_mode(model):
            s = saliency_map(explainer.explain(model, x, t))  # (N, H, W)
            blurred = gaussian_blur(x, p.blur_sigma)
            curve = perturbation_curve(
                model,
                blurred,
                x,
                s,
                t,
                pixels_per_step=p.pixels_per_step,
                batch_size=p.batch_size,
            )
        return curve_auc(*curve)
