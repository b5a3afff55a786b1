"""bench/rar_reference.py: RAR's top-k intersection for the model's own IG maps, a random net's and the image's own,
under the same attacked images."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench import rar_reference

TINY = ["--n", "10", "--steps", "2", "--attack-ig-steps", "2", "--ig-steps", "8", "--random-seeds", "2"]


def test_a_random_twin_has_the_architecture_and_other_weights(world: SimpleNamespace) -> None:
    twin = rar_reference.random_twin(world.card, seed=0)
    trained = dict(world.model.named_parameters())
    for name, p in twin.named_parameters():
        assert p.shape == trained[name].shape
    assert not torch.equal(twin.net.fc2.weight, world.model.net.fc2.weight)
    assert torch.equal(rar_reference.random_twin(world.card, seed=0).net.fc2.weight, twin.net.fc2.weight)


def test_maps_of_an_unmoved_image_keep_every_top_pixel(world: SimpleNamespace) -> None:
    x, y = world.x[:3], world.y[:3]
    assert rar_reference.kept(world.model, x, x.clone(), y, ig_steps=8, k=20) == pytest.approx([1.0, 1.0, 1.0])


def test_the_run_reports_the_three_references(world: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "reference.json"
    code = rar_reference.main(["--models", world.card.id, "--models-dir", str(world.models_dir), "--data-dir",
                               str(world.data_dir), *TINY, "--json", str(out)])  # fmt: skip
    assert code == 0
    (row,) = json.loads(out.read_text())["models"]
    assert row["n_attacked"] > 0 and row["own_ig"]["n"] == row["n_attacked"]
    assert row["own_ig"]["mean"] == pytest.approx(row["rar_topk"], abs=1e-6)  # the model's own maps: RAR's number
    for key in ("random_net_ig", "image_itself"):
        assert 0.0 <= row[key]["mean"] <= 1.0
    assert row["max_linf"] <= 0.3 + 1e-6
