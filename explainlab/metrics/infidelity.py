"""Infidelity: how badly the attribution predicts the model's response to random perturbations."""

from __future__ import annotations

from collections.abc import Callable

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import Explainer, class_scores
from explainlab.metrics.base import Metric, MetricParams, eval_mode, explained_class


def infidelity(
    score: Callable[[Tensor], Tensor],
    x: Tensor,
    attr: Tensor,
    noise: Callable[[int], Tensor],
    samples: int,
    *,
    normalize: bool = False,
) -> Tensor:
    """mean_s (I_s . Phi - (f(x) - f(x - I_s)))^2 with I_s = noise(s), as ``captum.metrics.infidelity``: (N,).

    ``score`` maps inputs to the (N,) explained score; ``attr`` may be (N, 1, H, W), broadcast over channels.
    ``normalize`` first rescales Phi by the least-squares beta = sum(a b) / sum(a^2) (Captum's ``normalize``).
    """
    with torch.no_grad():
        f_x = score(x)  # (N,)
        dots, diffs = [], []
        for s in range(samples):
            pert = noise(s)  # (N, C, H, W)
            dots.append((pert * attr).flatten(1).sum(1))  # I^T Phi: (N,)
            diffs.append(f_x - score(x - pert))
        a, b = torch.stack(dots, 1), torch.stack(diffs, 1)  # (N, S)
        if not normalize:
            return (a - b).pow(2).sum(1) / samples
        aa, ab, bb = a.pow(2).sum(1), (a * b).sum(1), b.pow(2).sum(1)
        beta = ab / torch.where(aa != 0, aa, torch.ones_like(aa))
        return (beta * beta * aa - 2 * beta * ab + bb) / samples


class Infidelity(Metric):
    """Expected squared error of the attribution as a linear model of output changes (Yeh et al. 2019, 1901.09392).

    INFD = E_{I ~ N(0, stdev^2)} [(I^T Phi(x) - (f_t(x) - f_t(x - I)))^2], f_t = logit of the explained class,
    Monte-Carlo over ``samples`` draws (methods.md §6.6); perturbed inputs are not clipped, as in Captum.
    """

    name = "infidelity"
    title = "Infidelity"
    citation = "Yeh, Hsieh, Suggala, Inouye, Ravikumar 2019, arXiv:1901.09392"
    category = "faithfulness"
    higher_is_better = False

    class Params(MetricParams):
        stdev: float = Field(0.003, gt=0.0, le=1.0, description="std of the Gaussian perturbation I, pixel units")
        samples: int = Field(10, ge=1, le=1000, description="perturbations drawn per input")
        normalize: bool = Field(False, description="rescale the attribution by its optimal factor first (Captum)")
        seed: int = Field(0, ge=0, le=2**31 - 1, description="noise seed (same seed, same score)")

    def __call__(self, model: nn.Module, explainer: Explainer, x: Tensor, target: Tensor | int | None = None) -> Tensor:
        p: Infidelity.Params = self.params  # type: ignore[assignment]
        t = explained_class(model, x, target)
        gen = torch.Generator(device=x.device).manual_seed(p.seed)

        def noise(_sample: int) -> Tensor:
            return torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype) * p.stdev

        with eval_mode(model):
            attr = explainer.explain(model, x, t)
            return infidelity(
                lambda z: class_scores(model(z), t),
                x,
                attr,
                noise,
                p.samples,
                normalize=p.normalize,
            )
