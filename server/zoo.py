"""The served zoo: model ids validated against the models folder, weights loaded lazily into an LRU cache."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from explainlab.nets import Normalized
from explainlab.zoo.card import ModelCard
from explainlab.zoo.listing import list_models, representatives
from explainlab.zoo.store import load_model, read_card

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,99}$")
DEFAULT_METHODS = ("natural", "pgd_at", "egat")  # the lab's default comparison of a dataset


class UnknownModelError(LookupError):
    """A model id that is not in the zoo (or not a valid id at all); ``valid`` lists the ids that are."""

    def __init__(self, model_id: str, valid: list[str], field: str = "models") -> None:
        self.model_id, self.valid, self.field = model_id, valid, field
        shown = model_id if len(model_id) <= 120 else model_id[:117] + "..."
        super().__init__(f"unknown model id {shown!r}; valid ids: {', '.join(valid) or '(the zoo is empty)'}")


class Zoo:
    """Rows of ``explainlab zoo list`` (re-read when the folder changes) and an LRU cache of loaded models."""

    def __init__(self, root: Path, device: torch.device, cache_size: int = 12) -> None:
        self.root, self.device, self.cache_size = root, device, cache_size
        self._rows: list[dict[str, Any]] | None = None
        self._stamp: tuple[float, int] | None = None
        self._loaded: OrderedDict[str, tuple[Normalized, ModelCard]] = OrderedDict()
        self._lock = threading.Lock()

    def _folder_stamp(self) -> tuple[float, int]:
        if not self.root.is_dir():
            return (0.0, 0)
        entries = list(self.root.iterdir())
        return (max([self.root.stat().st_mtime] + [e.stat().st_mtime for e in entries]), len(entries))

    def rows(self) -> list[dict[str, Any]]:
        """Every stored model with its headline numbers (broken folders are listed with ``error``)."""
        with self._lock:
            stamp = self._folder_stamp()
            if self._rows is None or stamp != self._stamp:
                self._rows, self._stamp = list_models(self.root), stamp
            return self._rows

    def ids(self) -> list[str]:
        return [row["id"] for row in self.rows() if not row.get("error")]

    def row(self, model_id: str, field: str = "models") -> dict[str, Any]:
        if ID_PATTERN.match(model_id):
            for row in self.rows():
                if row["id"] == model_id and not row.get("error"):
                    return row
        raise UnknownModelError(model_id, self.ids(), field)

    def representatives(self) -> dict[tuple[str, str], str]:
        """(dataset, method) -> the model that stands for the method (``explainlab.zoo.listing.representatives``)."""
        return representatives(self.rows())

    def defaults(self, dataset: str = "mnist") -> list[str]:
        """natural vs pgd_at vs egat of a dataset, one model each (``representatives``); where one is missing, the
        dataset's next models fill in."""
        chosen = self.representatives()
        picked = [chosen[(dataset, m)] for m in DEFAULT_METHODS if (dataset, m) in chosen]
        picked += [r["id"] for r in self.rows() if not r.get("error") and r["dataset"] == dataset]
        return list(dict.fromkeys(picked))[:3]

    def load(self, model_id: str) -> tuple[Normalized, ModelCard]:
        """The model in eval mode on the serving device (compute worker only: it owns torch)."""
        with self._lock:
            if model_id in self._loaded:
                self._loaded.move_to_end(model_id)
                return self._loaded[model_id]
        row = self.row(model_id)
        model, card = load_model(Path(row["path"]), device=self.device)  # CheckpointError -> 503 in errors.py
        for p in model.parameters():
            p.requires_grad_(False)
        with self._lock:
            self._loaded[model_id] = (model, card)
            while len(self._loaded) > self.cache_size:
                self._loaded.popitem(last=False)
        return model, card

    def card(self, model_id: str, field: str = "models") -> ModelCard:
        return read_card(Path(self.row(model_id, field)["path"]))
