"""``explainlab evaluate --refresh gini``: the Gini block measured again on the report's own settings, with its
per-image values, refused when it no longer matches the stored value or when asked with other settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from explainlab.cli import main
from explainlab.errors import CheckpointError, IncompatibleError
from explainlab.eval.benchmark import EvalSettings, evaluate
from explainlab.eval.per_example import decode_per_example
from explainlab.eval.refresh import refresh


@pytest.fixture(scope="module")
def written_report(
    world: SimpleNamespace, tiny_settings: Callable[..., EvalSettings], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The text of a report as written before the Gini block kept per-image values (evaluated once)."""
    path = tmp_path_factory.mktemp("refresh") / "report.json"
    evaluate(world.model_dir, world.data_dir, tiny_settings(n_gini=10), out=path, emit_warnings=False)
    data = json.loads(path.read_text())
    data["gini"]["per_example"] = None
    data["evaluation"].pop("refreshed")
    return json.dumps(data, indent=2)


@pytest.fixture
def old_report(written_report: str, tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(written_report)
    return path


def test_refresh_adds_per_image_values_and_keeps_the_rest(world: SimpleNamespace, old_report: Path) -> None:
    before = json.loads(old_report.read_text())
    report = refresh(world.model_dir, "gini", world.data_dir, report_path=old_report)
    after = json.loads(old_report.read_text())
    per_image = decode_per_example(after["gini"]["per_example"])
    assert per_image is not None and len(per_image) == 10 == after["gini"]["n_eval"]
    assert after["gini"]["value"] == pytest.approx(sum(per_image) / 10, abs=1e-4)
    assert after["gini"]["value"] == pytest.approx(before["gini"]["value"], abs=1e-6)  # same images, same settings
    [note] = after["evaluation"]["refreshed"]
    assert note["block"] == "gini" and note["previous_value"] == before["gini"]["value"] and note["seconds"] >= 0
    for key in ("clean_accuracy", "robust_accuracy", "attribution_robustness", "corruption_accuracy", "checks"):
        assert after[key] == before[key]
    assert {k: v for k, v in after["evaluation"].items() if k != "refreshed"} == before["evaluation"]
    assert report.gini is not None and report.gini.per_example == after["gini"]["per_example"]


def test_a_changed_value_is_refused_and_the_report_left_alone(world: SimpleNamespace, old_report: Path) -> None:
    data = json.loads(old_report.read_text())
    data["gini"]["value"] += 0.05  # not what these weights give
    old_report.write_text(json.dumps(data))
    text = old_report.read_text()
    with pytest.raises(IncompatibleError, match="Gini measured again is .* the report is left as it was"):
        refresh(world.model_dir, "gini", world.data_dir, report_path=old_report)
    assert old_report.read_text() == text


def test_what_cannot_be_refreshed(world: SimpleNamespace, old_report: Path, tmp_path: Path) -> None:
    with pytest.raises(IncompatibleError, match="cannot refresh block 'pgd'; refreshable: gini"):
        refresh(world.model_dir, "pgd", world.data_dir, report_path=old_report)
    with pytest.raises(CheckpointError, match="no report to refresh"):
        refresh(world.model_dir, "gini", world.data_dir, report_path=tmp_path / "none.json")
    data = json.loads(old_report.read_text())
    data["gini"] = None
    old_report.write_text(json.dumps(data))
    with pytest.raises(IncompatibleError, match="no gini block to measure again"):
        refresh(world.model_dir, "gini", world.data_dir, report_path=old_report)


def test_cli_refresh(world: SimpleNamespace, old_report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["evaluate", world.card.id, "--models-dir", str(world.models_dir), "--data-dir", str(world.data_dir),
            "--out", str(old_report), "--refresh", "gini"]  # fmt: skip
    assert main([*base, "--set", "n_gini=5"]) == 2
    assert "--refresh measures with the report's own settings; drop --set" in capsys.readouterr().err
    assert main(base) == 0
    assert capsys.readouterr().out.startswith(f"{world.card.id}: gini ")
    assert decode_per_example(json.loads(old_report.read_text())["gini"]["per_example"]) is not None
    assert main([*base[:-1], "kendall"]) == 2
    assert "refreshable: gini" in capsys.readouterr().err
