"""Every concrete method class in a family folder is registered exactly once; describe() is JSON-ready."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import pytest

from explainlab.cli import families, main

FOLDERS = {"nets": "explainlab.nets", "attacks": "explainlab.attacks", "explainers": "explainlab.explain",
           "metrics": "explainlab.metrics", "methods": "explainlab.training"}  # fmt: skip


@pytest.mark.parametrize("family", list(FOLDERS))
def test_every_concrete_member_is_registered(family: str) -> None:
    registry = families()[family]
    package = importlib.import_module(FOLDERS[family])
    registered = set(registry)
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and isinstance(getattr(cls, "name", None), str):
                if not inspect.isabstract(cls) and hasattr(cls, "Params") and hasattr(cls, "citation"):
                    assert cls in registered, f"{cls.__qualname__} in {module.__name__} is not registered"


@pytest.mark.parametrize("family", list(FOLDERS))
def test_describe_is_complete(family: str) -> None:
    rows = families()[family].describe()
    assert rows and len({r["name"] for r in rows}) == len(rows)
    for row in rows:
        assert row["title"] and row["citation"] and row["params_schema"]["type"] == "object"
        for field, spec in row["params_schema"].get("properties", {}).items():
            assert spec.get("description"), f"{row['name']}.{field} has no description"


def test_unknown_name_lists_valid_keys() -> None:
    from explainlab.attacks import ATTACKS
    from explainlab.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="valid: fgsm, pgd"):
        ATTACKS["pgdd"]


def test_cli_describe_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == set(FOLDERS)
    assert {"pgd", "apgd", "fgsm", "topk", "target_map"} <= {r["name"] for r in out["attacks"]}


def test_cli_data_reports_missing_datasets_without_a_traceback(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("EXPLAINLAB_DATA", raising=False)
    assert main(["data", "--data-dir", str(tmp_path), "--json", "--strict"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows and not any(row["found"] for row in rows)


def test_cli_missing_dataset_is_a_message_not_a_traceback(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("EXPLAINLAB_DATA", raising=False)
    assert main(["data", "--load", "mnist", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "t10k-images-idx3-ubyte" in err and "Traceback" not in err


def test_cli_loads_a_real_dataset(shared_data, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "--load", "mnist", "--data-dir", str(shared_data)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["n"] == 10_000 and row["histogram"][1] == 1135
