"""A score-based black-box L-inf attack (Square-like random search) for the gradient-masking check.

Andriushchenko, Croce, Flammarion, Hein 2020 (arXiv:1912.00049), Square Attack, L-inf version: start from vertical
stripes of +-eps, then each query re-draws a random square window of the perturbation to +-eps per channel and keeps
the change if the margin loss z_y - max_{j!=y} z_j went down; the window side shrinks on AutoAttack's schedule
(p_init 0.8, halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10000 queries). It uses only the model's
outputs, so gradient masking cannot stop it; that is why it is a check here and not a registry attack (one window
position per query for the whole batch, no per-example restarts).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from explainlab.attacks.objectives import margin

_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def p_selection(p_init: float, query: int, n_queries: int) -> float:
    """Fraction of pixels in the square at this query (AutoAttack's schedule rescaled to ``n_queries``)."""
    it = int(query / n_queries * 10000)
    halvings = sum(it > t for t in _SCHEDULE)
    return p_init / 2**halvings


@torch.no_grad()
def square_linf(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    n_queries: int = 1000,
    p_init: float = 0.8,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """Random-search adversarial examples within the L-inf ball; returns (x_adv, queries used per example).

    An example stops querying once it is misclassified; x_adv is the best point found (lowest margin loss).
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    n, c, h, w = x.shape
    stripes = torch.randint(0, 2, (n, c, 1, w), generator=gen, device=x.device).to(x.dtype) * 2 - 1
    x_best = (x + eps * stripes).clamp(0.0, 1.0)  # (N, C, H, W): vertical stripes of +-eps
    loss = -margin(model(x_best), y)  # (N,) z_y - max_{j!=y} z_j: < 0 means broken
    queries = torch.ones(n, dtype=torch.long, device=x.device)
    for q in range(1, n_queries):
        active = (loss > 0).nonzero().squeeze(1)
        if active.numel() == 0:
            break
        side = int(round(math.sqrt(p_selection(p_init, q, n_queries) * h * w)))
        side = max(1, min(side, h - 1, w - 1))
        top = int(torch.randint(0, h - side + 1, (1,), generator=gen, device=x.device))
        left = int(torch.randint(0, w - side + 1, (1,), generator=gen, device=x.device))
        xa, xb = x[active], x_best[active]
        delta = xb - xa
        signs = torch.randint(0, 2, (active.numel(), c, 1, 1), generator=gen, device=x.device).to(x.dtype) * 2 - 1
        delta[:, :, top : top + side, left : left + side] = eps * signs  # (n_active, C, side, side) <- +-eps
        x_new = (xa + delta).clamp(0.0, 1.0)
        loss_new = -margin(model(x_new), y[active])
        queries[active] += 1
        better = loss_new < loss[active]
        x_best[active[better]] = x_new[better]
        loss[active[better]] = loss_new[better]
    return x_best, queries
