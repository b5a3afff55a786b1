"""Shared pieces of the RAR objectives (Chen et al. 2019, methods.md §5.5): a differentiable IG of the loss along the
straight path x -> x', and the PGD-L-inf inner maximization of an IG objective."""

from __future__ import annotations

from typing import Self

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from explainlab.attacks.engine import iterate
from explainlab.attacks.threat import LinfStep
from explainlab.training.base import AdversarialParams


class RARParams(AdversarialParams):
    """The RAR path integral on top of the inner PGD (MNIST paper config: eps 0.3, PGD 40 x 0.01, m 50, approx 5)."""

    path_points: int = Field(50, ge=1, le=1000, description="m: right-Riemann IG points of the outer (training) term")
    approx_factor: int = Field(
        5, ge=1, le=100, description="the inner PGD uses m / approx_factor IG points (paper: 5 on MNIST)"
    )
    chunk: int | None = Field(
        None, ge=1, le=1000,
        description="path points per forward pass; default: enough for about 256 images a pass (see loss_ig)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _approx_divides_points(self) -> Self:
        if self.path_points % self.approx_factor:
            raise ValueError(f"approx_factor {self.approx_factor} must divide path_points {self.path_points}")
        return self


IMAGES_PER_PASS = 256


def loss_ig(
    model: nn.Module,
    x: Tensor,
    x_prime: Tensor,
    y: Tensor,
    m: int,
    *,
    chunk: int | None = None,
    create_graph: bool = True,
) -> tuple[Tensor, Tensor]:
    """IG^{l_y}(x, x') = (x' - x) * (1/m) sum_{k=1..m} d CE(f(x + (k/m)(x' - x)), y) / dz (right Riemann sum), and the
    per-example CE at x' (the k = m point, free). Returns (IG (N, C, H, W), CE at x' (N,)).

    Path points are evaluated ``chunk`` at a time (chunk * N images per forward; default IMAGES_PER_PASS // N). Bigger
    passes are slower on a CPU: their activations exceed glibc's largest mmap threshold (32 MB), so each step maps
    and page-faults them afresh. One IG-SUM-NORM step of the zoo's MNIST recipe (128 images, m = 10) costs 7.4x a
    PGD-AT step in one pass of 1280 images and 5.7x in passes of 256: ``bench/train_cost.py --config
    configs/mnist_pgd_at.toml --config configs/mnist_ig_sum_norm_scratch.toml [--set ig_sum_norm.chunk=64]``.

    With ``create_graph`` both outputs are differentiable in the weights and in x' (through the points and the
    (x' - x) factor); the retained double-backward graph still grows with m * N, chunking only bounds the transient
    peak of each pass.
    """
    n = x.shape[0]
    chunk = chunk or max(1, IMAGES_PER_PASS // n)
    delta = x_prime - x  # (N, C, H, W)
    total = torch.zeros_like(x)
    ce_at_end = x.new_zeros(n)
    for start in range(0, m, chunk):
        k = torch.arange(start + 1, min(start + chunk, m) + 1, device=x.device, dtype=x.dtype)
        c = k.numel()
        points = (x.unsqueeze(0) + (k / m).view(c, 1, 1, 1, 1) * delta.unsqueeze(0)).reshape(c * n, *x.shape[1:])
        if not points.requires_grad:
            points.requires_grad_(True)
        losses = F.cross_entropy(model(points), y.repeat(c), reduction="none")  # (c*N,)
        (grad,) = torch.autograd.grad(losses.sum(), points, create_graph=create_graph)
        total = total + grad.view(c, n, *x.shape[1:]).sum(0)
        if start + c == m:
            ce_at_end = losses[-n:]
    return delta * total / m, ce_at_end


def ig_l1(model: nn.Module, x: Tensor, x_prime: Tensor, y: Tensor, m: int, *, chunk: int | None = None) -> Tensor:
    """Per-example ||IG^{l_y}(x, x')||_1 with m right-Riemann path points, differentiable in the weights and x'. (N,)"""
    ig, _ = loss_ig(model, x, x_prime, y, m, chunk=chunk)
    return ig.abs().flatten(1).sum(1)


def ig_adversary(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float,
    path_points: int,
    ce_weight: float,
    ig_weight: float,
    chunk: int | None,
    generator: torch.Generator,
) -> Tensor:
    """PGD-L-inf with a random start (the shared engine, last iterate) ascending ce_weight * CE(f(x'), y) +
    ig_weight * ||IG^{l_y}(x, x')||_1, the IG with ``path_points`` points; call in eval mode. Returns x' detached."""
    threat = LinfStep(eps)

    def objective(x_adv: Tensor, need_grad: bool) -> tuple[Tensor | None, Tensor]:
        zeros = x.new_zeros(x.shape[0])  # keep="last" ignores scores
        if not need_grad:
            return None, zeros
        xp = x_adv.detach().requires_grad_(True)
        if ig_weight == 0:  # plain CE-PGD: exactly the evaluation of attacks/objectives.py
            value = F.cross_entropy(model(xp), y, reduction="none").sum()
        else:
            ig, ce = loss_ig(model, x, xp, y, path_points, chunk=chunk)
            value = ig_weight * ig.abs().sum() + (ce_weight * ce.sum() if ce_weight else 0.0)
        (grad,) = torch.autograd.grad(value, xp)
        return grad, zeros

    with torch.enable_grad():
        x_adv, _ = iterate(
            objective, x.detach(), threat, steps=steps, step_size=step_size, random_start=True, restarts=1,
            generator=generator, keep="last",
        )  # fmt: skip
    return x_adv.detach()
