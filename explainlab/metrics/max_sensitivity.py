"""Max-sensitivity by random sampling: how far an explanation moves under small random input noise."""

from __future__ import annotations

from collections.abc import Callable

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import Explainer
from explainlab.metrics.base import Metric, MetricParams, eval_mode, explained_class
from explainlab.params import FloatOrFraction

Perturb = Callable[[Tensor, int], Tensor]  # (x, sample index) -> perturbed x


def relative_change(phi: Tensor, ref: Tensor) -> Tensor:
    """||phi - ref||_F / ||ref||_F per example, a zero reference norm counting as 1 (Captum): (N,)."""
    norm = ref.flatten(1).norm(dim=1)  # (N, ...) -> (N,)
    norm = torch.where(norm == 0, torch.ones_like(norm), norm)
    return (phi - ref).flatten(1).norm(dim=1) / norm


def uniform_linf(radius: float, *, clip: bool = False, seed: int = 0) -> Perturb:
    """x + U(-radius, radius)^d, Captum's default perturbation; ``clip`` also clips to [0, 1]."""
    generators: dict[torch.device, torch.Generator] = {}

    def perturb(x: Tensor, _sample: int) -> Tensor:
        gen = generators.setdefault(x.device, torch.Generator(device=x.device).manual_seed(seed))
        noise = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) * (2 * radius) - radius
        return (x + noise).clamp(0.0, 1.0) if clip else x + noise

    return perturb


def sensitivity_max(explain: Callable[[Tensor], Tensor], x: Tensor, perturb: Perturb, samples: int) -> Tensor:
    """max_s ||Phi(perturb(x, s)) - Phi(x)||_F / ||Phi(x)||_F over ``samples`` draws (captum.metrics.sensitivity_max).

    Samples are explained one batch at a time, so memory stays that of one explanation of x: (N,).
    """
    with torch.no_grad():
        ref = explain(x)
        best = torch.zeros(x.shape[0], dtype=ref.dtype, device=x.device)
        for s in range(samples):
            best = torch.maximum(best, relative_change(explain(perturb(x, s)), ref))
    return best


class MaxSensitivity(Metric):
    """Largest relative change of the explanation over random inputs in an L-inf ball (Yeh et al. 2019, 1901.09392).

    SENS_MAX = max_{x~ ~ U(B_inf(x, r))} ||Phi(x~) - Phi(x)||_F / ||Phi(x)||_F, Monte-Carlo over ``samples`` draws,
    as ``captum.metrics.sensitivity_max`` with its default perturbation (methods.md §6.5).
    """

    name = "max_sensitivity"
    title = "Max-sensitivity (random)"
    citation = "Yeh, Hsieh, Suggala, Inouye, Ravikumar 2019, arXiv:1901.09392"
    category = "robustness"
    higher_is_better = False

    class Params(MetricParams):
        radius: FloatOrFraction = Field(0.02, ge=0.0, le=1.0, description="L-inf radius of the noise, pixel units")
        samples: int = Field(10, ge=1, le=1000, description="random perturbations drawn per input")
        clip: bool = Field(False, description="also clip perturbed inputs to [0, 1] (Captum does not)")
        seed: int = Field(0, ge=0, le=2**31 - 1, description="noise seed (same seed, same score)")

    def __call__(self, model: nn.Module, explainer: Explainer, x: Tensor, target: Tensor | int | None = None) -> Tensor:
        p: MaxSensitivity.Params = self.params  # type: ignore[assignment]
        t = explained_class(model, x, target)
        perturb = uniform_linf(p.radius, clip=p.clip, seed=p.seed)
        with eval_mode(model):
            return sensitivity_max(lambda z: explainer.explain(model, z, t), x, perturb, p.samples)
