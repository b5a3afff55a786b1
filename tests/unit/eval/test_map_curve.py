"""The map-similarity curve: a linear model's gradient map cannot be moved (top-k ∩ = 1 at every budget), a CNN's
can; ``explainlab map-curve`` writes map_curve.json beside the card and the zoo listing reads it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from explainlab.cli import main
from explainlab.eval.map_curve import MapCurveSettings, map_curve
from explainlab.zoo.listing import describe_model


def test_a_linear_models_saliency_map_cannot_move() -> None:
    # logits = W x: the gradient of logit y is W_y at every input, so no perturbation moves the map
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
    x = torch.rand(12, 1, 8, 8)
    y = model(x).argmax(1)
    settings = MapCurveSettings(steps=5, fractions=(0.5, 1.0, 5.0), surrogate_beta=None)  # no ReLU to smooth
    curve = map_curve(model, x, y, 0.3, settings)
    assert curve["eps"] == [0.0, 0.15, 0.3, 1.0]  # a budget above the full pixel range is clamped to it
    assert curve["topk_intersection"] == pytest.approx([1.0] * 4) and curve["spearman"] == pytest.approx([1.0] * 4)
    assert curve["label_kept"] == [1.0] * 4 and curve["n_attacked"] == 12 and curve["k"] == 6  # 10 % of 64 pixels


def test_only_correct_images_are_attacked(world: SimpleNamespace) -> None:
    y = world.y[:20].clone()
    with torch.no_grad():
        wrong = world.model(world.x[:20]).argmax(1) != y
    curve = map_curve(world.model, world.x[:20], y, 0.3, MapCurveSettings(steps=2, fractions=(1.0,)))
    assert curve["n_attacked"] == int((~wrong).sum()) and curve["n_eval"] == 20


def test_cli_writes_the_curve_beside_the_card(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["map-curve", world.card.id, "--models-dir", str(world.models_dir), "--data-dir", str(world.data_dir),
            "--set", "n=20", "--set", "steps=10"]  # fmt: skip
    assert main(argv) == 0
    assert f"{world.card.id}: top-78 ∩ 0:100%" in capsys.readouterr().out
    data = json.loads((world.model_dir / "map_curve.json").read_text())
    # a natural model's card has no eps: the dataset's convention, 0.3 on MNIST, and 0.25-2 times it
    assert data["eps"] == [0.0, 0.075, 0.15, 0.3, 0.6] and data["threat_eps"] == 0.3 and data["n_eval"] == 20
    assert data["settings"]["steps"] == 10 and data["attack"] == "topk" and data["seconds"] >= 0
    assert all(0.0 <= v <= 1.0 for v in data["topk_intersection"]) and data["topk_intersection"][0] == 1.0
    assert data["topk_intersection"][-1] < 1.0  # a CNN's map does move under the attack at 2 eps
    listed = describe_model(world.model_dir)["map_curve"]
    assert listed["eps"] == data["eps"] and listed["n"] == data["n_attacked"] and listed["steps"] == 10
    (world.model_dir / "map_curve.json").unlink()  # the other tests of this world see no curve


def test_a_bad_setting_is_a_message(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["map-curve", world.card.id, "--models-dir", str(world.models_dir), "--set", "steps=0"]
    assert main(argv) != 0
    assert "steps" in capsys.readouterr().err
