"""bench/black_box_points.py: it repeats a report's black-box check on the points the report left robust, and the
stronger white-box attacks' margins are reported per point; a report without per-image results is refused."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench import black_box_points
from explainlab.eval.checks import CheckSettings


def write_report(world: SimpleNamespace, worst: str | None, eps: float = 0.3) -> str:
    report = {
        "robust_accuracy": {"eps": eps, "worst": {"value": 0.5, "n_eval": len(world.y), "per_example": worst}},
        "checks": {"black_box_stronger": {"details": {"n_broken": 7}}},
        "evaluation": {"settings": {"checks": CheckSettings(blackbox_n=20, blackbox_queries=50).model_dump()}},
    }
    name = "report_test_black_box.json"
    (world.model_dir / name).write_text(json.dumps(report))
    return name


def test_margin_is_the_own_logit_minus_the_best_other() -> None:
    model = torch.nn.Identity()
    logits = torch.tensor([[1.0, 3.0, 2.0], [5.0, -1.0, 0.0]])
    margins = black_box_points.margin(model, logits, torch.tensor([1, 2]))
    torch.testing.assert_close(margins, torch.tensor([1.0, -5.0]))


def test_the_points_the_search_breaks_and_the_white_box_margins(world: SimpleNamespace, tmp_path: Path) -> None:
    """An undefended model at eps 0.3, every point marked robust: the search breaks some, each below margin 0."""
    name = write_report(world, " ".join(["1"] * len(world.y)))
    out = tmp_path / "points.json"
    code = black_box_points.main(["--models", str(world.model_dir), "--report", name, "--data-dir", str(world.data_dir),
                                  "--steps", "10", "--restarts", "2", "--json", str(out)])  # fmt: skip
    assert code == 0
    (result,) = json.loads(out.read_text())["models"]
    assert result["report_n_broken"] == 7 and result["repeated_n_broken"] == len(result["points"]) > 0
    for point in result["points"]:
        assert 0 <= point["test_index"] < 20 and point["black_box_margin"] < 0  # among the first blackbox_n points
        assert set(point["white_box"]) == {"pgd_ce 10 x 2", "pgd_dlr 10 x 2", "apgd_ce 10 x 2", "apgd_dlr 10 x 2"}
        assert point["broken_by_white_box"] == any(v["margin"] < 0 for v in point["white_box"].values())


def test_only_points_the_report_left_robust_are_searched(world: SimpleNamespace, tmp_path: Path) -> None:
    name = write_report(world, " ".join(["0"] * len(world.y)))  # nothing robust: nothing to search
    out = tmp_path / "none.json"
    argv = ["--models", str(world.model_dir), "--report", name, "--data-dir", str(world.data_dir), "--json", str(out)]
    assert black_box_points.main(argv) == 0
    assert json.loads(out.read_text())["models"][0]["points"] == []


def test_a_report_without_per_image_results_or_a_bad_flag_is_a_usage_error(world: SimpleNamespace) -> None:
    name = write_report(world, None)
    with pytest.raises(SystemExit) as stop:
        black_box_points.main(["--models", str(world.model_dir), "--report", name, "--data-dir", str(world.data_dir)])
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        black_box_points.main(["--models", str(world.model_dir), "--steps", "0"])
    assert stop.value.code == 2
