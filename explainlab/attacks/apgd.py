"""APGD: step-size-free PGD with momentum and adaptive step halving (the core of AutoAttack)."""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.attacks.base import Attack, AttackParams
from explainlab.attacks.objectives import Loss, evaluate_loss

MOMENTUM = 0.75  # alpha in Algorithm 1
RHO = 0.75  # fraction of loss-increasing steps below which the step size is halved


def checkpoints(n_iter: int) -> list[int]:
    """Iterations w_j = ceil(p_j * N) at which the step size may be halved: p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06) (Croce & Hein 2020, §3.2)."""
    p = [0.0, 0.22]
    while p[-1] < 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    marks = {math.ceil(q * n_iter - 1e-9) for q in p[1:]}  # - 1e-9: 0.57 * 100 is 57.000000001 in floats
    return sorted(w for w in marks if 0 < w < n_iter)


class APGD(Attack):
    """Croce & Hein 2020 (arXiv:2003.01690), Auto-PGD: z = P(x_k + eta*d(grad)), x_{k+1} = P(x_k + a(z - x_k) +
    (1 - a)(x_k - x_{k-1})), eta halved at checkpoints when progress stalls, restarting from the best point.
    Loss: cross-entropy (APGD-CE) or the difference of logits ratio (APGD-DLR)."""

    name = "apgd"
    title = "APGD (Auto-PGD)"
    citation = "Croce, Hein 2020, Reliable evaluation of adversarial robustness, arXiv:2003.01690"
    targeted = True

    class Params(AttackParams):
        steps: int = Field(100, ge=1, le=1000, description="iterations per restart (N_iter)")
        restarts: int = Field(1, ge=1, le=20, description="random restarts")
        loss: Loss = Field("ce", description="ce (APGD-CE) or dlr (APGD-DLR)")

    params: Params

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None, gen: torch.Generator) -> Tensor:
        best_x = x.clone()
        best_score = torch.full((x.shape[0],), float("-inf"), device=x.device)
        for _ in range(self.params.restarts):
            run_x, run_score = self._run(model, x, y, target, gen)
            better = run_score > best_score
            best_x[better], best_score[better] = run_x[better], run_score[better]
            if bool((best_score > 0).all()):
                break
        return best_x

    def _run(
        self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None, gen: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        p, threat = self.params, self.threat
        n, view = x.shape[0], (-1, 1, 1, 1)
        marks = set(checkpoints(p.steps))
        eta = torch.full((n,), 2.0 * p.eps, device=x.device)  # initial step 2*eps
        x_cur = threat.random_init(x, gen)
        loss_cur, score, grad = evaluate_loss(model, x_cur, y, p.loss, target, True)
        best_x, best_score = x_cur.clone(), score.clone()
        x_max, loss_max, grad_max = x_cur.clone(), loss_cur.clone(), grad.clone()  # type: ignore[union-attr]
        x_prev = x_cur.clone()
        increases = torch.zeros(n, device=x.device)
        loss_max_at_mark, halved_at_mark = loss_max.clone(), torch.zeros(n, dtype=torch.bool, device=x.device)
        last_mark = 0
        for k in range(p.steps):
            z = threat.project(threat.ascend(x_cur, grad, eta.view(view)), x)  # type: ignore[arg-type]
            a = MOMENTUM if k > 0 else 1.0
            x_new = threat.project(x_cur + a * (z - x_cur) + (1 - a) * (x_cur - x_prev), x)
            loss_new, score, grad = evaluate_loss(model, x_new, y, p.loss, target, k < p.steps - 1)
            increases += (loss_new > loss_cur).float()
            better = score > best_score
            best_x[better], best_score[better] = x_new[better], score[better]
            improved = loss_new > loss_max
            x_max[improved], loss_max[improved] = x_new[improved], loss_new[improved]
            if grad is not None:
                grad_max[improved] = grad[improved]
            x_prev, x_cur, loss_cur = x_cur, x_new, loss_new
            if k + 1 in marks and grad is not None:
                stalled = increases < RHO * (k + 1 - last_mark)  # condition 1
                no_progress = ~halved_at_mark & (loss_max <= loss_max_at_mark)  # condition 2
                halve = stalled | no_progress
                eta[halve] /= 2.0
                x_cur, grad = x_cur.clone(), grad.clone()
                x_cur[halve], grad[halve], loss_cur[halve] = x_max[halve], grad_max[halve], loss_max[halve]
                x_prev = torch.where(halve.view(view), x_cur, x_prev)  # restart without momentum
                increases.zero_()
                loss_max_at_mark, halved_at_mark, last_mark = loss_max.clone(), halve, k + 1
        return best_x, best_score
