"""explainlab zoo compare: differences from the reference report with paired errors over per-image values, the
hardware note, and clear errors for what is not a report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from explainlab.cli import main
from explainlab.errors import CheckpointError
from explainlab.eval.per_example import encode_per_example
from explainlab.zoo.compare import compare_reports, compare_seed_pairs, render_comparison, render_seed_pairs


def report(model_id: str, worst: list[float], hardware: str = "CPU A", clean: float = 0.99) -> dict:
    mean = sum(worst) / len(worst)
    return {"id": model_id, "clean_accuracy": {"value": clean, "n_eval": len(worst), "std": None},
            "robust_accuracy": {"worst": {"value": mean, "n_eval": len(worst), "std": None,
                                          "per_example": encode_per_example(worst)}},
            "evaluation": {"hardware": hardware, "torch_threads": 1}}  # fmt: skip


def write(folder: Path, name: str, data: dict) -> str:
    path = folder / name
    path.write_text(json.dumps(data))
    return str(path)


def test_the_difference_and_its_paired_error_over_the_same_images(tmp_path: Path) -> None:
    ref = [1, 1, 0, 1, 0, 1, 1, 0]
    other = [1, 0, 0, 1, 0, 1, 0, 0]  # loses two images, gains none
    a = write(tmp_path, "ref.json", report("ref", ref))
    b = write(tmp_path, "other.json", report("other", other))
    result = compare_reports([a, b])
    (row,) = [r for r in result["rows"] if r["metric"] == "worst"]
    diffs = [u - v for u, v in zip(other, ref, strict=True)]
    mean = sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
    assert row["model"] == "other" and row["difference"] == pytest.approx(-0.25)
    assert row["se"] == pytest.approx(se) and row["paired_n"] == 8
    clean = next(r for r in result["rows"] if r["metric"] == "clean")
    assert clean["paired_n"] is None and clean["difference"] == pytest.approx(0.0)  # no per-image values: unpaired
    assert not result["mixed_hardware"]
    text = render_comparison(result)
    assert "-25.0" in text and "paired, n=8" in text and "different CPUs" not in text


def test_reports_from_two_cpus_are_flagged(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", report("a", [1, 0, 1], hardware="CPU A"))
    b = write(tmp_path, "b.json", report("b", [1, 1, 1], hardware="CPU B"))
    result = compare_reports([a, b])
    assert result["mixed_hardware"]
    assert "different CPUs" in render_comparison(result)


def test_a_report_of_one_class_is_named(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", report("a", [1, 0, 1]))
    one_class = report("b", [1, 1, 1])
    one_class["evaluation"]["class_counts"] = {"0": 3}  # every image of class 0
    text = render_comparison(compare_reports([a, write(tmp_path, "b.json", one_class)]))
    assert "note: b was measured on one class only" in text and "note: a " not in text


def test_a_model_folder_or_id_stands_for_its_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, worst in (("m-a-s0", [1, 1, 0, 0]), ("m-b-s0", [1, 1, 1, 0])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "card.json").write_text("{}")
        write(tmp_path / name, "report.json", report(name, worst))
    assert main(["zoo", "compare", "m-a-s0", str(tmp_path / "m-b-s0"), "--models-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    worst = next(r for r in out["rows"] if r["metric"] == "worst")
    assert worst["model"] == "m-b-s0" and worst["difference"] == pytest.approx(0.25)


def test_what_is_not_a_report_gets_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.json", report("good", [1, 0]))
    bad = write(tmp_path, "card.json", {"id": "x"})
    with pytest.raises(CheckpointError, match="not an evaluation report"):
        compare_reports([good, bad])
    with pytest.raises(CheckpointError, match="at least two"):
        compare_reports([good])
    assert main(["zoo", "compare", good, str(tmp_path / "missing.json")]) == 2
    assert "no report file" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["zoo", "compare", good, str(tmp_path / "broken.json")]) == 2
    assert "not a readable JSON report" in capsys.readouterr().err


def test_seed_pairs_give_the_claims_mean_over_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reference then model per seed: per-image means over the seeds, paired, plus the seeds' spread (as in claims)."""
    seeds = [([1, 1, 0, 0], [1, 1, 1, 0]), ([1, 0, 1, 0], [1, 0, 1, 1])]  # the model gains image 2, then image 3
    names = []
    for seed, (ref, model) in enumerate(seeds):
        names.append(write(tmp_path, f"ref{seed}.json", report(f"ref-s{seed}", ref)))
        names.append(write(tmp_path, f"model{seed}.json", report(f"model-s{seed}", model, hardware=f"CPU {seed}")))
    result = compare_seed_pairs(names)
    worst = next(r for r in result["rows"] if r["metric"] == "worst")
    # per-image means: reference (1, .5, .5, 0), model (1, .5, 1, .5); differences (0, 0, .5, .5)
    assert worst["difference"] == pytest.approx(0.25) and worst["paired_n"] == 4
    assert worst["seed_differences"] == pytest.approx([0.25, 0.25]) and worst["seed_se"] == pytest.approx(0.0)
    assert worst["se"] == pytest.approx(math.sqrt(1 / 12) / 2)  # std of (0, 0, .5, .5) / sqrt(4)
    assert result["mixed_hardware"]  # seed 0's model ran on "CPU 0", its reference on "CPU A"
    text = render_seed_pairs(result)
    assert "+25.0 / +25.0" in text and "different CPUs" in text
    with pytest.raises(CheckpointError, match="in pairs"):
        compare_seed_pairs(names[:3])
    assert main(["zoo", "seed-pairs", *names[:2]]) == 2  # one seed: use compare
    assert "at least two seeds" in capsys.readouterr().err
