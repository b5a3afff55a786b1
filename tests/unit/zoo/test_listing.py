"""list_models / describe_model / resolve_model_dir on a tmp zoo."""

from __future__ import annotations

import pathlib
import shutil
from types import SimpleNamespace

import pytest

from explainlab.errors import CheckpointError
from explainlab.zoo import format_listing, headline, list_models, resolve_model_dir


def test_list_models_rows(zoo: SimpleNamespace) -> None:
    rows = {row["id"]: row for row in list_models(zoo.models)}
    assert list(rows) == ["broken", "cifar10-c", "mnist-a", "mnist-b"]
    assert "error" in rows["broken"] and "invalid card" in rows["broken"]["error"]
    a = rows["mnist-a"]
    assert a["has_report"] and a["dataset"] == "mnist" and a["method"] == "pgd_at" and a["train_seconds"] == 754.0
    assert a["headline"]["clean"] == {"value": 0.9812, "n": 1000, "std": None}
    assert a["headline"]["worst"] == {"value": pytest.approx(0.8823), "n": 1000, "std": None}
    assert a["headline"]["topk_intersection"] == {"value": 0.6123, "n": 498, "std": None}
    assert a["headline"]["corruption_mean"] == {"value": 0.8642, "n": 1000, "std": None}
    assert a["quick"] is False and a["rar_paper_settings"] is True and a["warnings"] == []
    b = rows["mnist-b"]
    assert (
        b["quick"] is True and b["rar_overrides"] == {"steps": 5, "restarts": 1} and b["warnings"] == ["zero_gradient"]
    )
    c = rows["cifar10-c"]
    assert not c["has_report"] and all(v is None for v in c["headline"].values())


def test_missing_dir_lists_nothing(tmp_path) -> None:
    assert list_models(tmp_path / "absent") == []


def test_headline_tolerates_partial_reports() -> None:
    partial = headline({"clean_accuracy": {"value": 0.5, "n_eval": 10}, "robust_accuracy": {"pgd": None}})
    assert partial["clean"] == {"value": 0.5, "n": 10, "std": None}
    assert partial["pgd"] is None and partial["gini"] is None


def test_format_listing(zoo: SimpleNamespace) -> None:
    text = format_listing(list_models(zoo.models))
    assert "mnist-a" in text and "clean 0.981 (n=1000)" in text and "no report" in text and "error" in text


def test_resolve_model_dir(zoo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model_dir("mnist-a", zoo.models) == zoo.models / "mnist-a"
    other = zoo.models.parent / "other"
    shutil.copytree(zoo.models / "mnist-a", other / "mnist-a")
    monkeypatch.chdir(zoo.models)  # a bare name is an id under the models dir before a folder in the cwd
    assert resolve_model_dir("mnist-a", other) == other / "mnist-a"
    assert resolve_model_dir("mnist-b", other) == pathlib.Path("mnist-b")  # then a folder of that name
    monkeypatch.setenv("EXPLAINLAB_MODELS", str(other))
    assert resolve_model_dir("mnist-a") == other / "mnist-a"
    assert resolve_model_dir("./mnist-a") == pathlib.Path("mnist-a")  # a path is only a path
    assert resolve_model_dir(zoo.models / "mnist-b") == zoo.models / "mnist-b"
    with pytest.raises(CheckpointError, match="known ids: .*mnist-a"):
        resolve_model_dir("mnist-z", zoo.models)
