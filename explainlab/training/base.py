"""TrainingMethod ABC: a training method is a loss (cf. TRADES). Verb: ``loss(model, x, y) -> LossParts``.

Methods make no optimizer calls. They generate adversarial / masked samples with the model in eval mode (BatchNorm
statistics untouched, methods.md §1.7) through ``eval_mode`` and compute the loss in the caller's mode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.nets.modes import eval_mode
from explainlab.params import Configured, FloatOrFraction, Params


@dataclass
class LossParts:
    """The scalar to back-propagate and named parts for logging; a method that combines its gradients itself
    (EGAT's ``project_conflicts``) gives them as ``gradients``, (parameter, gradient) pairs, and ``total`` only logs."""

    total: Tensor
    parts: dict[str, float] = field(default_factory=dict)
    gradients: list[tuple[Tensor, Tensor]] | None = None

    def backward(self) -> None:
        """Fill the parameters' ``.grad`` (after ``optimizer.zero_grad(set_to_none=True)``)."""
        if self.gradients is None:
            self.total.backward()
            return
        for param, grad in self.gradients:
            param.grad = grad if param.grad is None else param.grad + grad


class MethodParams(Params):
    """Parameters shared by every training method (none)."""


class AdversarialParams(MethodParams):
    """The inner PGD-L-inf of adversarial methods (methods.md §3.5: MNIST 0.3, 40 x 0.01; CIFAR-10 8/255, 7 x 2/255)."""

    eps: FloatOrFraction = Field(0.3, gt=0.0, le=1.0, description="L-inf training budget ('8/255' ok)")
    steps: int = Field(40, ge=1, le=200, description="PGD steps of the inner maximization")
    step_size: FloatOrFraction = Field(0.01, gt=0.0, le=1.0, description="PGD step size")


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under a DistributedDataParallel wrapper (attacks must not run through DDP's hooks)."""
    inner = getattr(model, "module", model)
    return inner if isinstance(inner, nn.Module) else model


class TrainingMethod(Configured, ABC):
    """One robust-training objective; the loop owns data, optimizer, schedule, precision and checkpoints."""

    name: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[str]
    Params: ClassVar[type[MethodParams]] = MethodParams

    def __init__(self, params: MethodParams | None = None, **overrides: object) -> None:
        super().__init__(params, **overrides)
        self.generator = torch.Generator()
        self.bf16_attacks = False

    def prepare(self, model: nn.Module, *, seed: int = 0, **context: Any) -> None:
        """Called once before training: seeds the method's generator; methods with state (a teacher) extend it."""
        self.generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed + 1)

    def attack_precision(self, x: Tensor) -> Any:
        """bf16 autocast for sample generation when the loop asks for it (sign steps tolerate it; losses do not)."""
        if not self.bf16_attacks:
            return nullcontext()
        return torch.autocast(device_type=x.device.type, dtype=torch.bfloat16)

    def adversarial(self, model: nn.Module, x: Tensor, y: Tensor, eps: float, steps: int, step_size: float) -> Tensor:
        """PGD-L-inf examples with a random start, generated in eval mode (the shared inner maximization)."""
        from explainlab.attacks.pgd import PGD

        attack = PGD(eps=eps, steps=steps, step_size=step_size, random_start=True, keep="last")
        model = unwrap(model)
        with eval_mode(model), self.attack_precision(x):
            return attack.perturb(model, x, y, generator=self.generator)

    @abstractmethod
    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts: ...
