"""An exponential moving average of the weights (Polyak & Juditsky 1992; for adversarial training, Gowal et al. 2020,
"Uncovering the Limits of Adversarial Training", arXiv:2010.03593, §4: it adds robust accuracy at no training cost).

After optimizer step t (0-based) every floating-point entry of the state dict moves as
``avg <- d_t * avg + (1 - d_t) * w`` with ``d_t = min(decay, (1 + t) / (10 + t))``: the warm-up keeps the first
steps' random weights from dominating a short run. Integer buffers (BatchNorm's step counter) are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def step_decay(decay: float, step: int) -> float:
    """The decay of the update after optimizer step ``step`` (0-based)."""
    return min(decay, (1 + step) / (10 + step))


class WeightAverage:
    """An averaged copy of ``model`` (same architecture and device, eval mode), updated in place after each step."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @property
    def state(self) -> dict[str, Tensor]:
        """The averaged state dict (views of the averaged model's tensors)."""
        return self.model.state_dict()

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = step_decay(self.decay, step)
        live = model.state_dict()
        for key, average in self.state.items():
            if average.dtype.is_floating_point:
                average.lerp_(live[key].detach(), 1.0 - d)
            else:
                average.copy_(live[key])

    def tensors(self, prefix: str = "ema.") -> dict[str, Tensor]:
        return {prefix + k: v.detach().cpu().contiguous() for k, v in self.state.items()}

    def load_tensors(self, tensors: dict[str, Tensor], prefix: str = "ema.") -> None:
        """Restore from a checkpoint's tensors; every entry of the state dict must be there."""
        missing = [k for k in self.state if prefix + k not in tensors]
        if missing:
            raise KeyError(f"the checkpoint holds no weight average for {missing[:3]}")
        self.model.load_state_dict({k: tensors[prefix + k] for k in self.state})
