"""Clean accuracy, and the logits-or-model resolution every prediction metric shares."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from explainlab.metrics.base import Metric, eval_mode
from explainlab.metrics.functional import accuracy


def resolve_logits(
    logits_or_model: Tensor | nn.Module, x: Tensor | None, x_adv: Tensor | None, logits_adv: Tensor | None
) -> tuple[Tensor | None, Tensor | None]:
    """(clean logits, attacked logits), each None when not available: a model is run on ``x`` / ``x_adv``."""
    if isinstance(logits_or_model, nn.Module):
        with torch.no_grad(), eval_mode(logits_or_model):
            clean = logits_or_model(x) if x is not None else None
            adv = logits_or_model(x_adv) if x_adv is not None else logits_adv
        return clean, adv
    return logits_or_model, logits_adv


class Accuracy(Metric):
    """Share of inputs classified correctly (methods.md §6.8): acc = mean[argmax f(x) = y].

    Takes clean logits (N, K), or a model plus ``x=``; returns a 0-dim tensor.
    """

    name = "accuracy"
    title = "Clean accuracy"
    citation = "standard; Croce et al. 2021 (RobustBench), arXiv:2010.09670"
    category = "prediction"
    higher_is_better = True

    def __call__(
        self,
        logits_or_model: Tensor | nn.Module,
        y: Tensor | int,
        *,
        x: Tensor | None = None,
        x_adv: Tensor | None = None,
        logits_adv: Tensor | None = None,
        target: Tensor | int | None = None,
    ) -> Tensor:
        clean, _ = resolve_logits(logits_or_model, x, None, None)
        if clean is None:
            raise ValueError("accuracy needs logits, or a model and x=")
        return accuracy(clean, y)
