"""bench/rar_paired.py: per-image RAR metrics over the same images, paired differences, and clear usage errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench import rar_paired

TINY = ["--n", "12", "--steps", "2", "--attack-ig-steps", "2", "--ig-steps", "8"]


def test_paired_difference_over_images_both_define() -> None:
    a = torch.tensor([0.9, 0.5, float("nan"), 0.7], dtype=torch.float64)
    b = torch.tensor([0.8, 0.3, 0.4, float("nan")], dtype=torch.float64)
    d = rar_paired.paired_difference(a.tolist(), b.tolist())  # NaN: not attacked
    assert d["n"] == 2 and d["mean"] == pytest.approx(0.15)
    assert d["se"] == pytest.approx(torch.tensor([0.1, 0.2]).std().item() / math.sqrt(2))


def test_a_model_against_itself_differs_by_zero(world: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "paired.json"
    by_id, by_folder = world.card.id, str(world.model_dir)
    code = rar_paired.main(["--models", by_id, by_folder, "--models-dir", str(world.models_dir),
                            "--data-dir", str(world.data_dir), *TINY, "--json", str(out)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert result["n"] == 12 and result["protocol"]["restarts"] == 1 and result["protocol"]["attack_ig_steps"] == 2
    first, second = result["rows"]
    assert first["n_attacked"] == second["n_attacked"] > 0
    assert 0.0 <= first["topk_intersection"] <= 1.0
    assert second["vs_first"]["topk_intersection"] == {"mean": 0.0, "se": 0.0, "n": first["n_attacked"]}


def test_bad_input_is_a_usage_error(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--models-dir", str(world.models_dir), "--data-dir", str(world.data_dir)]
    with pytest.raises(SystemExit):
        rar_paired.main(["--models", "no-such-model", *common])
    assert "no stored model (card.json) at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rar_paired.main(["--models", world.card.id, *common, "--restarts", "0"])
    assert "bad protocol setting: restarts" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rar_paired.main(["--models", world.card.id, *common, "--eps", "1.5"])
    assert "bad protocol setting: eps" in capsys.readouterr().err


def test_eps_flag_sets_the_protocol_budget_and_the_rest_stays_the_zoo_s() -> None:
    args = rar_paired.parse_args(["--models", "m", "--eps", "0.25"])
    protocol = rar_paired.protocol_for("mnist", args)
    assert protocol.eps == 0.25 and protocol.attack_ig_steps == 10 and protocol.restarts == 1
    assert rar_paired.protocol_for("mnist", rar_paired.parse_args(["--models", "m"])).eps == 0.3


def test_from_reports_reads_the_first_n_images_and_checks_the_protocol(tmp_path: Path) -> None:
    protocol = rar_paired.RARProtocol(attack_ig_steps=10, restarts=1)
    rar = {"protocol": protocol.model_dump(exclude={"centered_logit"}),  # a report from before the field
           "topk_intersection": {"per_example": "0.5 - 1 0.25"},
           "kendall": {"per_example": "0.1 - 0.3 0.2"}}  # fmt: skip
    (tmp_path / "report.json").write_text(json.dumps({"attribution_robustness": rar}))
    values = rar_paired.from_report(tmp_path, 3, protocol)
    assert values["topk_intersection"][0] == 0.5 and math.isnan(values["topk_intersection"][1])
    assert values["kendall"].tolist()[2] == pytest.approx(0.3)
    with pytest.raises(rar_paired.CheckpointError, match="fewer than --n 5"):
        rar_paired.from_report(tmp_path, 5, protocol)
    with pytest.raises(rar_paired.CheckpointError, match="RAR protocol"):
        rar_paired.from_report(tmp_path, 3, protocol.model_copy(update={"centered_logit": True}))
    with pytest.raises(rar_paired.CheckpointError, match="no report.json"):
        rar_paired.from_report(tmp_path / "elsewhere", 3, protocol)
