"""bench/gradient_geometry.py: the measures' closed forms where there is one, a model against itself, the usage errors,
and rar_paired's centered-logit switch reaching the protocol."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench import gradient_geometry, rar_paired
from explainlab.nets.normalized import Normalized


def test_a_model_against_itself_and_the_measures_ranges(world: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "geometry.json"
    code = gradient_geometry.main(["--models", world.card.id, str(world.model_dir), "--models-dir",
                                   str(world.models_dir), "--data-dir", str(world.data_dir), "--n", "30",
                                   "--json", str(out)])  # fmt: skip
    assert code == 0
    first, second = json.loads(out.read_text())["rows"]
    assert first["n"] == second["n"] > 0
    assert 0.0 <= first["saliency_cos"] <= 1.0 + 1e-6 and 0.0 <= first["centered_saliency_cos"] <= 1.0 + 1e-6
    assert 0.0 <= first["logit_vs_centered_cos"] <= 1.0 + 1e-6
    assert -1.0 <= first["shared_cos"] <= 1.0 and first["grad_norm"] > 0
    assert all(0.0 <= first[f"flips_{layer}"] <= 1.0 for layer in ("relu1", "relu2", "relu3"))
    assert first["channels"] == 32 and 0 <= first["immune"] <= first["off_on_black"] <= 32
    assert all(d["mean"] == 0.0 for d in second["vs_first"].values())


def test_a_linear_model_has_one_gradient_over_the_ball() -> None:
    torch.manual_seed(0)
    model = Normalized(nn.Sequential(nn.Flatten(), nn.Linear(64, 3)), [0.5], [0.5]).eval()
    x = torch.rand(12, 1, 8, 8)
    y = model(x).argmax(1)  # every image correct
    values = gradient_geometry.per_image(model, x, y, eps=0.1)
    torch.testing.assert_close(values["grad_change"], torch.zeros(12, dtype=torch.float64), atol=1e-6, rtol=0)
    for key in ("saliency_cos", "centered_saliency_cos"):
        torch.testing.assert_close(values[key], torch.ones(12, dtype=torch.float64), atol=1e-5, rtol=0)
    assert not any(key.startswith("flips_") for key in values)  # no ReLU layers, no flips
    w = model.net[1].weight.detach().double() / 0.5  # d f / dx, the normalization folded in: (3, 64)
    centered = w - w.mean(0)
    expected = F.cosine_similarity(w[y].abs(), centered[y].abs(), dim=1)  # closed form of the maps' agreement
    torch.testing.assert_close(values["logit_vs_centered_cos"], expected, atol=1e-5, rtol=0)
    assert bool((values["loss_rise"] > 0).all())  # PGD raised every loss


def test_the_immune_count_has_a_closed_form() -> None:
    net = torch.nn.Module()
    net.conv1 = torch.nn.Conv2d(1, 3, 1)
    with torch.no_grad():
        net.conv1.weight.copy_(torch.tensor([1.0, 1.0, -1.0]).view(3, 1, 1, 1))
        net.conv1.bias.copy_(torch.tensor([-0.5, -0.1, 0.2]))
    model = SimpleNamespace(net=net, mean=torch.zeros(1, 1, 1, 1), std=torch.ones(1, 1, 1, 1))
    # on black: -0.5 and -0.1 are off, 0.2 is on; at eps 0.3 the first stays off (-0.2), the second turns on (+0.2)
    # radii: the eps at which each off channel turns on, 0.5 / 1 and 0.1 / 1; at eps 0.1 the second sits on the edge
    at_03 = gradient_geometry.background_immune(model, 0.3)
    assert at_03 == {"channels": 3, "off_on_black": 2, "immune": 1, "on_edge": 0, "radii": [0.1, 0.5]}
    at_01 = gradient_geometry.background_immune(model, 0.1)
    assert at_01["on_edge"] == 1 and at_01["immune"] == 2  # radius 0.1 at eps 0.1: off, but only just
    with torch.no_grad():
        net.conv1.weight.copy_(torch.tensor([-1.0, 1.0, -1.0]).view(3, 1, 1, 1))  # no positive weight: never on
    assert gradient_geometry.background_immune(model, 0.3)["radii"] == [0.1, None]


def test_bad_flags_are_usage_errors(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        gradient_geometry.main(["--models", world.card.id, "--n", "1"])
    assert "--n must be >= 2" in capsys.readouterr().err
    assert gradient_geometry.main(["--models", "no-such-model", "--models-dir", str(world.models_dir)]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_rar_paired_can_explain_the_centered_logit(world: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "paired.json"
    code = rar_paired.main(["--models", world.card.id, "--models-dir", str(world.models_dir), "--data-dir",
                            str(world.data_dir), "--n", "8", "--steps", "2", "--attack-ig-steps", "2", "--ig-steps",
                            "8", "--centered-logit", "--json", str(out)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert result["protocol"]["centered_logit"] is True
    assert not math.isnan(result["rows"][0]["topk_intersection"])
