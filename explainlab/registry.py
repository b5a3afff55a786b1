"""Registry[T]: one per method family (nets, attacks, explainers, metrics), keyed by stable snake_case names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from explainlab.errors import UnknownNameError

T = TypeVar("T")

_META_KEYS = ("kind", "category", "targeted", "norms", "differentiable", "higher_is_better", "backend")


class Registry(Generic[T]):
    """Name -> class. Each member declares ``name``, ``title``, ``citation`` and a nested ``Params``."""

    def __init__(self, family: str, members: list[type[T]]) -> None:
        self.family = family
        self._members: dict[str, type[T]] = {}
        for member in members:
            name = member.name  # type: ignore[attr-defined]
            if name in self._members:
                raise ValueError(f"{family}: duplicate name {name!r}")
            for attr in ("title", "citation", "Params"):
                if not hasattr(member, attr):
                    raise TypeError(f"{family} member {name!r} lacks {attr!r}")
            self._members[name] = member

    @classmethod
    def of(cls, family: str, *members: type[T]) -> Registry[T]:
        return cls(family, list(members))

    def __getitem__(self, name: str) -> type[T]:
        try:
            return self._members[name]
        except KeyError:
            raise UnknownNameError(self.family, name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def __iter__(self) -> Iterator[type[T]]:
        return iter(self._members.values())

    def __len__(self) -> int:
        return len(self._members)

    def names(self) -> list[str]:
        return list(self._members)

    def create(self, name: str, params: dict[str, Any] | None = None) -> T:
        """Build a member from a plain dict of params (validated by its ``Params``)."""
        member = self[name]
        return member(member.Params(**(params or {})))  # type: ignore[attr-defined,call-arg]

    def describe(self) -> list[dict[str, Any]]:
        """Everything a UI, the API or the CLI needs to list and validate the members."""
        rows = []
        for name, member in self._members.items():
            row: dict[str, Any] = {
                "name": name,
                "title": member.title,  # type: ignore[attr-defined]
                "citation": member.citation,  # type: ignore[attr-defined]
                "description": (member.__doc__ or "").strip().split("\n")[0],
            }
            for key in _META_KEYS:
                if hasattr(member, key):
                    value = getattr(member, key)
                    row[key] = list(value) if isinstance(value, tuple) else value
            row["params_schema"] = member.Params.model_json_schema()  # type: ignore[attr-defined]
            rows.append(row)
        return rows
