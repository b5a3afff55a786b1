"""The base of every method's hyperparameters: a frozen pydantic model with bounds and descriptions."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _parse_fraction(value: Any) -> Any:
    """Accept "8/255" (and "0.3") wherever a float is expected, so configs read like papers."""
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            return value  # pydantic reports the bad value with the field name
    return value


FloatOrFraction = Annotated[float, BeforeValidator(_parse_fraction)]


class Params(BaseModel):
    """Hyperparameters of one method: frozen, no unknown keys, every field bounded and described."""

    model_config = ConfigDict(frozen=True, extra="forbid")
