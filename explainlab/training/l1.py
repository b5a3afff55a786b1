"""L1-regularized natural training, the concise-explanations baseline of Chalasani et al."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.training.base import LossParts, MethodParams, TrainingMethod


class L1(TrainingMethod):
    """Chalasani et al. 2020 (arXiv:1810.06583) baseline: min_theta E CE(f(x), y) + lambda * sum_w |w| over all
    trainable tensors. The paper sums CE over batches of 50 with lambda = 0.01 (MNIST); with the batch-mean CE used
    here the same balance is lambda = 0.01 / 50 = 2e-4."""

    name = "l1"
    title = "L1-regularized natural training"
    citation = "Chalasani, Chen, Chowdhury, Jha, Wu 2020, Concise Explanations, arXiv:1810.06583"

    class Params(MethodParams):
        weight: float = Field(2e-4, ge=0.0, le=1.0, description="lambda on sum |w| (per batch-mean CE)")

    params: Params

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        ce = F.cross_entropy(model(x), y)
        l1 = torch.stack([p.abs().sum() for p in model.parameters() if p.requires_grad]).sum()
        return LossParts(ce + self.params.weight * l1, {"ce": float(ce.detach()), "l1": float(l1.detach())})
