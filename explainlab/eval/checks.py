"""Gradient-masking and sanity checks in the spirit of AutoAttack's flags (Croce & Hein 2020, arXiv:2003.01690).

Each check returns a :class:`CheckResult` with its numbers whether or not it fired; a fired check also becomes a
report warning ``{code, message, details}`` and, when emitted, a Python warning of the matching
:class:`ExplainlabWarning` subclass. docs/checks.md says for every code when it is raised and what to do.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.attacks.objectives import margin
from explainlab.attacks.pgd import PGD
from explainlab.errors import ExplainlabWarning
from explainlab.eval.report import CheckResult, ReportWarning
from explainlab.eval.square import square_linf
from explainlab.params import Params

log = logging.getLogger(__name__)


class CheckWarning(ExplainlabWarning):
    """Base of the warnings a fired evaluation check raises; ``code`` is the key in report.json and docs/checks.md."""

    code: ClassVar[str]


class ProbabilityOutputWarning(CheckWarning):
    """The model returns probabilities (or log-probabilities) instead of logits: cross-entropy attacks on them see
    flattened, saturating gradients and overstate robustness."""

    code = "probability_output"


class NondeterministicOutputWarning(CheckWarning):
    """Two forward passes of the same input disagree (dropout left on, noise inside the model): attacks then chase a
    moving target and robust accuracy is not reproducible."""

    code = "nondeterministic_output"


class ZeroGradientWarning(CheckWarning):
    """Many test points have an (almost) zero input gradient of the loss, so gradient attacks cannot move: a sign
    of gradient masking (rounding, step functions, saturated softmax)."""

    code = "zero_gradient"


class EpsNotMonotoneWarning(CheckWarning):
    """Robust accuracy does not fall as the budget eps grows, although every larger ball contains the smaller one:
    the attack is failing, not the model succeeding."""

    code = "eps_not_monotone"


class FullBoxRobustWarning(CheckWarning):
    """Robust accuracy is not ~0 at a huge budget (eps = 1 in L-inf allows any image): the attack is too weak or the
    gradients are masked."""

    code = "full_box_robust"


class WeakAttackWarning(CheckWarning):
    """An attack that does not use the model's gradients broke points the white-box attacks could not."""

    code = "weak_attack"


class BlackBoxStrongerWarning(WeakAttackWarning):
    """A score-based black-box attack (Square-like random search) broke points that PGD and APGD left robust."""

    code = "black_box_stronger"


class TransferStrongerWarning(WeakAttackWarning):
    """Adversarial examples crafted on a surrogate model transfer to points the white-box attacks left robust."""

    code = "transfer_stronger"


WARNINGS: dict[str, type[CheckWarning]] = {
    cls.code: cls
    for cls in (
        ProbabilityOutputWarning,
        NondeterministicOutputWarning,
        ZeroGradientWarning,
        EpsNotMonotoneWarning,
        FullBoxRobustWarning,
        BlackBoxStrongerWarning,
        TransferStrongerWarning,
    )
}


class CheckSettings(Params):
    """Budgets and thresholds of the checks (recorded in the report)."""

    enabled: bool = Field(True, description="run the checks at all")
    n: int = Field(200, ge=1, le=100_000, description="test images for the output, gradient and eps-sweep checks")
    prob_tol: float = Field(
        1e-3, gt=0.0, le=0.5, description="|row sum - 1| below which a row looks like probabilities"
    )
    nondeterminism_tol: float = Field(1e-4, gt=0.0, le=1.0, description="max |logit difference| between two passes")
    zero_grad_tol: float = Field(1e-8, ge=0.0, le=1.0, description="logit-margin gradient L2 norm counted as vanishing")
    zero_grad_max_fraction: float = Field(0.01, ge=0.0, le=1.0, description="fire above this fraction of zero grads")
    sweep_fractions: tuple[float, ...] = Field(
        (0.25, 0.5, 1.0, 2.0), min_length=1, description="eps multiples for the sweep (each clamped to <= 1)"
    )
    sweep_steps: int = Field(20, ge=1, le=1000, description="PGD steps per sweep point (step 2.5 eps / steps)")
    full_box_eps: float = Field(1.0, gt=0.0, le=1.0, description="the 'huge' budget at which accuracy must be ~0")
    monotone_tol: float = Field(0.03, ge=0.0, le=1.0, description="allowed accuracy increase between sweep points")
    full_box_tol: float = Field(0.02, ge=0.0, le=1.0, description="allowed robust accuracy at full_box_eps")
    blackbox_n: int = Field(100, ge=0, le=100_000, description="white-box-robust points the black-box attack tries")
    blackbox_queries: int = Field(1000, ge=1, le=100_000, description="queries per point (Square-like search)")
    blackbox_p_init: float = Field(0.8, gt=0.0, le=1.0, description="initial square area fraction (AutoAttack: 0.8)")
    blackbox_max_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="fire when more than this fraction of the tried points break"
    )
    surrogate: str | None = Field(None, description="stored model dir of a surrogate for the transfer check")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the sweep and black-box randomness")


