"""``explainlab evaluate`` from the command line: by id under --models-dir, --quick, errors as messages."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from explainlab.cli import main


def test_evaluate_quick_by_id(world: SimpleNamespace, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    out = tmp_path / "quick.json"
    argv = ["evaluate", world.card.id, "--models-dir", str(world.models_dir), "--data-dir", str(world.data_dir),
            "--quick", "--n-eval", "30", "--set", "checks.blackbox_queries=20", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert world.card.id in printed and "[quick settings]" in printed and "warnings: none" in printed
    data = json.loads(out.read_text())
    assert data["evaluation"]["quick"] is True and data["n_eval"] == 30
    assert data["evaluation"]["settings"]["checks"]["blackbox_queries"] == 20
    assert data["attribution_robustness"]["paper_settings"] is False


def test_evaluate_json_by_path(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", str(world.model_dir), "--data-dir", str(world.data_dir), "--quick", "--json", "--n-eval",
            "10", "--n-attribution", "0", "--set", "checks.enabled=false", "--set", "corruptions=[]"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_eval"] == 10 and data["attribution_robustness"] is None and data["corruption_accuracy"] is None
    assert data["checks"] == {} and data["warnings"] == []
    assert json.loads((world.model_dir / "report.json").read_text()) == data


def test_unknown_model_is_a_message(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "nope", "--models-dir", str(world.models_dir)]) == 2
    err = capsys.readouterr().err
    assert "no stored model 'nope'" in err and world.card.id in err


def test_bad_setting_is_a_message(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(world.model_dir), "--set", "rar.stepz=3"]) == 2
    assert "unknown RAR protocol fields" in capsys.readouterr().err
