"""Content keys, the LRU and the run store behind the permalinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.runs import LRU, RunStore, content_key


def test_content_key_is_stable_and_order_free_for_dicts() -> None:
    assert content_key("a", {"x": 1, "y": 2}) == content_key("a", {"y": 2, "x": 1})
    assert content_key("a", [1, 2]) != content_key("a", [2, 1])


def test_lru_evicts_the_least_recently_used() -> None:
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert LRU(0).get("x") is None


def test_run_store_bounds_its_size_and_refuses_odd_ids(tmp_path: Path) -> None:
    store = RunStore(tmp_path, capacity=20)
    for i in range(45):
        store.save(f"{i:016x}", {"i": i})
    files = list(tmp_path.glob("*.json"))
    assert 18 <= len(files) <= 20  # pruned to 90 % when over capacity
    assert store.load(f"{44:016x}") == {"i": 44} and store.load(f"{0:016x}") is None
    assert store.load("../../etc/passwd") is None and store.path("0123") is None
    with pytest.raises(ValueError):
        store.save("../x", {})
