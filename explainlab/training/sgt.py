"""Saliency-guided training: keep the prediction when the least salient pixels are replaced by noise."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import input_gradient
from explainlab.training.base import LossParts, MethodParams, TrainingMethod, eval_mode, unwrap


def mask_lowest(x: Tensor, scores: Tensor, fraction: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Replace the k = int(fraction * H * W) lowest-scoring pixels (all channels) by U[min(x_i), max(x_i)] values.

    x: (N, C, H, W); scores: (N, H, W). Returns (masked x, mask (N, H, W) bool with exactly k pixels set per example).
    """
    n, _, h, w = x.shape
    k = int(fraction * h * w)
    idx = scores.flatten(1).topk(k, dim=1, largest=False).indices  # (N, k)
    mask = torch.zeros(n, h * w, dtype=torch.bool, device=x.device).scatter_(1, idx, True).view(n, h, w)
    lo = x.flatten(1).amin(1).view(n, 1, 1, 1)
    hi = x.flatten(1).amax(1).view(n, 1, 1, 1)
    fill = lo + (hi - lo) * torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return torch.where(mask.unsqueeze(1), fill, x), mask


def saliency_kl(masked_logits: Tensor, logits: Tensor) -> Tensor:
    """KL(p(x) || p(x~)) averaged over the batch; both branches receive gradients."""
    return F.kl_div(F.log_softmax(masked_logits, 1), F.log_softmax(logits, 1), log_target=True, reduction="batchmean")


class SGT(TrainingMethod):
    """Ismail, Corrada Bravo, Feizi 2021 (NeurIPS, arXiv:2111.14338): min_theta E CE(f(x), y) + lambda *
    KL(p(x) || p(x~)), x~ = x with the k lowest-saliency pixels (signed true-class input gradient, channel mean, eval
    mode, detached) replaced by U[min x, max x]."""

    name = "sgt"
    title = "Saliency-guided training"
    citation = "Ismail, Corrada Bravo, Feizi 2021, NeurIPS, arXiv:2111.14338"

    class Params(MethodParams):
        mask_fraction: float = Field(
            0.5, gt=0.0, lt=1.0, description="fraction of pixels masked (paper README: 0.5 MNIST; CIFAR 0.1)"
        )
        kl_weight: float = Field(1.0, ge=0.0, le=100.0, description="lambda on KL(p(x) || p(x~)) (paper: 1)")
        abs_saliency: bool = Field(
            False, description="rank by |gradient| (False, as the code: 'lowest' = most negative gradient)"
        )

    params: Params

    def masked(self, model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(x~, mask (N, H, W)): the masked copy of x, generated in eval mode."""
        inner = unwrap(model)
        with eval_mode(inner), torch.enable_grad():
            scores = input_gradient(inner, x.detach(), y, create_graph=False).mean(1)  # (N, H, W)
        if self.params.abs_saliency:
            scores = scores.abs()
        x_masked, mask = mask_lowest(x.detach(), scores, self.params.mask_fraction, self.generator)
        return x_masked.detach(), mask

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        x_masked, _ = self.masked(model, x, y)
        logits = model(torch.cat([x, x_masked]))
        clean, masked = logits[: len(x)], logits[len(x) :]
        ce, kl = F.cross_entropy(clean, y), saliency_kl(masked, clean)
        return LossParts(ce + self.params.kl_weight * kl, {"ce": float(ce.detach()), "kl": float(kl.detach())})