def _result(code: str, fired: bool, n: int, message: str, details: dict, start: float) -> CheckResult:
    return CheckResult(
        code=code,
        fired=fired,
        n_eval=n,
        message=message,
        details=details,
        seconds=round(time.perf_counter() - start, 3),
    )


@torch.no_grad()
def check_probability_output(model: nn.Module, x: Tensor, tol: float = 1e-3) -> CheckResult:
    """Fires when most output rows are non-negative and sum to 1 (probabilities) or log-sum-exp to 0 (log-probs)."""
    start = time.perf_counter()
    out = model(x).double()  # (N, K)
    prob_rows = (out.min(1).values >= 0) & ((out.sum(1) - 1).abs() < tol)
    logprob_rows = (out.max(1).values <= 0) & (out.logsumexp(1).abs() < tol)
    details = {
        "fraction_probability_rows": float(prob_rows.float().mean()),
        "fraction_log_probability_rows": float(logprob_rows.float().mean()),
        "mean_row_sum": float(out.sum(1).mean()),
        "min_output": float(out.min()),
        "max_output": float(out.max()),
        "tol": tol,
    }
    kind = "probabilities" if details["fraction_probability_rows"] > 0.5 else "log-probabilities"
    share = max(details["fraction_probability_rows"], details["fraction_log_probability_rows"])
    fired = share > 0.5
    message = (
        f"the model seems to output {kind}, not logits ({share:.0%} of rows); remove the final softmax so attacks "
        "see logits"
        if fired
        else "outputs look like logits"
    )
    return _result(ProbabilityOutputWarning.code, fired, len(x), message, details, start)


@torch.no_grad()
def check_determinism(model: nn.Module, x: Tensor, tol: float = 1e-4) -> CheckResult:
    """Fires when two forward passes of the same batch differ by more than ``tol`` anywhere."""
    start = time.perf_counter()
    diff = float((model(x) - model(x)).abs().max())
    fired = diff > tol
    message = (
        f"two forward passes differ by up to {diff:.3g}: is dropout or noise active (model.eval())?"
        if fired
        else "outputs are deterministic"
    )
    return _result(
        NondeterministicOutputWarning.code, fired, len(x), message, {"max_abs_diff": diff, "tol": tol}, start
    )


def check_zero_gradient(
    model: nn.Module, x: Tensor, y: Tensor, tol: float = 1e-8, max_fraction: float = 0.01
) -> CheckResult:
    """Fires when more than ``max_fraction`` of the points have a vanishing input gradient: the logit margin's
    gradient has L2 norm <= ``tol`` (rounding, step functions), or the cross-entropy gradient is exactly zero (sign
    steps cannot move). A tiny but non-zero CE gradient with a healthy margin gradient only means a saturated
    softmax (sign steps and APGD-DLR still work); it is recorded as ``fraction_tiny_ce`` and does not fire."""
    start = time.perf_counter()
    xr = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(xr)
        (g_ce,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), xr, retain_graph=True)
        (g_margin,) = torch.autograd.grad(margin(logits, y).sum(), xr)
    norm_ce, norm_margin = g_ce.flatten(1).norm(dim=1), g_margin.flatten(1).norm(dim=1)  # (N,)
    vanishing = (norm_margin <= tol) | (norm_ce == 0)
    fraction = float(vanishing.float().mean())
    details = {
        "fraction_vanishing": fraction,
        "fraction_vanishing_margin": float((norm_margin <= tol).float().mean()),
        "fraction_exact_zero_ce": float((norm_ce == 0).float().mean()),
        "fraction_tiny_ce": float((norm_ce <= tol).float().mean()),
        "median_grad_norm_ce": float(norm_ce.median()),
        "median_grad_norm_margin": float(norm_margin.median()),
        "tol": tol,
        "max_fraction": max_fraction,
    }
    fired = fraction > max_fraction
    message = (
        f"{fraction:.0%} of the points have a vanishing input gradient (margin gradient norm <= {tol:g} or zero "
        "cross-entropy gradient): gradient attacks cannot move there (gradient masking?)"
        if fired
        else f"{fraction:.1%} of the points have a vanishing input gradient"
    )
    return _result(ZeroGradientWarning.code, fired, len(x), message, details, start)


