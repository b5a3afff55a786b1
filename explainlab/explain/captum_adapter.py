"""CaptumExplainer: runs one ``captum.attr`` method under the Explainer contract (display and evaluation only)."""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from explainlab.errors import IncompatibleError
from explainlab.explain.base import Explainer, class_scores

_HOOK_DICTS = (
    "_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
    "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called",
)  # fmt: skip
_CAPTUM_ATTRS = {"input", "output", "input_ref"}
_CAPTUM_NOTICES = r"\s*Setting (forward, backward|backward) hooks"  # DeepLift / GuidedBackprop say so on every call


@contextmanager
def guarded(model: nn.Module) -> Iterator[None]:
    """Eval mode for the block; afterwards each module's training flag is restored and what Captum left is removed."""
    saved = [(m, m.training, {k: set(getattr(m, k)) for k in _HOOK_DICTS}, set(vars(m))) for m in model.modules()]
    model.eval()  # display = inference: no BatchNorm statistics updates, no dropout (DeepLift needs it too)
    try:
        yield
    finally:
        for module, training, hooks, attrs in saved:
            module.training = training
            for key, ids in hooks.items():
                table = getattr(module, key)
                for extra in [h for h in table if h not in ids]:
                    del table[extra]
            for name in _CAPTUM_ATTRS - attrs:  # DeepLift's saved activations when it fails mid-way
                vars(module).pop(name, None)


@contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed the global RNGs Captum samples from (torch; numpy in GradientShap) and restore the caller's states after."""
    if seed is None:
        yield
        return
    cuda = [device] if device.type == "cuda" else []
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.random.default_generator.manual_seed(seed)
            for dev in cuda:
                with torch.cuda.device(dev):
                    torch.cuda.manual_seed(seed)
            np.random.seed(seed)
            yield
    finally:
        np.random.set_state(numpy_state)


class CaptumExplainer(Explainer):
    """Base of the Captum adapters: a detached clone of x in, eval mode, seeded RNG, hooks and mode restored."""

    differentiable = False
    backend = "captum"
    uses_gradients: ClassVar[bool] = True  # False: a perturbation method, run under no_grad

    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
        if int(target.min()) < 0:  # Captum would index from the end
            raise IncompatibleError(f"target classes must be >= 0, got {target.tolist()}")
        xc = x.detach().clone().requires_grad_(self.uses_gradients)  # Captum flips requires_grad on its input
        with guarded(model), seeded(getattr(self.params, "seed", None), x.device), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CAPTUM_NOTICES)
            with torch.set_grad_enabled(self.uses_gradients):
                try:
                    attr = self._captum(model, xc, target)
                except (IndexError, RuntimeError):
                    with torch.no_grad():
                        class_scores(model(x), target)  # an out-of-range class becomes IncompatibleError
                    raise
        return attr.detach().to(x.dtype)

    @abstractmethod
    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        """The Captum call on a private copy of x (requires_grad set when ``uses_gradients``)."""
