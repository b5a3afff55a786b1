"""scripts/egat_recipe_map.py: paired differences from two synthetic reports, the bars' verdict, the picture and the
manifest's validation."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from explainlab.eval.per_example import encode_per_example
from tests.scripts_loader import load_script

recipe_map = load_script("egat_recipe_map")


def write_report(path: Path, worst: list[float], topk: list[float]) -> str:
    """A report with the two numbers the map reads, each with its per-image values (n = len)."""

    def block(values: list[float]) -> dict:
        return {"value": sum(values) / len(values), "n_eval": len(values), "per_example": encode_per_example(values)}

    report = {"clean_accuracy": block([1.0] * len(worst)), "robust_accuracy": {"worst": block(worst)},
              "attribution_robustness": {"topk_intersection": block(topk)},
              "evaluation": {"hardware": "CPU test", "torch_threads": 1}}  # fmt: skip
    path.write_text(json.dumps(report))
    return str(path)


def manifest(tmp_path: Path, recipes: list[dict[str, str]]) -> Path:
    lines = []
    for recipe in recipes:
        lines += ["[[recipe]]", *(f'{k} = "{v}"' for k, v in recipe.items()), ""]
    path = tmp_path / "recipes.toml"
    path.write_text("\n".join(lines))
    return path


def test_differences_are_paired_and_the_bars_judged(tmp_path: Path) -> None:
    n = 100
    reference = write_report(tmp_path / "ref.json", [1.0] * 90 + [0.0] * 10, [0.80] * n)
    # loses exactly 2 of the reference's robust images and gains 5 top-k points on every image: paired SE of top-k 0
    close = write_report(tmp_path / "a.json", [1.0] * 88 + [0.0] * 12, [0.85] * n)
    meets = write_report(tmp_path / "b.json", [1.0] * 90 + [0.0] * 10, [0.83] * n)
    rows = [{"label": "close", "report": close, "reference": reference, "group": "zoo"},
            {"label": "meets", "report": meets, "reference": reference, "group": "screen"}]  # fmt: skip
    path = manifest(tmp_path, rows)
    first, second = (recipe_map.measure(r) for r in recipe_map.read_manifest(path))
    assert first["worst_difference"] == pytest.approx(-2.0) and first["topk_difference"] == pytest.approx(5.0)
    assert first["worst_paired_n"] == n and first["topk_2se"] == pytest.approx(0.0)
    # std of the per-image differences (2 of 100 are -1) / sqrt(n), times two, in points
    assert first["worst_2se"] == pytest.approx(200 * (0.02 * 0.98 * 100 / 99) ** 0.5 / 10, rel=1e-6)
    assert not first["meets_both"] and second["meets_both"]

    out = tmp_path / "map.svg"
    assert recipe_map.main(["--manifest", str(path), "--svg", str(out), "--json", str(tmp_path / "m.json")]) == 0
    root = ET.fromstring(out.read_text())
    assert len(root.findall("{http://www.w3.org/2000/svg}circle")) == 2 + len(recipe_map.GROUPS)  # points + legend
    assert [r["label"] for r in json.loads((tmp_path / "m.json").read_text())["recipes"]] == ["close", "meets"]


def test_a_bad_manifest_is_an_error_that_names_the_fields(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = manifest(tmp_path, [{"label": "x", "report": "r.json", "group": "elsewhere"}])
    assert recipe_map.main(["--manifest", str(path)]) == 2
    assert "needs label, report, reference and a group" in capsys.readouterr().err
    (tmp_path / "empty.toml").write_text("title = 1\n")
    assert recipe_map.main(["--manifest", str(tmp_path / "empty.toml")]) == 2
