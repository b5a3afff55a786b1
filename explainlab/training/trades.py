"""TRADES: trade natural accuracy against robustness through a KL term on adversarial neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.training.base import AdversarialParams, LossParts, TrainingMethod, eval_mode, unwrap


class TRADES(TrainingMethod):
    """Zhang et al. 2019 (arXiv:1901.08573): min_theta E CE(f(x), y) + beta * max_{||x'-x|| <= eps} KL(p(x) || p(x')),
    the inner max by PGD on the KL from x + 0.001 N(0, I)."""

    name = "trades"
    title = "TRADES"
    citation = "Zhang, Yu, Jiao, Xing, El Ghaoui, Jordan 2019, arXiv:1901.08573"

    class Params(AdversarialParams):
        beta: float = Field(6.0, ge=0.0, le=100.0, description="weight of the robustness (KL) term (paper: 6)")

    params: Params

    def _kl_adversary(self, model: nn.Module, x: Tensor) -> Tensor:
        p = self.params
        model = unwrap(model)
        with eval_mode(model), self.attack_precision(x), torch.enable_grad():
            target = F.softmax(model(x), 1).detach()
            noise = torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
            x_adv = (x + 0.001 * noise).clamp(0, 1)
            for _ in range(p.steps):
                x_adv.requires_grad_(True)
                kl = F.kl_div(F.log_softmax(model(x_adv), 1), target, reduction="sum")
                (grad,) = torch.autograd.grad(kl, x_adv)
                x_adv = (x + (x_adv.detach() + p.step_size * grad.sign() - x).clamp(-p.eps, p.eps)).clamp(0, 1)
        return x_adv.detach()

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        x_adv = self._kl_adversary(model, x)
        logits = model(torch.cat([x, x_adv]))
        clean, adv = logits[: len(x)], logits[len(x) :]
        ce = F.cross_entropy(clean, y)
        kl = F.kl_div(F.log_softmax(adv, 1), F.softmax(clean, 1), reduction="batchmean")
        return LossParts(ce + self.params.beta * kl, {"ce": float(ce.detach()), "kl": float(kl.detach())})
