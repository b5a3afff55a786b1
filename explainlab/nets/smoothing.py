"""Swap every nn.ReLU for Softplus(beta) for the duration of a block (Dombrowski et al. 2019 beta-smoothing;
the softplus surrogate of Ghorbani et al. 2019 and RAR). The model is changed in place and always restored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from explainlab.errors import IncompatibleError


@contextmanager
def softplus_relus(model: nn.Module, beta: float | None) -> Iterator[nn.Module]:
    """Replace ``nn.ReLU`` modules by ``nn.Softplus(beta)``; ``beta=None`` leaves the model unchanged."""
    if beta is None:
        yield model
        return
    if beta <= 0:
        raise ValueError(f"softplus beta must be > 0, got {beta}")
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    try:
        for parent in model.modules():
            for child_name, child in parent.named_children():
                if isinstance(child, nn.ReLU):
                    swapped.append((parent, child_name, child))
                    setattr(parent, child_name, nn.Softplus(beta=beta))
        if not swapped and any(True for _ in model.parameters()):
            raise IncompatibleError("softplus smoothing needs nn.ReLU modules; this model has none")
        yield model
    finally:
        for parent, child_name, child in swapped:
            setattr(parent, child_name, child)


def count_relus(model: nn.Module) -> int:
    return sum(isinstance(m, nn.ReLU) for m in model.modules())
