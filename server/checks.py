"""Checks every compute request shares (the lab's /explain, /attack, sweeps and test-set runs): methods built from
request values, the cost estimate, target and transfer; each failure is a 4xx naming the field."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from explainlab.attacks import Attack
from explainlab.errors import IncompatibleError, UnknownNameError
from explainlab.explain import EXPLAINERS, Explainer
from explainlab.registry import Registry
from explainlab.zoo.card import ModelCard
from server.errors import ApiError, validation_error


def build(registry: Registry, name: str, params: dict[str, Any], field: str) -> Any:
    """A registry member from request values; errors name the field and list what is allowed."""
    try:
        member = registry[name]
    except UnknownNameError as error:
        raise ApiError(422, "unknown_name", f"{field}: {error}", field) from None
    try:
        return member(member.Params(**params))
    except ValidationError as error:
        raise validation_error(error, prefix=f"{field}_params") from None
    except (IncompatibleError, TypeError, ValueError) as error:
        raise ApiError(422, "incompatible", f"{field}: {error}", f"{field}_params") from None


def explainer_passes(explainer: Explainer, input_size: list[int]) -> int:
    """Rough forward/backward passes of one explanation (path points, samples or occlusion windows)."""
    p = explainer.params
    if hasattr(p, "window") and hasattr(p, "stride"):
        return math.ceil(input_size[1] / p.stride) * math.ceil(input_size[2] / p.stride)
    return int(getattr(p, "steps", None) or getattr(p, "samples", None) or 1)


def attack_passes(attack: Attack, input_size: list[int]) -> int:
    p = attack.params
    n = int(getattr(p, "steps", 1)) * int(getattr(p, "restarts", 1))
    if attack.kind == "explanation":
        inner = EXPLAINERS.create(p.explainer, p.explainer_params)
        n *= 2 * explainer_passes(inner, input_size) + 2  # double backward through the map, plus the label check
    return n


def check_target(target: int | None, cards: list[ModelCard]) -> None:
    classes = min(len(card.classes) for card in cards)
    if target is not None and target >= classes:
        raise ApiError(422, "invalid_parameter", f"target: must be a class index 0..{classes - 1}", "target")


def check_transfer(transfer_from: str | None, models: list[str], cards: list[ModelCard]) -> None:
    """A transfer source must be one of the models, and every model must take its input size."""
    if transfer_from is None:
        return
    if transfer_from not in models:
        raise ApiError(422, "invalid_parameter", "transfer_from: must be one of the models", "transfer_from")
    if len({tuple(card.input_size) for card in cards}) > 1:
        raise ApiError(422, "incompatible", "transfer_from: every model must take the same input size", "transfer_from")
