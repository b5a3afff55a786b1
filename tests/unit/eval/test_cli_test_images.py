"""``explainlab test-images``: the lab's attack and maps over the first n test images, without a server."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from explainlab.cli import main


def _argv(world: SimpleNamespace, *extra: str) -> list[str]:
    return ["test-images", "--models", world.card.id, "--models-dir", str(world.models_dir), "--data-dir",
            str(world.data_dir), "--attack-params", '{"eps": 0.1, "steps": 3, "step_size": 0.05}', *extra]  # fmt: skip


def test_the_summary_matches_the_images(world: SimpleNamespace, capsys) -> None:
    assert main(_argv(world, "--n", "20", "--start", "10", "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["labels"] == world.y[10:30].tolist() and out["attack_params"]["eps"] == 0.1
    (summary,) = out["models"]
    per_image = out["per_image"][world.card.id]
    with torch.no_grad():
        correct = (world.model(world.x[10:30]).argmax(1) == world.y[10:30]).tolist()
    assert per_image["correct"] == correct and summary["clean_accuracy"]["mean"] == pytest.approx(sum(correct) / 20)
    assert summary["n"] == 20 and summary["topk_intersection"]["n"] == sum(correct)
    assert summary["max_linf"] is None or summary["max_linf"] <= 0.1 + 1e-6
    assert main(_argv(world, "--n", "20")) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("mnist test images 0-19, pgd") and table[2].split()[0] == "natural"


@pytest.mark.parametrize(("extra", "text"), [(["--n", "0"], "at least 1"), (["--start", "50", "--n", "20"], "has 60"),
                                              (["--method-params", "{bad"], "Expecting property name")])  # fmt: skip
def test_bad_input_is_a_message(world: SimpleNamespace, capsys, extra: list, text: str) -> None:
    assert main(_argv(world, *extra)) == 2
    assert text in capsys.readouterr().err
