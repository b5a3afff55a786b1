"""Metric ABC (metadata in class variables, Quantus-style) and the guards model-based metrics share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from explainlab.explain.base import as_target, saliency_map
from explainlab.nets.modes import eval_mode
from explainlab.params import Configured, Params

Category = Literal["similarity", "sparsity", "robustness", "faithfulness", "prediction"]


class MetricParams(Params):
    """Parameters shared by every metric (none yet)."""


class Metric(Configured, ABC):
    """A score plus the metadata a UI needs to group, sort and label it without running it.

    Call signature by ``category``:
    - similarity: ``(a, b) -> (N,)``, two maps (N, H, W) or (N, D); attributions (N, C, H, W) are reduced to
      per-pixel maps sum_c |A| first (methods.md §1.3);
    - sparsity: ``(attr) -> (N,)``, any attribution (N, ...);
    - robustness, faithfulness: ``(model, explainer, x, target=None) -> (N,)``; ``target=None`` explains the clean
      prediction (methods.md §1.4);
    - prediction: ``(logits_or_model, y, *, x=None, x_adv=None, logits_adv=None, target=None) -> ()``, a rate
      over the batch (a 0-dim tensor), because success rates are ratios over a subset, not per-example means.
    Metrics never change their inputs; model-based ones run the model in eval mode and restore it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[str]
    category: ClassVar[Category]
    higher_is_better: ClassVar[bool]
    Params: ClassVar[type[MetricParams]] = MetricParams

    @abstractmethod
    def __call__(self, *args: Any, **kwargs: Any) -> Tensor: ...


def as_map(s: Tensor) -> Tensor:
    """Attributions (N, C, H, W) -> per-pixel maps (N, H, W); maps (N, H, W) or (N, D) pass through."""
    return saliency_map(s) if s.ndim == 4 else s


def explained_class(model: nn.Module, x: Tensor, target: Tensor | int | None) -> Tensor:
    """(N,) classes to explain: ``target`` as given, else the clean prediction argmax f(x) (methods.md §1.4)."""
    if target is None:
        with torch.no_grad(), eval_mode(model):
            return model(x).argmax(1)
    return as_target(target, x.shape[0], x.device)
