"""Natural training: the empirical risk on clean inputs."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from explainlab.training.base import LossParts, TrainingMethod


class Natural(TrainingMethod):
    """Empirical risk minimization: min_theta E CE(f(x), y)."""

    name = "natural"
    title = "Natural training"
    citation = "standard empirical risk minimization"

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        ce = F.cross_entropy(model(x), y)
        return LossParts(ce, {"ce": float(ce.detach())})
