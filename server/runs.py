"""Results by content hash: an in-memory LRU of computed pieces and a bounded on-disk store of runs (permalinks)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

RUN_ID = re.compile(r"^[0-9a-f]{16}$")


def content_key(*parts: Any) -> str:
    """sha256 of the JSON of ``parts`` (image hashes, model ids, method, params, seed): the cache key and run id."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class LRU:
    """A thread-safe least-recently-used dict of bounded size (0 disables it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
            return None

    def put(self, key: str, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class RunStore:
    """Finished runs as JSON files ``<run_id>.json`` (the response plus the request that made it). Once more than
    ``capacity`` are stored, the oldest tenth is removed (one directory scan per tenth, not per run)."""

    def __init__(self, root: Path, capacity: int) -> None:
        self.root, self.capacity = root, capacity
        self._lock = threading.Lock()
        self._count: int | None = None  # files on disk, counted once, then kept up to date

    def path(self, run_id: str) -> Path | None:
        return self.root / f"{run_id}.json" if RUN_ID.match(run_id) else None

    def save(self, run_id: str, record: dict[str, Any]) -> None:
        path = self.path(run_id)
        if path is None:
            raise ValueError(f"bad run id {run_id!r}")
        text = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            if self._count is None:
                self._count = sum(1 for _ in self.root.glob("*.json"))
            existed = path.is_file()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            self._count += 0 if existed else 1
            if self._count > self.capacity:
                self._prune()

    def _prune(self) -> None:
        stored = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime)
        keep = max(1, self.capacity - self.capacity // 10)
        for old in stored[: max(0, len(stored) - keep)]:
            old.unlink(missing_ok=True)
        self._count = min(len(stored), keep)

    def load(self, run_id: str) -> dict[str, Any] | None:
        path = self.path(run_id)
        if path is None or not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None
