"""Scoped model modes: eval mode for a block, with every module's own flag restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode for the block (methods.md §1.7: samples and metrics leave BatchNorm statistics alone); each
    module's own ``training`` flag is restored afterwards and ``requires_grad`` is never touched."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        yield model.eval()
    finally:
        for module, flag in flags:
            module.training = flag
