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


def manifest(tmp_path: Path, recipes: list[dict[str, str]], means: list[dict] = ()) -> Path:
    lines = []
    for recipe in recipes:
        lines += ["[[recipe]]", *(f'{k} = "{v}"' for k, v in recipe.items()), ""]
    for mean in means:
        lines += ["[[mean]]", f'label = "{mean["label"]}"', f"recipes = {json.dumps(mean['recipes'])}", ""]
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
    first, second = (recipe_map.measure(r) for r in recipe_map.read_manifest(path)[0])
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


def test_a_seed_mean_counts_images_and_seeds_and_is_drawn(tmp_path: Path) -> None:
    n = 100
    reference = write_report(tmp_path / "ref.json", [1.0] * n, [0.80] * n)
    # seed 0 loses 1 robust image and gains 2 top-k points, seed 1 loses 3 and gains 6: mean -2 / +4
    seed0 = write_report(tmp_path / "s0.json", [1.0] * 99 + [0.0], [0.82] * n)
    seed1 = write_report(tmp_path / "s1.json", [1.0] * 97 + [0.0] * 3, [0.86] * n)
    rows = [{"label": "s0", "report": seed0, "reference": reference, "group": "zoo"},
            {"label": "s1", "report": seed1, "reference": reference, "group": "zoo"}]  # fmt: skip
    path = manifest(tmp_path, rows, [{"label": "both seeds", "recipes": ["s0", "s1"]}])
    recipes, means = recipe_map.read_manifest(path)
    mean = recipe_map.measure_mean(means[0], recipes)
    assert mean["rows"] == [1, 2] and mean["worst_difference"] == pytest.approx(-2.0)
    assert mean["topk_difference"] == pytest.approx(4.0) and not mean["meets_both"]
    # top-k: every image moves alike (image SE 0), so the error is the seeds': std(2, 6) / sqrt(2) = 2 points, x2
    assert mean["topk_2se"] == pytest.approx(4.0)

    out = tmp_path / "map.svg"
    assert recipe_map.main(["--manifest", str(path), "--svg", str(out), "--json", str(tmp_path / "m.json")]) == 0
    root = ET.fromstring(out.read_text())
    assert len(root.findall("{http://www.w3.org/2000/svg}polygon")) == 1 + 1  # the mean + its legend mark
    assert json.loads((tmp_path / "m.json").read_text())["means"][0]["label"] == "both seeds"


def test_a_mean_of_unknown_recipes_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    reference = write_report(tmp_path / "ref.json", [1.0] * 10, [0.8] * 10)
    rows = [{"label": "s0", "report": reference, "reference": reference, "group": "zoo"}]
    path = manifest(tmp_path, rows, [{"label": "m", "recipes": ["s0", "s9"]}])
    assert recipe_map.main(["--manifest", str(path)]) == 2
    assert "names no recipe labelled ['s9']" in capsys.readouterr().err
