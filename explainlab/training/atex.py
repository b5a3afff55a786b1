"""ATEX: fine-tune so that moving an input perpendicular to its explanation leaves the (teacher's) prediction."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import input_gradient
from explainlab.params import FloatOrFraction
from explainlab.training.base import LossParts, MethodParams, TrainingMethod, eval_mode, unwrap


def smoothgrad_direction(
    model: nn.Module, x: Tensor, y: Tensor, samples: int, sigma: float, generator: torch.Generator
) -> Tensor:
    """Signed SmoothGrad of logit_y: mean over ``samples`` copies x + N(0, sigma^2) clamped to [0, 1]. (N, C, H, W)"""
    n = x.shape[0]
    noise = torch.randn((samples, *x.shape), generator=generator, device=x.device, dtype=x.dtype) * sigma
    noisy = (x.unsqueeze(0) + noise).reshape(samples * n, *x.shape[1:]).clamp(0.0, 1.0)
    with torch.enable_grad():
        grad = input_gradient(model, noisy, y.repeat(samples), create_graph=False)
    return grad.view(samples, n, *x.shape[1:]).mean(0)


def perpendicular(e: Tensor, r: Tensor) -> Tensor:
    """r minus its projection on e, per image channel over (H, W): <r_perp, e> = 0 for every channel (broadcasts)."""
    e_hat = e / e.pow(2).sum((-2, -1), keepdim=True).sqrt().clamp_min(1e-12)
    return r - (r * e_hat).sum((-2, -1), keepdim=True) * e_hat


class ATEX(TrainingMethod):
    """Tang, Liu, Yang, Zou, Hu 2022 (Frontiers in Big Data, arXiv:2111.04303): min_theta mean_j
    KL(softmax(f_0(x_j) / T) || softmax(f_theta(x_j + r_perp))), with anchors x_j = x + c_j * 4 eps * e / max|e| along
    the signed SmoothGrad e of the current model, r_perp = U[-4 eps, 4 eps] noise made orthogonal to e per channel and
    f_0 the frozen starting model.

    Deviation (methods.md §5.2): the code takes 2J Adam steps per batch (two passes over the J anchors, each on n_rep
    perpendicular samples); the loop takes one step per batch, so this loss is the mean over the J anchors of the KL
    on n_rep samples each, and the two passes collapse to one. ATEX fine-tunes a trained model: start the run from a
    stored model with ``init_from`` (TrainConfig); ``prepare`` copies the model it gets into the frozen teacher.
    """

    name = "atex"
    title = "ATEX (explanation-perpendicular distillation)"
    citation = "Tang, Liu, Yang, Zou, Hu 2022, Defense Against Explanation Manipulation, Frontiers in Big Data, arXiv:2111.04303"  # noqa: E501

    class Params(MethodParams):
        eps: FloatOrFraction = Field(
            0.08, gt=0.0, le=1.0, description="ATEX epsilon: SmoothGrad sigma = eps, sample magnitude M = 4 eps (code)"
        )
        anchors: int = Field(2, ge=2, le=32, description="J (iter_along): anchors along the explanation (MNIST: 2)")
        n_rep: int = Field(8, ge=1, le=64, description="perpendicular samples per anchor and example (code: 8)")
        temperature: float = Field(4.0, gt=0.0, le=100.0, description="T of the teacher's softmax (code: 4)")
        smoothgrad_samples: int = Field(10, ge=1, le=100, description="noisy copies of the SmoothGrad (code: 10)")

    params: Params
    teacher: nn.Module | None = None

    def prepare(self, model: nn.Module, *, seed: int = 0, **context: Any) -> None:
        """Seed the generator and freeze a copy of the model as it is now (after ``init_from``) as the teacher."""
        super().prepare(model, seed=seed, **context)
        teacher = copy.deepcopy(unwrap(model)).eval()
        for param in teacher.parameters():
            param.requires_grad_(False)
        self.teacher = teacher

    def samples(self, model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(perpendicular samples (J, n_rep, N, C, H, W), anchors (J, N, C, H, W), explanation e (N, C, H, W))."""
        p = self.params
        inner = unwrap(model)
        with eval_mode(inner):
            e = smoothgrad_direction(inner, x.detach(), y, p.smoothgrad_samples, p.eps, self.generator)
        mag = 4.0 * p.eps
        u = mag * e / (e.abs().flatten(1).amax(1).view(-1, 1, 1, 1) + 1e-6)  # max |u| = M (normalize_dim_max_mag)
        c = [(j - p.anchors / 2) / (p.anchors - 1) for j in range(p.anchors)]  # J = 2: -1, 0 (as the code)
        coeffs = torch.tensor(c, dtype=x.dtype, device=x.device)
        anchors = x.detach().unsqueeze(0) + coeffs.view(-1, 1, 1, 1, 1) * u.unsqueeze(0)  # (J, N, C, H, W)
        shape = (p.anchors, p.n_rep, *x.shape)
        r = (torch.rand(shape, generator=self.generator, device=x.device, dtype=x.dtype) * 2 - 1) * mag
        return anchors.unsqueeze(1) + perpendicular(e, r), anchors, e

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        if self.teacher is None:
            raise RuntimeError("ATEX needs prepare(model) before loss(): it freezes the starting model as teacher")
        p = self.params
        x_tilde, anchors, _ = self.samples(model, x, y)
        with torch.no_grad():
            target = F.softmax(self.teacher(anchors.flatten(0, 1)) / p.temperature, 1)  # (J*N, K)
        target = target.view(p.anchors, 1, len(x), -1).expand(-1, p.n_rep, -1, -1).flatten(0, 2)  # (J*n_rep*N, K)
        student = model(x_tilde.flatten(0, 2).detach())
        kl = F.kl_div(F.log_softmax(student, 1), target, reduction="batchmean")
        return LossParts(kl, {"kl": float(kl.detach())})