def sweep_eps_values(eps: float, fractions: tuple[float, ...], full_box_eps: float) -> list[float]:
    """Sorted, de-duplicated budgets of the sweep: eps * fractions clamped to <= 1, plus ``full_box_eps``."""
    values = {round(min(1.0, eps * f), 6) for f in fractions if eps * f > 0} | {round(full_box_eps, 6)}
    return sorted(values)


def eps_sweep(
    model: nn.Module, x: Tensor, y: Tensor, eps_values: list[float], *, steps: int = 20, seed: int = 0
) -> list[float]:
    """Robust accuracy under L-inf PGD (random start, step 2.5 eps / steps) at each budget, over all of x."""
    accuracies = []
    for e in eps_values:
        attack = PGD(eps=e, steps=steps, step_size=min(2.0, 2.5 * e / steps), restarts=1, seed=seed)
        with torch.no_grad():
            accuracies.append(float((model(attack.perturb(model, x, y)).argmax(1) == y).float().mean()))
    return accuracies


def check_eps_monotone(
    eps_values: list[float], accuracies: list[float], clean: float, n: int, tol: float
) -> CheckResult:
    """Fires when robust accuracy rises by more than ``tol`` from one budget to the next (eps = 0: clean)."""
    start = time.perf_counter()
    curve = [clean, *accuracies]
    rises = [(b - a) for a, b in zip(curve, curve[1:], strict=False)]
    worst = max(rises) if rises else 0.0
    details = {"eps": [0.0, *eps_values], "robust_accuracy": curve, "max_increase": worst, "tol": tol}
    fired = worst > tol
    message = (
        f"robust accuracy rises by {worst:.1%} as eps grows ({_curve_text(details)}): the attack is failing"
        if fired
        else "robust accuracy falls with eps"
    )
    return _result(EpsNotMonotoneWarning.code, fired, n, message, details, start)


def check_full_box(eps: float, accuracy: float, n: int, tol: float) -> CheckResult:
    """Fires when robust accuracy at the huge budget ``eps`` exceeds ``tol``."""
    start = time.perf_counter()
    fired = accuracy > tol
    message = (
        f"robust accuracy {accuracy:.1%} at eps={eps:g} (any image is reachable): the attack is too weak or the "
        "gradients are masked"
        if fired
        else f"robust accuracy {accuracy:.1%} at eps={eps:g}"
    )
    return _result(
        FullBoxRobustWarning.code, fired, n, message, {"eps": eps, "robust_accuracy": accuracy, "tol": tol}, start
    )


def _curve_text(details: dict) -> str:
    return ", ".join(f"{e:.3g}: {a:.1%}" for e, a in zip(details["eps"], details["robust_accuracy"], strict=True))


def robust_subset(robust: Tensor, n: int) -> Tensor:
    """The indices of the first ``n`` points the white-box attacks left robust: the points the black-box and transfer
    checks try (bench/black_box_points.py repeats the choice)."""
    return robust.nonzero().squeeze(1)[:n]


def check_black_box(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    white_box_robust: Tensor,
    eps: float,
    *,
    n: int = 100,
    queries: int = 1000,
    p_init: float = 0.8,
    max_fraction: float = 0.0,
    seed: int = 0,
) -> CheckResult:
    """Run the Square-like search on up to ``n`` points that every white-box attack left robust; fires when it
    breaks more than ``max_fraction`` of them (and at least one)."""
    start = time.perf_counter()
    idx = robust_subset(white_box_robust, n)
    broken, mean_queries = 0, 0.0
    if idx.numel():
        x_adv, used = square_linf(model, x[idx], y[idx], eps, n_queries=queries, p_init=p_init, seed=seed)
        with torch.no_grad():
            broken = int((model(x_adv).argmax(1) != y[idx]).sum())
        mean_queries = float(used.float().mean())
    tried = int(idx.numel())
    details = {
        "n_tried": tried, "n_broken": broken, "fraction_broken": broken / tried if tried else 0.0,
        "eps": eps, "queries": queries, "mean_queries_used": mean_queries, "p_init": p_init,
        "max_fraction": max_fraction, "n_white_box_robust": int(white_box_robust.sum()),
    }  # fmt: skip
    fired = broken > 0 and broken > max_fraction * tried
    message = (
        f"a black-box random search broke {broken} of {tried} points that PGD/APGD left robust: the white-box "
        "evaluation overstates robustness (gradient masking?)"
        if fired
        else f"black-box search broke {broken} of {tried} white-box-robust points"
    )
    return _result(BlackBoxStrongerWarning.code, fired, tried, message, details, start)


