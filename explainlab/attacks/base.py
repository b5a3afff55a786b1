"""Attack ABC and the parameters every attack shares. Verb: ``perturb(model, x, y) -> x_adv``.

Contract (tests/unit/attacks/test_contract.py): x_adv has x's shape and dtype, stays in the eps-ball around x and in
[0, 1]; x is never modified; the model's mode and parameters' requires_grad are untouched; the same seed gives the
same output; explanation attacks also keep the predicted label.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, Self

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from explainlab.attacks.threat import ThreatStep, threat_step
from explainlab.errors import IncompatibleError
from explainlab.explain.base import as_target, check_images
from explainlab.params import Configured, FloatOrFraction, Params
from explainlab.types import Norm


class AttackParams(Params):
    eps: FloatOrFraction = Field(
        0.3, gt=0.0, le=64.0, description="perturbation budget in pixel units ('8/255' ok); L-inf at most 1"
    )
    norm: Norm = Field("linf", description="threat model norm")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="random seed (same seed, same result)")

    @model_validator(mode="after")
    def _linf_eps_in_pixel_range(self) -> Self:
        if self.norm == "linf" and self.eps > 1.0:
            raise ValueError(f"eps: an L-inf eps is a pixel difference and must be <= 1, got {self.eps}")
        return self


class Attack(Configured, ABC):
    """x -> x_adv within the threat model. ``kind`` is "prediction" (change the label) or "explanation" (keep the
    label, move the map)."""

    name: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[str]
    kind: ClassVar[Literal["prediction", "explanation"]] = "prediction"
    targeted: ClassVar[bool] = False
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2")
    Params: ClassVar[type[AttackParams]] = AttackParams

    def __init__(self, params: AttackParams | None = None, **overrides: object) -> None:
        super().__init__(params, **overrides)
        if self.params.norm not in self.norms:
            raise IncompatibleError(f"{self.name} supports norms {self.norms}, not {self.params.norm!r}")

    @property
    def threat(self) -> ThreatStep:
        return threat_step(self.params.norm, self.params.eps)

    def perturb(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor | int,
        *,
        target: Tensor | int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Adversarial examples for ``x`` (N, C, H, W) in [0, 1] with labels ``y``; ``target`` for targeted mode.

        Randomness comes from ``generator`` when given (training: fresh starts every batch), else from ``seed``.
        """
        check_images(x)
        if float(x.min()) < 0.0 or float(x.max()) > 1.0:
            raise ValueError("images must be in [0, 1]; normalization belongs inside the model (nets.Normalized)")
        if target is not None and not self.targeted:
            raise IncompatibleError(f"{self.name} has no targeted mode")
        labels = as_target(y, x.shape[0], x.device)
        tgt = None if target is None else as_target(target, x.shape[0], x.device)
        if generator is None:
            generator = torch.Generator(device=x.device).manual_seed(self.params.seed)
        with torch.enable_grad():
            x_adv = self._perturb(model, x.detach(), labels, tgt, generator)
        return x_adv.detach()

    @abstractmethod
    def _perturb(
        self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None, generator: torch.Generator
    ) -> Tensor: ...
