"""``explainlab certify``: certified maps over the first test images, per model, without a server."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from scipy import stats

from explainlab.cli import main
from explainlab.zoo.listing import describe_model
from explainlab.zoo.store import CERTIFIED_MAP


def _argv(world: SimpleNamespace, *extra: str) -> list[str]:
    return ["certify", "--models", world.card.id, "--models-dir", str(world.models_dir), "--data-dir",
            str(world.data_dir), "--n", "30", "--sigma", "0.2", *extra]  # fmt: skip


def test_the_summary_matches_the_images(world: SimpleNamespace, capsys) -> None:
    assert main(_argv(world, "--images", "8", "--start", "4", "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"]["sigma"] == 0.2 and out["params"]["n"] == 30 and out["images"] == 8
    (summary,) = out["models"]
    rows = summary["per_image"]
    with torch.no_grad():
        predicted = world.model(world.x[4:12]).argmax(1)
    assert [r["label"] for r in rows] == predicted.tolist()
    assert [r["correct"] for r in rows] == (predicted == world.y[4:12]).tolist()
    assert summary["accuracy"]["mean"] == pytest.approx(sum(r["correct"] for r in rows) / 8)
    assert summary["certified_share"]["mean"] == pytest.approx(sum(r["certified_share"] for r in rows) / 8)
    assert summary["radius"] == pytest.approx(0.2 * stats.norm.ppf(0.75))
    assert all(r["certified_correct"] <= r["smoothed_correct"] for r in rows)  # certified at R implies right
    assert main(_argv(world, "--images", "3")) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("mnist test images 0-2, maps: saliency, sigma 0.2, n 30") and "R = 0.1349" in table[0]
    assert table[2].split()[0] == "natural"


def test_write_stores_the_summary_beside_the_card(world: SimpleNamespace, capsys) -> None:
    assert main(_argv(world, "--images", "4", "--write")) == 0
    capsys.readouterr()
    stored = json.loads((world.models_dir / world.card.id / CERTIFIED_MAP).read_text())["runs"][0]
    assert stored["model"] == world.card.id and stored["images"] == 4 and "per_image" not in stored
    assert stored["params"]["sigma"] == 0.2 and stored["hardware"].startswith("CPU")
    row = describe_model(world.models_dir / world.card.id)["certified_map"]
    assert row["important_certified_of_k"] == stored["important_certified_of_k"] and row["images"] == 4
    assert main(_argv(world, "--images", "4", "--write", "--sigma", "0.12")) == 0  # another sigma: a second run
    assert main(_argv(world, "--images", "4", "--write", "--seed", "3")) == 0  # the first sigma again: replaced
    capsys.readouterr()
    runs = json.loads((world.models_dir / world.card.id / CERTIFIED_MAP).read_text())["runs"]
    assert [r["params"]["sigma"] for r in runs] == [0.12, 0.2] and runs[1]["params"]["seed"] == 3
    row = describe_model(world.models_dir / world.card.id)["certified_map"]
    assert row["params"]["sigma"] == 0.12 and [r["params"]["sigma"] for r in row["by_sigma"]] == [0.12, 0.2]


@pytest.mark.parametrize(("extra", "text"), [(["--images", "0"], "at least 1"), (["--start", "55", "--images", "9"],
                                              "has 60"), (["--tau", "0.4"], "greater than 0.5")])  # fmt: skip
def test_bad_input_is_a_message(world: SimpleNamespace, capsys, extra: list, text: str) -> None:
    assert main(_argv(world, *extra)) == 2
    assert text in capsys.readouterr().err