def check_transfer(
    model: nn.Module,
    surrogate: nn.Module,
    x: Tensor,
    y: Tensor,
    white_box_robust: Tensor,
    attack: PGD,
    *,
    n: int = 100,
    max_fraction: float = 0.0,
) -> CheckResult:
    """PGD on ``surrogate``, evaluated on ``model``, for up to ``n`` white-box-robust points."""
    start = time.perf_counter()
    idx = robust_subset(white_box_robust, n)
    broken = 0
    if idx.numel():
        x_adv = attack.perturb(surrogate, x[idx], y[idx])
        with torch.no_grad():
            broken = int((model(x_adv).argmax(1) != y[idx]).sum())
    tried = int(idx.numel())
    details = {"n_tried": tried, "n_broken": broken, "attack": attack.params.model_dump(), "max_fraction": max_fraction}
    fired = broken > 0 and broken > max_fraction * tried
    message = (
        f"examples transferred from the surrogate broke {broken} of {tried} points that white-box attacks left robust"
        if fired
        else f"transfer broke {broken} of {tried} white-box-robust points"
    )
    return _result(TransferStrongerWarning.code, fired, tried, message, details, start)


def to_warnings(results: dict[str, CheckResult], *, emit: bool = True) -> list[ReportWarning]:
    """The fired checks as report warnings; with ``emit`` also as Python warnings of their classes."""
    fired = [r for r in results.values() if r.fired]
    for r in fired:
        log.warning("check %s fired: %s", r.code, r.message)
        if emit:
            warnings.warn(WARNINGS[r.code](r.message), stacklevel=3)
    return [ReportWarning(code=r.code, message=r.message, details=r.details) for r in fired]


def run_checks(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    clean_correct: Tensor,
    white_box_robust: Tensor,
    settings: CheckSettings | None = None,
    surrogate: nn.Module | None = None,
    transfer_attack: PGD | None = None,
) -> dict[str, CheckResult]:
    """Every check on (x, y): the output, gradient and sweep checks on the first ``settings.n`` points, the
    black-box (and, with a surrogate, transfer) check on points the white-box attacks left robust."""
    s = settings or CheckSettings()
    xs, ys = x[: s.n], y[: s.n]
    results = [
        check_probability_output(model, xs, s.prob_tol),
        check_determinism(model, xs, s.nondeterminism_tol),
        check_zero_gradient(model, xs, ys, s.zero_grad_tol, s.zero_grad_max_fraction),
    ]
    eps_values = sweep_eps_values(eps, s.sweep_fractions, s.full_box_eps)
    start = time.perf_counter()
    accuracies = eps_sweep(model, xs, ys, eps_values, steps=s.sweep_steps, seed=s.seed)
    log.info("eps sweep %s -> robust accuracy %s (%.1f s)", eps_values, accuracies, time.perf_counter() - start)
    clean = float(clean_correct[: s.n].float().mean())
    results.append(check_eps_monotone(eps_values, accuracies, clean, len(xs), s.monotone_tol))
    full = eps_values.index(round(s.full_box_eps, 6))
    results.append(check_full_box(eps_values[full], accuracies[full], len(xs), s.full_box_tol))
    results.append(
        check_black_box(
            model,
            x,
            y,
            white_box_robust,
            eps,
            n=s.blackbox_n,
            queries=s.blackbox_queries,
            p_init=s.blackbox_p_init,
            max_fraction=s.blackbox_max_fraction,
            seed=s.seed,
        )  # fmt: skip
    )
    if surrogate is not None and transfer_attack is not None:
        results.append(
            check_transfer(
                model,
                surrogate,
                x,
                y,
                white_box_robust,
                transfer_attack,
                n=s.blackbox_n,
                max_fraction=s.blackbox_max_fraction,
            )  # fmt: skip
        )
    return {r.code: r for r in results}
