"""Threat models as step objects (cf. MadryLab/robustness): random start, ascent step and projection for L-inf / L2.

Projection is always around the *clean* input x and then onto [0, 1]; clipping to [0, 1] can only move a point
closer to x coordinate-wise, so the result stays inside the ball.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

_TINY = 1e-12


def _per_example_norm(t: Tensor) -> Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.ndim - 1)))  # (N, 1, 1, 1)


class ThreatStep(ABC):
    """The geometry of one threat model: ``eps``-ball of a norm, intersected with the image box [0, 1]."""

    norm: ClassVar[str]

    def __init__(self, eps: float) -> None:
        self.eps = float(eps)

    @abstractmethod
    def random_init(self, x: Tensor, generator: torch.Generator) -> Tensor: ...

    @abstractmethod
    def direction(self, grad: Tensor) -> Tensor:
        """The steepest-ascent direction of unit norm (sign for L-inf, g/||g||_2 for L2)."""

    @abstractmethod
    def project(self, x_adv: Tensor, x: Tensor) -> Tensor: ...

    def ascend(self, x_adv: Tensor, grad: Tensor, step_size: float | Tensor) -> Tensor:
        return x_adv + step_size * self.direction(grad)

    def distance(self, x_adv: Tensor, x: Tensor) -> Tensor:
        """(N,) distance in this norm."""
        delta = (x_adv - x).flatten(1)
        return delta.abs().amax(1) if self.norm == "linf" else delta.norm(dim=1)


class LinfStep(ThreatStep):
    norm = "linf"

    def random_init(self, x: Tensor, generator: torch.Generator) -> Tensor:
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
        return (x + self.eps * noise).clamp(0.0, 1.0)

    def direction(self, grad: Tensor) -> Tensor:
        return grad.sign()

    def project(self, x_adv: Tensor, x: Tensor) -> Tensor:
        return (x + (x_adv - x).clamp(-self.eps, self.eps)).clamp(0.0, 1.0)


class LinfMaxScaledStep(LinfStep):
    """L-inf ball with ATEX's step (Tang et al. 2022, evaluation code): the gradient divided by its per-example
    max-abs entry, so the largest coordinate moves by exactly the step size and the others proportionally (not sign).
    A zero gradient gives no step."""

    def direction(self, grad: Tensor) -> Tensor:
        scale = grad.flatten(1).abs().amax(1).clamp_min(_TINY).view(-1, *([1] * (grad.ndim - 1)))  # (N, 1, 1, 1)
        return grad / scale


class L2Step(ThreatStep):
    norm = "l2"

    def random_init(self, x: Tensor, generator: torch.Generator) -> Tensor:
        direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        radius = torch.rand((x.shape[0],), generator=generator, device=x.device, dtype=x.dtype) * self.eps
        delta = direction / _per_example_norm(direction).clamp_min(_TINY) * radius.view(-1, 1, 1, 1)
        return self.project(x + delta, x)

    def direction(self, grad: Tensor) -> Tensor:
        return grad / _per_example_norm(grad).clamp_min(_TINY)

    def project(self, x_adv: Tensor, x: Tensor) -> Tensor:
        delta = x_adv - x
        scale = (self.eps / _per_example_norm(delta).clamp_min(_TINY)).clamp(max=1.0)
        return (x + delta * scale).clamp(0.0, 1.0)


def threat_step(norm: str, eps: float) -> ThreatStep:
    steps: dict[str, type[ThreatStep]] = {"linf": LinfStep, "l2": L2Step}
    if norm not in steps:
        raise ValueError(f"norm must be one of {sorted(steps)}, got {norm!r}")
    return steps[norm](eps)
