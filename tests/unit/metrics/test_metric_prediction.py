"""Prediction rates (methods.md §6.8) on hand-made logits, and the logits-or-model calling convention."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from explainlab.metrics import METRICS, accuracy, attack_success_rate, robust_accuracy


def _logits(classes: list[int], k: int = 3) -> torch.Tensor:
    return nn.functional.one_hot(torch.tensor(classes), k).float() * 5.0


Y = torch.tensor([0, 1, 1, 0])
CLEAN = _logits([0, 1, 2, 0])  # correct on 0, 1, 3
ADV = _logits([1, 1, 2, 0])  # example 0 flipped; example 2 was already wrong


def test_rates_on_known_logits() -> None:
    assert accuracy(CLEAN, Y).item() == 0.75
    assert robust_accuracy(ADV, Y).item() == 0.5  # the clean mistake (example 2) counts as a failure
    assert attack_success_rate(CLEAN, ADV, Y).item() == pytest.approx(1 / 3)  # 1 of the 3 correct points flipped
    assert attack_success_rate(None, ADV, Y, target=2).item() == 0.25  # #{f(x') = t} / N
    assert attack_success_rate(CLEAN, ADV, Y, target=torch.tensor([1, 1, 1, 1])).item() == 0.5


def test_success_rate_is_nan_without_correct_points() -> None:
    assert math.isnan(attack_success_rate(CLEAN, ADV, torch.tensor([2, 2, 0, 1])).item())


def test_metric_classes_accept_logits() -> None:
    assert METRICS.create("accuracy")(CLEAN, Y).item() == 0.75
    assert METRICS.create("robust_accuracy")(CLEAN, Y, logits_adv=ADV).item() == 0.5
    assert METRICS.create("robust_accuracy")(ADV, Y).item() == 0.5  # a bare tensor is read as the attacked logits
    assert METRICS.create("attack_success_rate")(CLEAN, Y, logits_adv=ADV).item() == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="attacked logits"):
        METRICS.create("attack_success_rate")(CLEAN, Y)


class _Lookup(nn.Module):
    """Returns the logits stored for each input id (x[:, 0, 0, 0]); a dropout layer makes train mode visible."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table
        self.drop = nn.Dropout(0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.table[x[:, 0, 0, 0].long()])


def test_metric_classes_run_a_model_in_eval_mode_and_restore_it() -> None:
    model = _Lookup(torch.cat([CLEAN, ADV])).train()
    x = torch.arange(4.0).view(4, 1, 1, 1)
    x_adv = x + 4
    assert METRICS.create("accuracy")(model, Y, x=x).item() == 0.75
    assert METRICS.create("robust_accuracy")(model, Y, x_adv=x_adv).item() == 0.5
    assert METRICS.create("attack_success_rate")(model, Y, x=x, x_adv=x_adv).item() == pytest.approx(1 / 3)
    assert model.training and model.drop.training
    with pytest.raises(ValueError, match="needs logits"):
        METRICS.create("accuracy")(model, Y)
