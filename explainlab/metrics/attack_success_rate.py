"""Attack success rate, untargeted or targeted."""

from __future__ import annotations

from torch import Tensor, nn

from explainlab.metrics.accuracy import resolve_logits
from explainlab.metrics.base import Metric
from explainlab.metrics.functional import attack_success_rate


class AttackSuccessRate(Metric):
    """Share of attacks that reach their goal (methods.md §6.8); lower is better for the model under attack.

    Untargeted: #{f(x) = y and f(x') != y} / #{f(x) = y} (NaN if no point is correct); targeted (``target=``):
    #{f(x') = t} / N. Takes clean logits plus ``logits_adv=``, or a model plus ``x=`` and ``x_adv=``; 0-dim.
    """

    name = "attack_success_rate"
    title = "Attack success rate"
    citation = "methods.md §6.8 (lab definition)"
    category = "prediction"
    higher_is_better = False

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
        clean, adv = resolve_logits(logits_or_model, x, x_adv, logits_adv)
        if adv is None or (clean is None and target is None):
            raise ValueError("attack success rate needs clean and attacked logits (or a model, x= and x_adv=)")
        return attack_success_rate(clean, adv, y, target)
