"""evaluate(): a stored tiny model on tiny IDX data gives a complete report.json beside its card."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from explainlab.eval.benchmark import EvalSettings, benchmark, evaluate, settings_from_cli, threat_defaults
from explainlab.eval.checks import ProbabilityOutputWarning
from explainlab.eval.per_example import decode_per_example
from explainlab.eval.report import Report
from explainlab.zoo import ModelCard, ThreatModel, read_report

REQUIRED = {
    "clean_accuracy", "robust_accuracy", "attribution_robustness", "gini", "corruption_accuracy", "warnings",
    "checks", "train_seconds", "hardware", "n_eval", "evaluation", "id", "dataset", "method",
}  # fmt: skip


def scores(data: Any, path: str = "") -> list[tuple[str, dict]]:
    """Every {"value": ...} block in the report with its path."""
    found = []
    if isinstance(data, dict):
        if "value" in data:
            found.append((path, data))
        for key, value in data.items():
            if key not in ("details", "settings", "params", "protocol", "overrides"):
                found += scores(value, f"{path}.{key}")
    return found


@pytest.fixture(scope="module")
def evaluated(world: SimpleNamespace, tiny_settings: Callable[..., EvalSettings]) -> tuple[Report, dict]:
    report = evaluate(world.model_dir, world.data_dir, tiny_settings())
    return report, json.loads((world.model_dir / "report.json").read_text())


def test_report_json_is_written_beside_the_card(world: SimpleNamespace, evaluated: tuple[Report, dict]) -> None:
    report, data = evaluated
    assert read_report(world.model_dir) == data
    assert Report.read(world.model_dir / "report.json") == report
    assert REQUIRED <= set(data)
    assert data["id"] == world.card.id and data["dataset"] == "mnist" and data["method"] == "natural"
    assert data["train_seconds"] == 1.5 and data["hardware"] == "CPU (test)"


def test_every_number_has_its_n(evaluated: tuple[Report, dict]) -> None:
    _, data = evaluated
    found = scores(data)
    assert len(found) >= 9
    for path, block in found:
        assert isinstance(block.get("n_eval"), int), path
        assert block["value"] is None or -1.0 <= block["value"] <= 1.0, path
    for key in ("robust_accuracy", "attribution_robustness", "gini", "corruption_accuracy"):
        assert isinstance(data[key]["n_eval"], int), key
    for check in data["checks"].values():
        assert isinstance(check["n_eval"], int) and check["details"]


def test_values_and_settings(evaluated: tuple[Report, dict]) -> None:
    report, data = evaluated
    assert report.n_eval == 40 and report.clean_accuracy.n_eval == 40
    robust = report.robust_accuracy
    assert robust.eps == pytest.approx(0.3) and robust.norm == "linf"  # natural card (eps 0): MNIST convention
    assert robust.pgd.params["steps"] == 5 and robust.pgd.params["restarts"] == 1 and robust.apgd_dlr is not None
    assert robust.apgd_dlr.params["loss"] == "dlr" and robust.apgd_ce.params["loss"] == "ce"
    worst = robust.worst.value
    assert worst <= min(robust.pgd.value, robust.apgd_ce.value, robust.apgd_dlr.value, report.clean_accuracy.value)
    rar = report.attribution_robustness
    assert rar.n_eval == 6 and rar.n_attacked == rar.topk_intersection.n_eval <= 6
    assert rar.preset == "mnist" and rar.paper_settings is False
    assert rar.overrides == {"steps": 2, "restarts": 1, "attack_ig_steps": 2, "ig_steps": 8}
    assert rar.protocol["eps"] == pytest.approx(0.3) and rar.protocol["k_attack"] == 200
    assert 0 <= rar.topk_intersection.value <= 1 and -1 <= rar.kendall.value <= 1
    # per-image results, for paired comparisons: outcomes over all images, RAR scores at the attacked images' index
    clean_outcomes = decode_per_example(report.clean_accuracy.per_example)
    worst_outcomes = decode_per_example(robust.worst.per_example)
    assert len(clean_outcomes) == len(worst_outcomes) == 40 and set(clean_outcomes) <= {0.0, 1.0}
    assert sum(clean_outcomes) / 40 == pytest.approx(report.clean_accuracy.value)
    assert sum(worst_outcomes) / 40 == pytest.approx(worst)
    assert all(w <= c for w, c in zip(worst_outcomes, clean_outcomes, strict=True))
    topk = decode_per_example(rar.topk_intersection.per_example)
    scored = [v for v in topk if v is not None]
    assert len(topk) == 6 and len(scored) == rar.n_attacked
    assert [v is None for v in topk] == [c == 0.0 for c in clean_outcomes[:6]]  # only correct images are attacked
    assert sum(scored) / len(scored) == pytest.approx(rar.topk_intersection.value, abs=1e-4)
    assert report.gini.n_eval == 6 and 0 < report.gini.value < 1 and report.gini.params["steps"] == 8
    gini_per_image = decode_per_example(report.gini.per_example)  # every image scored: Gini compares paired
    assert len(gini_per_image) == 6 and sum(gini_per_image) / 6 == pytest.approx(report.gini.value, abs=1e-4)
    corruption = report.corruption_accuracy
    assert set(corruption.accuracy) == {"gaussian_noise", "gaussian_blur", "contrast", "brightness", "salt_pepper"}
    assert all(set(row) == {"1", "2", "3", "mean"} for row in corruption.accuracy.values())
    assert corruption.resolution == "28px" and 0 <= corruption.mean <= 1
    info = data["evaluation"]
    assert info["settings"]["rar"]["steps"] == 2 and info["quick"] is False
    assert sum(info["class_counts"].values()) == 40 and len(info["class_counts"]) > 1  # what the sample covers
    assert info["torch_threads"] >= 1 and info["seconds"] > 0 and info["hardware"] and "mnist" in info["data_source"]
    assert report.warnings == [] and set(report.checks) >= {"probability_output", "zero_gradient", "eps_not_monotone"}


def tiny_card(**update: Any) -> ModelCard:
    card = ModelCard(
        id="toy", dataset="image_folder", net="tiny", classes=["a", "b", "c"], input_size=[1, 8, 8], mean=[0.5],
        std=[0.5], method="natural", threat_model=ThreatModel(eps=0.2),
    )  # fmt: skip
    return card.model_copy(update=update)


def test_fired_checks_land_in_the_report(tiny_model: nn.Module, tiny_settings: Callable[..., EvalSettings]) -> None:
    x = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = tiny_model(x).argmax(1).detach()
    settings = tiny_settings(n_eval=12, rar={"steps": 2, "restarts": 1, "attack_ig_steps": 2, "ig_steps": 4})
    prob_model = nn.Sequential(tiny_model, nn.Softmax(dim=1))
    with pytest.warns(ProbabilityOutputWarning):
        report = benchmark(prob_model, tiny_card(), x, y, settings)
    assert "probability_output" in [w.code for w in report.warnings]
    assert report.checks["probability_output"].fired
    assert report.attribution_robustness.preset == "generic"  # image folders get a protocol scaled to the image
    assert report.attribution_robustness.protocol["k_attack"] == 6
    quiet = benchmark(prob_model, tiny_card(), x, y, settings.model_copy(update={"n_attribution": 0}),
                      emit_warnings=False)  # fmt: skip
    assert quiet.attribution_robustness is None and quiet.warnings


def test_threat_defaults_follow_card_then_dataset() -> None:
    mnist = tiny_card(dataset="mnist", threat_model=ThreatModel(eps=0.0))
    assert threat_defaults(mnist, EvalSettings()) == threat_defaults(mnist, EvalSettings(eps=0.3))
    assert threat_defaults(mnist, EvalSettings()).pgd_steps == 40
    cifar = tiny_card(dataset="cifar10", threat_model=ThreatModel(eps=0.0))
    t = threat_defaults(cifar, EvalSettings())
    assert (t.eps, t.pgd_steps, t.pgd_step_size) == pytest.approx((8 / 255, 20, 2 / 255))
    assert threat_defaults(cifar.model_copy(update={"threat_model": ThreatModel(eps=4 / 255)}), EvalSettings()).eps == (
        pytest.approx(4 / 255)
    )
    assert threat_defaults(cifar, EvalSettings(eps="16/255", pgd_steps=7)).pgd_steps == 7


def test_settings_validation_and_cli_overrides() -> None:
    with pytest.raises(ValidationError, match="unknown RAR protocol fields"):
        EvalSettings(rar={"stepz": 3})
    with pytest.raises(ValidationError, match="unknown corruptions"):
        EvalSettings(corruptions=("fog",))
    quick = settings_from_cli(quick=True, n_eval=30, overrides=["rar.steps=7", "checks.blackbox_queries=11"])
    assert quick.quick and quick.n_eval == 30 and quick.n_attribution == EvalSettings.quick_settings().n_attribution
    assert quick.rar["steps"] == 7 and quick.rar["restarts"] == 1 and quick.checks.blackbox_queries == 11
    full = settings_from_cli()
    assert (full.n_eval, full.n_attribution, full.quick, full.rar) == (1000, 500, False, {})
