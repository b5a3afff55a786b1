"""bench/seed_mean.py: the mean over seeds of rar_paired runs, with image and seed errors in closed form."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import seed_mean


def run(difference: float, se: float) -> dict:
    compared = {"model": "other", "vs_first": {"topk_intersection": {"mean": difference, "se": se, "n": 10}}}
    return {"rows": [{"model": "ref"}, compared]}


def test_mean_and_both_errors_have_closed_forms() -> None:
    (row,) = seed_mean.seed_mean([run(0.02, 0.006), run(0.04, 0.008)])
    assert row["mean"] == pytest.approx(0.03)
    assert row["image_se"] == pytest.approx(0.005)  # sqrt(0.006^2 + 0.008^2) / 2
    assert row["seed_se"] == pytest.approx(0.01)  # stdev(0.02, 0.04) / sqrt(2) = 0.01414 / 1.414
    assert row["se"] == pytest.approx(math.hypot(0.005, 0.01))


def test_cli_prints_the_mean_and_rejects_other_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, r in zip(paths, [run(0.02, 0.006), run(0.04, 0.008)], strict=True):
        path.write_text(json.dumps(r))
    assert seed_mean.main([str(p) for p in paths]) == 0
    assert "mean +3.0 ± 2.2" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        seed_mean.main([str(tmp_path / "bad.json")])
    assert exit_info.value.code == 2
