"""Prediction-attack objectives: losses to ascend and the margin score used to keep the best iterate.

An objective maps a batch of candidate points to ``(gradient, score)``; the score is per example and higher means a
stronger attack (> 0 means the attack succeeded for margin scores). Explanation attacks define their own objectives
with the same interface (attacks/explanation_base.py).
"""

from __future__ import annotations

from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Loss = Literal["ce", "dlr"]


class Objective(Protocol):
    def __call__(self, x_adv: Tensor, need_grad: bool) -> tuple[Tensor | None, Tensor]: ...


def margin(logits: Tensor, y: Tensor, target: Tensor | None = None) -> Tensor:
    """Untargeted: max_{j!=y} z_j - z_y; targeted: z_t - max_{j!=t} z_j. Positive means success. (N,)"""
    cls = y if target is None else target
    z_cls = logits.gather(1, cls[:, None]).squeeze(1)
    others = logits.scatter(1, cls[:, None], float("-inf")).amax(1)
    return others - z_cls if target is None else z_cls - others


def dlr_loss(logits: Tensor, y: Tensor, target: Tensor | None = None) -> Tensor:
    """Difference of logits ratio (Croce & Hein 2020, arXiv:2003.01690), shift- and scale-invariant. (N,)

    Untargeted: -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3); targeted: -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2).
    """
    top = logits.sort(dim=1, descending=True).values  # (N, K)
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    if target is None:
        z_other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
        return -(z_y - z_other) / (top[:, 0] - top[:, 2] + 1e-12)
    z_t = logits.gather(1, target[:, None]).squeeze(1)
    return -(z_y - z_t) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)


def attack_loss(logits: Tensor, y: Tensor, loss: Loss, target: Tensor | None = None) -> Tensor:
    """Per-example loss to *maximize*: CE of the true class, or minus CE of the target class; DLR likewise."""
    if loss == "dlr":
        if logits.shape[1] < (4 if target is not None else 3):
            raise ValueError("the DLR loss needs at least 3 classes (4 when targeted)")
        return dlr_loss(logits, y, target)
    if target is None:
        return F.cross_entropy(logits, y, reduction="none")
    return -F.cross_entropy(logits, target, reduction="none")


def evaluate_loss(
    model: nn.Module, x_adv: Tensor, y: Tensor, loss: Loss, target: Tensor | None, need_grad: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One forward (and backward if ``need_grad``): per-example (loss, margin score, gradient or None)."""
    xr = x_adv.detach().requires_grad_(need_grad)
    with torch.set_grad_enabled(need_grad):
        logits = model(xr)
        values = attack_loss(logits, y, loss, target)
        grad = torch.autograd.grad(values.sum(), xr)[0] if need_grad else None
    return values.detach(), margin(logits.detach(), y, target), grad


def loss_objective(model: nn.Module, y: Tensor, loss: Loss, target: Tensor | None = None) -> Objective:
    """An objective that ascends ``loss`` and scores by the classification margin."""

    def evaluate(x_adv: Tensor, need_grad: bool) -> tuple[Tensor | None, Tensor]:
        _, score, grad = evaluate_loss(model, x_adv, y, loss, target, need_grad)
        return grad, score

    return evaluate
