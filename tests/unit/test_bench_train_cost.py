"""bench/train_cost.py: zoo configs set the methods, their params, net and dataset; bad configs are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import train_cost

REPO = Path(__file__).resolve().parents[2]


def test_configs_set_methods_params_net_and_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cost.json"
    configs = ["--config", str(REPO / "configs/mnist_pgd_at.toml"), "--config", str(REPO / "configs/mnist_egat.toml")]
    code = train_cost.main([*configs, "--batch", "4", "--steps", "1", "--warmup", "0", "--reps", "2",
                            "--data-dir", str(tmp_path), "--json", str(out)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert (result["net"], result["dataset"]) == ("small_cnn", "mnist")
    rows = {row["method"]: row for row in result["rows"]}
    assert set(rows) == {"pgd_at", "egat"}
    assert "step_size=0.04" in rows["egat"]["params"] and "steps=1" in rows["egat"]["params"]
    assert rows["pgd_at"]["ratio_to_pgd_at"] == pytest.approx(1.0)
    assert "egat / pgd_at" in capsys.readouterr().out


def test_a_config_for_another_net_is_refused() -> None:
    with pytest.raises(SystemExit, match="net 'resnet20'"):
        train_cost.main(["--net", "small_cnn", "--config", str(REPO / "configs/cifar10_egat_cpu.toml")])
    with pytest.raises(SystemExit, match="no-such.toml"):
        train_cost.main(["--config", "no-such.toml"])


def test_two_configs_of_one_method_are_rows_named_by_their_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cost.json"
    relu, softplus = "mnist_egat_saliency_lambda0.2", "mnist_egat_saliency_softplus_l0.2"
    configs = [
        arg for name in ("mnist_pgd_at", relu, softplus) for arg in ("--config", str(REPO / f"configs/{name}.toml"))
    ]
    code = train_cost.main([*configs, "--batch", "4", "--steps", "1", "--warmup", "0", "--reps", "1",
                            "--set", f"{softplus}.explanation_weight=0.3",
                            "--data-dir", str(tmp_path), "--json", str(out)])  # fmt: skip
    assert code == 0
    rows = {row["method"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"pgd_at", relu, softplus}
    assert rows[relu]["trains"] == rows[softplus]["trains"] == "egat"
    assert "term_surrogate_beta=None" in rows[relu]["params"] and "explanation_weight=0.2" in rows[relu]["params"]
    assert "term_surrogate_beta=10" in rows[softplus]["params"] and "explanation_weight=0.3" in rows[softplus]["params"]
    printed = capsys.readouterr().out
    assert f"{relu} / pgd_at" in printed and f"{softplus} / pgd_at" in printed
    with pytest.raises(SystemExit, match="row 'egat' is not benchmarked"):
        train_cost.main([*configs, "--set", "egat.explanation_weight=1"])
