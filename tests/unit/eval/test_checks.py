"""Each gradient-masking check fires on a model built to trigger it, stays quiet on a normal one, and records its
numbers either way; every warning class is documented in docs/checks.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from explainlab.attacks.pgd import PGD
from explainlab.errors import ExplainlabWarning
from explainlab.eval import checks
from explainlab.eval.checks import (
    WARNINGS,
    CheckSettings,
    check_black_box,
    check_determinism,
    check_eps_monotone,
    check_full_box,
    check_probability_output,
    check_transfer,
    check_zero_gradient,
    eps_sweep,
    run_checks,
    sweep_eps_values,
    to_warnings,
)
from explainlab.eval.square import p_selection, square_linf

DOCS = Path(__file__).resolve().parents[3] / "docs" / "checks.md"


class Softmaxed(nn.Module):
    def __init__(self, net: nn.Module, log: bool = False) -> None:
        super().__init__()
        self.net, self.log = net, log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x)
        return z.log_softmax(1) if self.log else z.softmax(1)


class Noisy(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x + 0.05 * torch.randn_like(x))


class RoundCount(nn.Module):
    """Class 1 iff more than a quarter of the pixels round to 1; zero gradients everywhere (x.round())."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        on = x.round().mean((1, 2, 3))
        return torch.stack([0.25 - on, on - 0.25], 1) * 20


class Window(nn.Module):
    """Class 1 only for inputs whose mean distance d from 0.5 lies in (0.025, 0.055), flat (zero gradient) outside
    (0.01, 0.07): small random starts land in the window, large ones far outside, so PGD accuracy rises with eps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = (x - 0.5).abs().mean((1, 2, 3))
        z1 = 10 * torch.relu(1 - (d - 0.04).abs() / 0.03)
        return torch.stack([torch.full_like(z1, 5.0), z1], 1)


@pytest.fixture
def labelled(tiny_model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        return x, tiny_model(x).argmax(1)


def test_normal_model_fires_nothing(tiny_model: nn.Module, labelled: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = labelled
    correct = torch.ones(len(y), dtype=torch.bool)
    robust = PGD(eps=0.3, steps=10, step_size=0.05).perturb(tiny_model, x, y)
    with torch.no_grad():
        white_box_robust = tiny_model(robust).argmax(1) == y
    settings = CheckSettings(n=16, sweep_steps=10, blackbox_n=8, blackbox_queries=50)
    results = run_checks(
        tiny_model, x, y, eps=0.3, clean_correct=correct, white_box_robust=white_box_robust, settings=settings,
        surrogate=tiny_model, transfer_attack=PGD(eps=0.3, steps=5, step_size=0.1),
    )  # fmt: skip
    assert set(results) == set(WARNINGS)
    assert not [r.code for r in results.values() if r.fired], {r.code: r.message for r in results.values()}
    assert results["zero_gradient"].details["fraction_vanishing"] == 0.0
    assert results["eps_not_monotone"].details["robust_accuracy"][0] == 1.0  # eps = 0: clean accuracy
    assert results["full_box_robust"].details["robust_accuracy"] == 0.0
    for r in results.values():
        assert r.details and r.message and r.n_eval >= 0
    assert to_warnings(results) == []


@pytest.mark.parametrize("log", [False, True])
def test_probability_outputs_fire(tiny_model: nn.Module, labelled: tuple, log: bool) -> None:
    x, _ = labelled
    result = check_probability_output(Softmaxed(tiny_model, log), x)
    assert result.fired and result.code == "probability_output"
    key = "fraction_log_probability_rows" if log else "fraction_probability_rows"
    assert result.details[key] == 1.0
    assert not check_probability_output(tiny_model, x).fired


def test_nondeterministic_model_fires(tiny_model: nn.Module, labelled: tuple) -> None:
    x, _ = labelled
    result = check_determinism(Noisy(tiny_model), x)
    assert result.fired and result.details["max_abs_diff"] > 1e-4
    quiet = check_determinism(tiny_model, x)
    assert not quiet.fired and quiet.details["max_abs_diff"] == 0.0


def test_rounding_model_masks_gradients_and_loses_to_black_box() -> None:
    model = RoundCount()
    x, y = torch.full((10, 1, 8, 8), 0.25), torch.zeros(10, dtype=torch.long)
    zero = check_zero_gradient(model, x, y)
    assert zero.fired and zero.details["fraction_vanishing"] == 1.0
    x_pgd = PGD(eps=0.3, steps=10, step_size=0.03).perturb(model, x, y)
    with torch.no_grad():
        white_box_robust = model(x_pgd).argmax(1) == y
    assert bool(white_box_robust.all()), "PGD cannot move through x.round()"
    result = check_black_box(model, x, y, white_box_robust, 0.3, n=10, queries=20)
    assert result.fired and result.code == "black_box_stronger"
    assert result.details["n_tried"] == 10 and result.details["n_broken"] == 10
    # a surrogate with useful gradients (same decision, smooth): its PGD examples transfer
    transfer = check_transfer(model, Smooth(), x, y, white_box_robust, PGD(eps=0.3, steps=10, step_size=0.05))
    assert transfer.fired and transfer.details["n_broken"] > 0


class Smooth(nn.Module):
    """A smooth stand-in for RoundCount: counts pixels above 0.5 with a steep sigmoid."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        on = torch.sigmoid(40 * (x - 0.5)).mean((1, 2, 3))
        return torch.stack([0.25 - on, on - 0.25], 1) * 20


