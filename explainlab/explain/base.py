"""Explainer ABC and the helpers every attribution method shares (targets, per-pixel maps)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.errors import IncompatibleError
from explainlab.nets.centered_logits import CenteredLogits
from explainlab.nets.smoothing import softplus_relus
from explainlab.params import Configured, Params

ExplainedScore = Literal["logit", "centered_logit"]


class ExplainerParams(Params):
    """Parameters shared by every explainer."""

    score: ExplainedScore = Field(
        "logit",
        description="what the map explains: the target's logit f_y, or the centered logit f_y - mean_j f_j (the same "
        "prediction; a component added to every logit, which decides nothing, cannot dominate the map)",
    )


class GradientParams(ExplainerParams):
    """Parameters of our own gradient-based explainers."""

    softplus_beta: float | None = Field(
        None, gt=0, le=1e4, description="beta-smoothing: explain the Softplus(beta) copy of the net (None = ReLU net)"
    )


def as_target(target: Tensor | int | list[int], n: int, device: torch.device) -> Tensor:
    """(N,) int64 class indices from an int, a list or a tensor."""
    t = torch.as_tensor(target, dtype=torch.long, device=device)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"target must be an int or have shape ({n},), got {tuple(t.shape)}")
    return t


def check_images(x: Tensor) -> None:
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected float images (N, C, H, W), got {x.dtype} {tuple(x.shape)}")


def class_scores(logits: Tensor, target: Tensor) -> Tensor:
    """(N, K) logits, (N,) target -> (N,) score of the target class."""
    if int(target.max()) >= logits.shape[1] or int(target.min()) < 0:
        raise IncompatibleError(f"target class out of range 0..{logits.shape[1] - 1}")
    return logits.gather(1, target[:, None]).squeeze(1)


def saliency_map(attr: Tensor) -> Tensor:
    """Per-pixel map s_ij = sum_c |A_cij| (methods.md §1.3): (N, C, H, W) -> (N, H, W)."""
    return attr.abs().sum(1)


def normalize_map(s: Tensor, mode: Literal["sum_one", "mean_one"] = "mean_one") -> Tensor:
    """Scale each (H, W) map to sum 1 (Dombrowski) or to mean 1, i.e. sum H*W (Ghorbani, RAR)."""
    total = s.flatten(1).sum(1).clamp_min(1e-12).view(-1, *([1] * (s.ndim - 1)))  # (N, 1, ...)
    scale = 1.0 if mode == "sum_one" else float(s[0].numel())
    return s / total * scale


class Explainer(Configured, ABC):
    """(model, x, target) -> attribution shaped like x, or (N, 1, H, W) for layer methods upsampled to the input.

    Explainers never change the input, the model's mode or its parameters' ``requires_grad``, and remove every hook.
    When ``differentiable`` is true and ``create_graph=True``, the attribution can be back-propagated (to x or to the
    weights), which training losses and explanation attacks need; Captum adapters are display-only.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[str]
    differentiable: ClassVar[bool] = True
    backend: ClassVar[str] = "explainlab"
    Params: ClassVar[type[ExplainerParams]] = ExplainerParams

    def explain(self, model: nn.Module, x: Tensor, target: Tensor | int, *, create_graph: bool = False) -> Tensor:
        check_images(x)
        if create_graph and not self.differentiable:
            raise IncompatibleError(f"{self.name} is display-only: it cannot build a differentiable graph")
        t = as_target(target, x.shape[0], x.device)
        beta = getattr(self.params, "softplus_beta", None)
        with torch.enable_grad(), softplus_relus(model, beta):
            attr = self._attribute(scored_model(model, self.params.score), x, t, create_graph)
        return attr if create_graph else attr.detach()

    @abstractmethod
    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor: ...


def scored_model(model: nn.Module, score: ExplainedScore) -> nn.Module:
    """``model``, or (``centered_logit``) the same net with each logit minus the mean over classes, in its mode."""
    if score == "logit":
        return model
    centered = CenteredLogits(model)
    centered.training = model.training  # the wrapper's own flag only: the net's mode stays as it is
    return centered


def input_gradient(model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
    """d logit_target / dx for every example (examples are independent in eval mode): (N, C, H, W)."""
    xg = x if x.requires_grad else x.detach().requires_grad_(True)
    score = class_scores(model(xg), target).sum()
    (grad,) = torch.autograd.grad(score, xg, create_graph=create_graph)
    return grad
