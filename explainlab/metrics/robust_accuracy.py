"""Robust accuracy: accuracy on attacked inputs, over every point."""

from __future__ import annotations

from torch import Tensor, nn

from explainlab.metrics.accuracy import resolve_logits
from explainlab.metrics.base import Metric
from explainlab.metrics.functional import robust_accuracy


class RobustAccuracy(Metric):
    """Share of attacked inputs still classified correctly (Croce & Hein 2020, arXiv:2003.01690): mean[f(A(x)) = y].

    Averaged over all points, so clean mistakes count as failures (AutoAttack's convention). Takes ``logits_adv=``
    or a model plus ``x_adv=``; a bare logits tensor alone is read as the attacked logits. Returns a 0-dim tensor.
    """

    name = "robust_accuracy"
    title = "Robust accuracy"
    citation = "Croce, Hein 2020, arXiv:2003.01690"
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
        clean, adv = resolve_logits(logits_or_model, None, x_adv, logits_adv)
        adv = adv if adv is not None else clean
        if adv is None:
            raise ValueError("robust accuracy needs attacked logits, or a model and x_adv=")
        return robust_accuracy(adv, y)