def test_accuracy_rising_with_eps_fires_both_sweep_checks() -> None:
    model = Window()
    x, y = torch.full((12, 1, 8, 8), 0.5), torch.zeros(12, dtype=torch.long)
    eps_values = sweep_eps_values(0.3, (0.25, 0.5, 1.0, 2.0), 1.0)
    assert eps_values == [0.075, 0.15, 0.3, 0.6, 1.0]
    accuracies = eps_sweep(model, x, y, eps_values, steps=10)
    assert accuracies[0] == 0.0 and accuracies[-1] == 1.0, accuracies
    monotone = check_eps_monotone(eps_values, accuracies, clean=1.0, n=12, tol=0.03)
    assert monotone.fired and monotone.details["max_increase"] > 0.5
    assert check_full_box(1.0, accuracies[-1], 12, tol=0.02).fired


def test_sweep_decisions_record_numbers_when_quiet() -> None:
    quiet = check_eps_monotone([0.1, 0.3], [0.6, 0.61], clean=0.9, n=100, tol=0.03)
    assert not quiet.fired and quiet.details["robust_accuracy"] == [0.9, 0.6, 0.61]
    assert quiet.details["max_increase"] == pytest.approx(0.01)
    assert not check_full_box(1.0, 0.0, 100, tol=0.02).fired


def test_fired_checks_become_warnings_of_their_class() -> None:
    fired = check_full_box(1.0, 0.5, 10, tol=0.02)
    with pytest.warns(checks.FullBoxRobustWarning, match="at eps=1"):
        out = to_warnings({fired.code: fired})
    assert [w.model_dump() for w in out] == [{"code": "full_box_robust", "message": fired.message,
                                              "details": fired.details}]  # fmt: skip
    assert to_warnings({fired.code: fired}, emit=False)[0].code == "full_box_robust"


def test_square_stays_in_the_ball(tiny_model: nn.Module, labelled: tuple) -> None:
    x, y = labelled
    x_adv, used = square_linf(tiny_model, x, y, 0.1, n_queries=30, seed=1)
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6
    assert float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    assert int(used.max()) <= 30 and int(used.min()) >= 1
    assert p_selection(0.8, 0, 1000) == 0.8 and p_selection(0.8, 999, 1000) == 0.8 / 2**9


def test_every_warning_is_a_documented_subclass() -> None:
    text = DOCS.read_text()
    for code, cls in WARNINGS.items():
        assert issubclass(cls, ExplainlabWarning) and cls.code == code
        assert inspect.getdoc(cls), f"{cls.__name__} has no docstring"
        section = re.search(rf"^## `{code}`.*?(?=^## |\Z)", text, re.S | re.M)
        assert section, f"docs/checks.md lacks a section for {code}"
        assert "Raised if" in section.group(0) and "What to do" in section.group(0)
        assert cls.__name__ in section.group(0)
