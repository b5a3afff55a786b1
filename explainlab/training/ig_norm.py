"""IG-NORM (Robust Attribution Regularization): natural loss plus the worst-case L1 norm of IG of the loss."""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.training.base import LossParts, TrainingMethod, eval_mode, unwrap
from explainlab.training.rar import RARParams, ig_adversary, ig_l1


class IGNorm(TrainingMethod):
    """Chen, Wu, Rastogi, Liang, Jha 2019 (NeurIPS, arXiv:1905.09957) IG-NORM: min_theta E CE(f(x), y) + lambda *
    max_{x' in B_inf(x, eps)} ||IG^{l_y}(x, x')||_1, the max by PGD with a random start on the m / approx_factor-point
    IG, the outer IG with m points and x' held constant (double backprop). The paper sums CE and the L1 term over the
    batch; batch means here keep the same per-example balance."""

    name = "ig_norm"
    title = "RAR IG-NORM"
    citation = "Chen, Wu, Rastogi, Liang, Jha 2019, Robust Attribution Regularization, NeurIPS, arXiv:1905.09957"

    class Params(RARParams):
        ig_weight: float = Field(1.0, ge=0.0, le=100.0, description="lambda on ||IG(x, x')||_1 (paper: 1.0)")

    params: Params

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        p = self.params
        ce = F.cross_entropy(model(x), y)
        if p.ig_weight == 0:  # natural training; skip the attack
            return LossParts(ce, {"ce": float(ce.detach())})
        inner = unwrap(model)
        with eval_mode(inner), self.attack_precision(x):
            x_adv = ig_adversary(
                inner, x, y, eps=p.eps, steps=p.steps, step_size=p.step_size,
                path_points=p.path_points // p.approx_factor, ce_weight=0.0, ig_weight=1.0, chunk=p.chunk,
                generator=self.generator,
            )  # fmt: skip
        l1 = ig_l1(model, x, x_adv, y, p.path_points, chunk=p.chunk).mean()
        return LossParts(ce + p.ig_weight * l1, {"ce": float(ce.detach()), "ig_l1": float(l1.detach())})
