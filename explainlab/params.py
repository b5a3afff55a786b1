"""The base of every method's hyperparameters: a frozen pydantic model with bounds and descriptions."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, ClassVar

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


class Configured:
    """Mixin of every method class: built from its nested ``Params`` or from keyword overrides of the defaults."""

    name: ClassVar[str]
    Params: ClassVar[type[Params]]
    params: Any

    def __init__(self, params: Params | None = None, **overrides: object) -> None:
        if params is not None and overrides:
            raise TypeError("pass either params or keyword overrides, not both")
        self.params = params if params is not None else self.Params(**overrides)
        if not isinstance(self.params, self.Params):
            raise TypeError(f"{self.name} expects {self.Params.__qualname__}, got {type(self.params).__name__}")
