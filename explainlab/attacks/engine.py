"""The one iterative loop shared by FGSM, PGD and the explanation attacks: ascend, project, keep the best iterate."""

from __future__ import annotations

import torch
from torch import Tensor

from explainlab.attacks.objectives import Objective
from explainlab.attacks.threat import ThreatStep


def _keep_better(best_x: Tensor, best_score: Tensor, x_new: Tensor, score: Tensor) -> None:
    better = score > best_score
    best_x[better] = x_new[better].to(best_x.dtype)
    best_score[better] = score[better].to(best_score.dtype)  # scores may be bf16 under autocast


def _reset(
    rejected: Tensor, previous: tuple[Tensor, Tensor, Tensor], x: Tensor, score: Tensor, grad: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Where ``rejected`` (N,) holds, take the previous iterate's (x, score, grad) instead of the new one's."""
    prev_x, prev_score, prev_grad = previous
    rows = rejected.view(-1, *([1] * (x.ndim - 1)))  # (N, 1, 1, 1)
    x = torch.where(rows, prev_x, x)
    score = torch.where(rejected, prev_score.to(score.dtype), score)
    return x, score, (None if grad is None else torch.where(rows, prev_grad.to(grad.dtype), grad))


def iterate(
    objective: Objective,
    x: Tensor,
    threat: ThreatStep,
    *,
    steps: int,
    step_size: float,
    random_start: bool,
    restarts: int,
    generator: torch.Generator,
    keep: str = "best",
    stop_score: float | None = 0.0,
    reset_rejected: bool = False,
) -> tuple[Tensor, Tensor]:
    """Projected sign/normalized-gradient ascent from ``restarts`` starts; returns (x_adv, score), both per example.

    The first run starts at x (or a random point if ``random_start``); every later restart starts at a random point.

    ``keep="best"`` returns, per example, the iterate with the highest score over all steps and restarts (the clean
    start is not a candidate when ``random_start``); ``keep="last"`` returns the final iterate of the best restart.
    Restarts stop early once every example's score exceeds ``stop_score`` (None: always run all restarts).

    ``reset_rejected``: an iterate scored -inf (inadmissible, e.g. an explanation attack's label flipped) is replaced,
    per example, by the previous iterate with its score and gradient, and the run goes on from there (ATEX's
    evaluation); with ``keep="last"`` each example then ends on its last admissible iterate.
    """
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    best_x = x.clone()
    best_score = torch.full((x.shape[0],), float("-inf"), device=x.device)
    for restart in range(restarts):
        x_adv = threat.random_init(x, generator) if random_start or restart > 0 else x.clone()
        run_x = x_adv.clone()
        run_score = torch.full_like(best_score, float("-inf"))
        previous: tuple[Tensor, Tensor, Tensor] | None = None  # (x, score, grad) of the last iterate
        for t in range(steps + 1):
            grad, score = objective(x_adv, t < steps)
            if reset_rejected and previous is not None:
                x_adv, score, grad = _reset(torch.isneginf(score), previous, x_adv, score, grad)
            if keep == "best":
                _keep_better(run_x, run_score, x_adv, score)
            if grad is None:
                break
            if reset_rejected:
                previous = (x_adv, score, grad)
            x_adv = threat.project(threat.ascend(x_adv, grad, step_size), x).detach()
        if keep == "last":
            run_x, run_score = x_adv, score
        _keep_better(best_x, best_score, run_x, run_score)
        if stop_score is not None and bool((best_score > stop_score).all()):
            break
    return best_x, best_score
