"""``explainlab sweep``: one image file on stored models, the prediction and the map against ε, without a server."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from explainlab.cli import main


def digit(world: SimpleNamespace, tmp_path: Path) -> Path:
    path = tmp_path / "digit.png"
    Image.fromarray((world.x[0, 0] * 255).round().byte().numpy(), mode="L").save(path)
    return path


def test_a_sweep_prints_one_row_per_budget(world: SimpleNamespace, tmp_path: Path, capsys) -> None:
    argv = ["sweep", "--models", world.card.id, "--models-dir", str(world.models_dir), "--image",
            str(digit(world, tmp_path)), "--attack-params", '{"steps": 5}', "--json"]  # fmt: skip
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    # a natural model's card has no eps: PGD's own default, 0.3, and 0.25-2 times it
    assert [r["eps"] for r in rows] == [0.075, 0.15, 0.225, 0.3, 0.45, 0.6]
    for row in rows:
        (m,) = row["models"]
        assert m["model"] == world.card.id and m["linf"] <= row["eps"] + 1e-6 and 0 <= m["topk"] <= 1 and m["k"] == 78
    assert main(argv[:-1] + ["--eps", "0.3,0.1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["eps", "natural"] and [line.split()[0] for line in table[1:]] == ["0.1", "0.3"]


@pytest.mark.parametrize(("extra", "text"), [(["--eps", "0.1,x"], "could not convert"),
                                              (["--attack-params", "{bad"], "Expecting property name"),
                                              (["--eps", "0.1,2"], "must be <= 1")])  # fmt: skip
def test_bad_input_is_a_message(world: SimpleNamespace, tmp_path: Path, capsys, extra: list, text: str) -> None:
    argv = ["sweep", "--models", world.card.id, "--models-dir", str(world.models_dir), "--image",
            str(digit(world, tmp_path)), *extra]  # fmt: skip
    assert main(argv) == 2
    assert text in capsys.readouterr().err
