"""IG-SUM-NORM (Robust Attribution Regularization): adversarial loss plus the L1 norm of IG of the loss, maximized
together."""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.training.base import LossParts, TrainingMethod, eval_mode, unwrap
from explainlab.training.rar import RARParams, ig_adversary, loss_ig


class IGSumNorm(TrainingMethod):
    """Chen, Wu, Rastogi, Liang, Jha 2019 (NeurIPS, arXiv:1905.09957) IG-SUM-NORM: min_theta E max_{x' in
    B_inf(x, eps)} CE(f(x'), y) + beta * ||IG^{l_y}(x, x')||_1, the max by PGD with a random start on the
    m / approx_factor-point IG, the outer term with m points and x' held constant (beta = 0 is Madry PGD-AT). The paper
    sums both terms over the batch; batch means here keep the same per-example balance."""

    name = "ig_sum_norm"
    title = "RAR IG-SUM-NORM"
    citation = "Chen, Wu, Rastogi, Liang, Jha 2019, Robust Attribution Regularization, NeurIPS, arXiv:1905.09957"

    class Params(RARParams):
        ig_weight: float = Field(0.1, ge=0.0, le=100.0, description="beta on ||IG(x, x')||_1 (paper: 0.1 on MNIST)")

    params: Params

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        p = self.params
        inner = unwrap(model)
        with eval_mode(inner), self.attack_precision(x):
            x_adv = ig_adversary(
                inner, x, y, eps=p.eps, steps=p.steps, step_size=p.step_size,
                path_points=p.path_points // p.approx_factor, ce_weight=1.0, ig_weight=p.ig_weight, chunk=p.chunk,
                generator=self.generator,
            )  # fmt: skip
        if p.ig_weight == 0:  # Madry PGD-AT: no IG term to pay for
            adv = F.cross_entropy(model(x_adv), y)
            return LossParts(adv, {"adv_ce": float(adv.detach())})
        ig, ce_adv = loss_ig(model, x, x_adv, y, p.path_points, chunk=p.chunk)  # CE at x' is the last path point
        adv, l1 = ce_adv.mean(), ig.abs().flatten(1).sum(1).mean()
        return LossParts(adv + p.ig_weight * l1, {"adv_ce": float(adv.detach()), "ig_l1": float(l1.detach())})
