"""Adversarial saliency-guided training: SGT's masking consistency on PGD examples."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import input_gradient
from explainlab.training.base import AdversarialParams, LossParts, TrainingMethod, eval_mode, unwrap
from explainlab.training.sgt import mask_lowest, saliency_kl


class ASGT(TrainingMethod):
    """Lab version of Guesmi, Aswani, Shafique 2024 (arXiv:2405.06278, exact objective unpublished; methods.md §5.4):
    x_adv = PGD(x, y); L = CE(f(x_adv), y) + lambda * KL(p(x_adv) || p(x~_adv)) [+ CE(f(x), y) if mix_clean],
    x~_adv = x_adv with the k lowest |saliency| pixels (channel mean of |d f_y / dx| at x_adv) replaced by
    U[min x_adv, max x_adv]."""

    name = "asgt"
    title = "Adversarial saliency-guided training (lab version)"
    citation = "Guesmi, Aswani, Shafique 2024, arXiv:2405.06278 (lab version)"

    class Params(AdversarialParams):
        mask_fraction: float = Field(
            0.5, gt=0.0, lt=1.0, description="fraction of pixels masked (lab: 0.5 MNIST, 0.1 CIFAR-10)"
        )
        kl_weight: float = Field(1.0, ge=0.0, le=100.0, description="lambda on KL(p(x_adv) || p(x~_adv))")
        mix_clean: bool = Field(False, description="add CE(f(x), y) on the clean batch")

    params: Params

    def samples(self, model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(x_adv, x~_adv, mask (N, H, W)), generated in eval mode."""
        p = self.params
        x_adv = self.adversarial(model, x, y, p.eps, p.steps, p.step_size)
        inner = unwrap(model)
        with eval_mode(inner), torch.enable_grad():
            scores = input_gradient(inner, x_adv, y, create_graph=False).abs().mean(1)  # (N, H, W)
        x_masked, mask = mask_lowest(x_adv, scores, p.mask_fraction, self.generator)
        return x_adv, x_masked.detach(), mask

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        p = self.params
        x_adv, x_masked, _ = self.samples(model, x, y)
        batch = [x_adv, x_masked, x] if p.mix_clean else [x_adv, x_masked]
        logits = model(torch.cat(batch)).split(len(x))
        adv_ce, kl = F.cross_entropy(logits[0], y), saliency_kl(logits[1], logits[0])
        total = adv_ce + p.kl_weight * kl
        parts = {"adv_ce": float(adv_ce.detach()), "kl": float(kl.detach())}
        if p.mix_clean:
            clean_ce = F.cross_entropy(logits[2], y)
            total = total + clean_ce
            parts["clean_ce"] = float(clean_ce.detach())
        return LossParts(total, parts)
