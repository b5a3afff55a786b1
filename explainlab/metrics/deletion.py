"""Deletion AUC, and the pixel-ordering curve insertion shares."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import Explainer, saliency_map
from explainlab.metrics.base import Metric, MetricParams, eval_mode, explained_class


def perturbation_curve(
    model: nn.Module,
    start: Tensor,
    fill: Tensor,
    saliency: Tensor,
    target: Tensor,
    *,
    pixels_per_step: int,
    batch_size: int = 256,
) -> tuple[Tensor, Tensor]:
    """Softmax probability of ``target`` as pixels switch from ``start`` to ``fill`` by decreasing saliency.

    Step i switches the i * pixels_per_step most salient pixels (all channels; ties broken by index). Returns the
    fractions switched (T,) in [0, 1] and the probabilities (N, T), T = ceil(H*W / pixels_per_step) + 1.
    """
    n, c, h, w = start.shape
    d = h * w
    order = torch.sort(saliency.reshape(n, d), dim=1, descending=True, stable=True).indices  # (N, D)
    positions = torch.arange(d, device=start.device).expand(n, d)
    rank = torch.empty_like(order).scatter_(1, order, positions)  # (N, D): place of each pixel in the order
    counts = torch.tensor([*range(0, d, pixels_per_step), d], device=start.device)  # (T,)
    per_pass = max(1, batch_size // n)
    probs = []
    with torch.no_grad():
        for chunk in counts.split(per_pass):
            g = chunk.numel()
            switched = (rank.unsqueeze(0) < chunk.view(g, 1, 1)).view(g, n, 1, h, w)  # (G, N, 1, H, W)
            images = torch.where(switched, fill.unsqueeze(0), start.unsqueeze(0)).reshape(g * n, c, h, w)
            p = model(images).softmax(1).gather(1, target.repeat(g)[:, None]).view(g, n)  # (G, N)
            probs.append(p)
    return counts.to(start.dtype) / d, torch.cat(probs, 0).T  # (T,), (N, T)


def curve_auc(fractions: Tensor, probs: Tensor) -> Tensor:
    """Trapezoid area under each curve on [0, 1]: (N, T) -> (N,)."""
    return torch.trapezoid(probs, fractions, dim=1)


class Deletion(Metric):
    """Area under the class probability as the most salient pixels are removed first (Petsiuk et al. 2018, RISE).

    Pixels ordered by decreasing s = sum_c |A|; every ``pixels_per_step`` pixels are set to ``baseline`` and
    p_t(x) recorded; AUC by the trapezoid rule on [0, 1] (methods.md §6.7). Lower = more faithful.
    """

    name = "deletion"
    title = "Deletion AUC"
    citation = "Petsiuk, Das, Saenko 2018 (RISE, BMVC), arXiv:1806.07421"
    category = "faithfulness"
    higher_is_better = False

    class Params(MetricParams):
        pixels_per_step: int = Field(8, ge=1, le=65536, description="pixels removed per step (lab: 8 MNIST, 16 CIFAR)")
        baseline: float = Field(0.0, ge=0.0, le=1.0, description="value of removed pixels, every channel (0 = black)")
        batch_size: int = Field(256, ge=1, le=8192, description="images per forward pass (memory only, not the score)")

    def __call__(self, model: nn.Module, explainer: Explainer, x: Tensor, target: Tensor | int | None = None) -> Tensor:
        p: Deletion.Params = self.params  # type: ignore[assignment]
        t = explained_class(model, x, target)
        with eval_mode(model):
            s = saliency_map(explainer.explain(model, x, t))  # (N, H, W)
            fill = torch.full_like(x, p.baseline)
            curve = perturbation_curve(
                model,
                x,
                fill,
                s,
                t,
                pixels_per_step=p.pixels_per_step,
                batch_size=p.batch_size,
            )
        return curve_auc(*curve)
