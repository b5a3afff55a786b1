"""``explainlab sanity-check``: the randomization test over the first test images, per model, without a server."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from explainlab.cli import main
from explainlab.eval.sanity_check import METRICS, SanityParams, check_images
from explainlab.explain import EXPLAINERS
from explainlab.zoo.listing import describe_model, sanity_runs
from explainlab.zoo.store import SANITY_CHECK


def _argv(world: SimpleNamespace, *extra: str) -> list[str]:
    return ["sanity-check", "--models", world.card.id, "--models-dir", str(world.models_dir), "--data-dir",
            str(world.data_dir), *extra]  # fmt: skip


def test_the_summary_matches_the_library_on_the_same_images(world: SimpleNamespace, capsys) -> None:
    assert main(_argv(world, "--images", "6", "--start", "3", "--json", "--batch", "4")) == 0
    out = json.loads(capsys.readouterr().out)
    (summary,) = out["models"]
    assert out["images"] == 6 and out["params"]["order"] == "cascading" and summary["n"] == 6
    expected = check_images(world.model, world.x[3:9], world.y[3:9], EXPLAINERS["saliency"](), SanityParams())
    for got, want in zip(summary["per_image"], expected, strict=True):  # batching moves only float rounding (a tie)
        assert (got["label"], got["predicted"]) == (want["label"], want["predicted"])
        for a, b in zip(got["stages"], want["stages"], strict=True):
            assert a["name"] == b["name"] and a["same_prediction"] == b["same_prediction"]
            assert {m: a[m] for m in METRICS} == pytest.approx({m: b[m] for m in METRICS}, abs=0.02)
    assert [s["name"] for s in summary["stages"]] == ["trained", "fc2", "fc1", "conv2", "conv1"]
    last = [r["stages"][-1]["topk_intersection"] for r in expected]
    assert summary["stages"][-1]["topk_intersection"]["mean"] == pytest.approx(sum(last) / 6)
    assert main(_argv(world, "--images", "3", "--order", "independent")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mnist test images 0-2, maps: saliency, independent randomization")
    assert [line.split()[1] for line in lines[2:7]] == ["fc2", "fc1", "conv2", "conv1", "(other"]


def test_write_stores_one_run_per_method_beside_the_card(world: SimpleNamespace, capsys) -> None:
    assert main(_argv(world, "--images", "4", "--write")) == 0
    assert main(_argv(world, "--images", "4", "--write", "--method", "gradcam")) == 0
    assert main(_argv(world, "--images", "4", "--write", "--seed", "5")) == 0  # saliency again: replaced
    capsys.readouterr()
    runs = json.loads((world.models_dir / world.card.id / SANITY_CHECK).read_text())["runs"]
    assert [r["method"] for r in runs] == ["gradcam", "saliency"] and runs[1]["params"]["seed"] == 5
    assert "per_image" not in runs[0] and runs[0]["hardware"].startswith("CPU") and runs[0]["images"] == 4
    listed = describe_model(world.models_dir / world.card.id)["sanity_check"]  # the listing's brief form
    assert [r["method"] for r in listed] == ["gradcam", "saliency"] and listed[1]["images"] == 4
    assert list(listed[1]["topk_kept"]) == ["fc2", "fc1", "conv2", "conv1"]
    assert listed[1]["topk_kept"]["conv1"] == runs[1]["stages"][-1]["topk_intersection"]["mean"]


@pytest.mark.parametrize(("extra", "text"), [(["--images", "0"], "at least 1"), (["--start", "55", "--images", "9"],
                                              "has 60"), (["--order", "sideways"], "cascading")])  # fmt: skip
def test_bad_input_is_a_message(world: SimpleNamespace, capsys, extra: list, text: str) -> None:
    assert main(_argv(world, *extra)) == 2
    assert text in capsys.readouterr().err


def test_the_listing_recomputes_the_flags_from_the_means(world: SimpleNamespace, capsys) -> None:
    assert main(_argv(world, "--images", "4", "--write", "--method", "input_x_gradient", "--top-fraction", "0.05")) == 0
    capsys.readouterr()
    path = world.models_dir / world.card.id / SANITY_CHECK
    stored = json.loads(path.read_text())
    run = next(r for r in stored["runs"] if r["method"] == "input_x_gradient")
    expected = run["flags"]
    run["flags"] = [{"code": "stale"}]  # written by an older rule
    path.write_text(json.dumps(stored))
    listed = next(r for r in sanity_runs(world.model_dir) if r["method"] == "input_x_gradient")
    assert listed["flags"] == expected
    brief = next(r for r in describe_model(world.model_dir)["sanity_check"] if r["method"] == "input_x_gradient")
    assert brief["flags"] == [f["code"] for f in expected]
