"""Integrated Gradients with a batched path and optional create_graph (differentiable, unlike Captum's)."""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from explainlab.explain.base import Explainer, GradientParams, class_scores

PathRule = Literal["gausslegendre", "riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid"]


def path_points(steps: int, rule: PathRule) -> tuple[list[float], list[float]]:
    """Quadrature nodes alpha_k in [0, 1] and weights w_k (summing to 1) for the path integral."""
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return list(0.5 * (nodes + 1)), list(0.5 * weights)
    if rule == "riemann_trapezoid":
        if steps < 2:
            raise ValueError("the trapezoid rule needs at least 2 steps")
        alphas = list(np.linspace(0, 1, steps))
        w = [1.0 / (steps - 1)] * steps
        w[0] = w[-1] = 0.5 / (steps - 1)
        return alphas, w
    offset = {"riemann_right": 1.0, "riemann_left": 0.0, "riemann_middle": 0.5}[rule]
    return [(k + offset) / steps for k in range(steps)], [1.0 / steps] * steps


def integrated_gradients(
    model: nn.Module,
    x: Tensor,
    baseline: Tensor,
    target: Tensor,
    *,
    steps: int,
    rule: PathRule = "gausslegendre",
    chunk: int = 64,
    create_graph: bool = False,
) -> Tensor:
    """IG_i = (x_i - b_i) * sum_k w_k d f_t(b + alpha_k (x - b)) / dx_i, path points evaluated ``chunk`` at a time.

    The gradient is taken w.r.t. the interpolated points, so with ``create_graph`` the result stays differentiable
    in x (through the points and the (x - b) factor) and in the weights.
    """
    alphas, weights = path_points(steps, rule)
    n = x.shape[0]
    delta = x - baseline  # (N, C, H, W)
    total = torch.zeros_like(x)
    for start in range(0, steps, chunk):
        a = torch.tensor(alphas[start : start + chunk], dtype=x.dtype, device=x.device)
        w = torch.tensor(weights[start : start + chunk], dtype=x.dtype, device=x.device)
        m = a.numel()
        points = baseline.unsqueeze(0) + a.view(m, 1, 1, 1, 1) * delta.unsqueeze(0)  # (m, N, C, H, W)
        points = points.reshape(m * n, *x.shape[1:])  # (m*N, C, H, W)
        if not points.requires_grad:
            points.requires_grad_(True)
        score = class_scores(model(points), target.repeat(m)).sum()
        (grad,) = torch.autograd.grad(score, points, create_graph=create_graph)
        total = total + (grad.view(m, n, *x.shape[1:]) * w.view(m, 1, 1, 1, 1)).sum(0)  # (N, C, H, W)
    return delta * total


class IntegratedGradients(Explainer):
    """Sundararajan, Taly, Yan 2017 (arXiv:1703.01365): IG_i = (x_i - b_i) int_0^1 d f_t(b + a(x - b))/dx_i da."""

    name = "integrated_gradients"
    title = "Integrated Gradients"
    citation = "Sundararajan, Taly, Yan 2017, arXiv:1703.01365"

    class Params(GradientParams):
        steps: int = Field(50, ge=1, le=1024, description="path points (quadrature nodes)")
        rule: PathRule = Field("gausslegendre", description="quadrature rule (Captum's default: gausslegendre)")
        baseline: float = Field(0.0, ge=0.0, le=1.0, description="constant baseline pixel value (0 = black)")
        path_start: float = Field(
            0.0,
            ge=0.0,
            lt=1.0,
            description="where the path integral starts, as a fraction of the way from the baseline to x: 0 is IG "
            "proper; 0.9 integrates the gradient over the last tenth of the path only, near x",
        )
        chunk: int = Field(64, ge=1, le=1024, description="path points per forward pass (memory vs speed)")

        @model_validator(mode="after")
        def _trapezoid_needs_two_points(self) -> Self:
            if self.rule == "riemann_trapezoid" and self.steps < 2:
                raise ValueError("the riemann_trapezoid rule needs steps >= 2")
            return self

    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
        p = self.params
        baseline = torch.full_like(x, p.baseline)  # type: ignore[attr-defined]
        if p.path_start:  # type: ignore[attr-defined]  # the segment from b + c (x - b) to x of the same path
            baseline = baseline + p.path_start * (x - baseline)  # type: ignore[attr-defined]
        return integrated_gradients(
            model, x, baseline, target,
            steps=p.steps, rule=p.rule, chunk=p.chunk, create_graph=create_graph,  # type: ignore[attr-defined]
        )  # fmt: skip
