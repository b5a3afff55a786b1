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
) -> tuple[Tensor, Tensor]:
    """Projected sign/normalized-gradient ascent from ``restarts`` starts; returns (x_adv, score), both per example.

    The first run starts at x (or a random point if ``random_start``); every later restart starts at a random point.

    ``keep="best"`` returns, per example, the iterate with the highest score over all steps and restarts (the clean
    start is not a candidate when ``random_start``); ``keep="last"`` returns the final iterate of the best restart.
    Restarts stop early once every example's score exceeds ``stop_score`` (None: always run all restarts).
    """
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    best_x = x.clone()
    best_score = torch.full((x.shape[0],), float("-inf"), device=x.device)
    for restart in range(restarts):
        x_adv = threat.random_init(x, generator) if random_start or restart > 0 else x.clone()
        run_x = x_adv.clone()
        run_score = torch.full_like(best_score, float("-inf"))
        for t in range(steps + 1):
            grad, score = objective(x_adv, t < steps)
            if keep == "best":
                _keep_better(run_x, run_score, x_adv, score)
            if grad is None:
                break
            x_adv = threat.project(threat.ascend(x_adv, grad, step_size), x).detach()
        if keep == "last":
            run_x, run_score = x_adv, score
        _keep_better(best_x, best_score, run_x, run_score)
        if stop_score is not None and bool((best_score > stop_score).all()):
            break
    return best_x, best_score
