"""The leaderboard: one table per dataset, every number with its n, a regenerate line; CLI zoo list/leaderboard."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from explainlab.cli import main
from explainlab.nets import build_model
from explainlab.zoo import list_models, render_leaderboard, save_model, write_leaderboard
from explainlab.zoo.leaderboard import format_duration
from tests.unit.zoo.conftest import card as make_card
from tests.unit.zoo.conftest import report


def test_markdown_tables(zoo: SimpleNamespace) -> None:
    text = render_leaderboard(zoo.models)
    assert "How to regenerate" in text and "explainlab zoo leaderboard" in text
    assert "## MNIST (L∞, ε = 0.3)" in text and "## CIFAR-10 (L∞, ε = 0.03137 = 8/255)" in text
    mnist = text.split("## MNIST")[1].split("##")[0]
    lines = [line for line in mnist.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in lines] == ["mnist-a", "mnist-b"]  # sorted by worst-case robustness
    a, b = lines
    for cell in ("98.1 (n=1000)", "91.2 (n=1000)", "90.2 (n=1000)", "89.2 (n=1000)", "88.2 (n=1000)",
                 "61.2 (n=498)", "0.346 (n=498)", "0.778 (n=1000)", "86.4 (n=1000)", "12.6 min"):  # fmt: skip
        assert cell in a, cell
    assert "99.2 (n=100)" in b and "quick" in b and "RAR reduced: restarts=1, steps=5" in b and "`zero_gradient`" in b
    header = next(line for line in mnist.splitlines() if line.startswith("| model"))
    for column in ("clean", "PGD", "APGD-CE", "APGD-DLR", "top-k ∩", "Kendall", "Gini", "corruption mean",
                   "train time"):  # fmt: skip
        assert column in header
    assert "no report" in text.split("## CIFAR-10")[1]
    assert "unreadable card" in text


def test_variants_follow_the_main_table(zoo: SimpleNamespace) -> None:
    """One model per method in the main table (from scratch before a fine-tune, then the first id); the others
    (seeds, sweeps, fine-tunes) in a variants table under it; MNIST, the lab's home, before CIFAR-10."""
    for model_id, init_from in (("mnist-z-s1", None), ("mnist-0-ft", "models/mnist-a")):
        c = make_card(model_id).model_copy(update={"train_config": {"init_from": init_from} if init_from else {}})
        save_model(zoo.models / model_id, build_model("small_cnn", c.mean, c.std, **c.net_params, num_classes=10), c)
    text = render_leaderboard(zoo.models)
    assert text.index("## MNIST") < text.index("## CIFAR-10")
    main_part, variants = text.split("\n## MNIST")[1].split("\n## CIFAR-10")[0].split("### MNIST: variants")

    def ids(part: str) -> list[str]:
        return [line.split("`")[1] for line in part.splitlines() if line.startswith("| `")]

    assert ids(main_part) == ["mnist-a", "mnist-b"] and sorted(ids(variants)) == ["mnist-0-ft", "mnist-z-s1"]
    rows = {row["id"]: row for row in list_models(zoo.models)}
    assert rows["mnist-a"]["representative"] and not rows["mnist-0-ft"]["representative"]
    assert rows["mnist-z-s1"]["short_id"] == "z-s1" and "representative" not in rows["broken"]


def test_write_leaderboard(zoo: SimpleNamespace) -> None:
    path = write_leaderboard(zoo.models)
    assert path == zoo.models / "README.md" and path.read_text() == render_leaderboard(zoo.models)


def test_empty_zoo(tmp_path) -> None:
    assert "No stored models yet" in render_leaderboard(tmp_path)


@pytest.mark.parametrize(("seconds", "text"), [(0, "—"), (42, "42 s"), (754, "12.6 min"), (7200, "2.0 h")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_cli_zoo_list_json(zoo: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "list", "--json", "--models-dir", str(zoo.models)]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"broken", "cifar10-c", "mnist-a", "mnist-b"}
    assert rows["mnist-a"]["headline"]["pgd"] == {"value": 0.9123, "n": 1000, "std": None}
    assert main(["zoo", "list", "--models-dir", str(zoo.models)]) == 0
    assert "mnist-b" in capsys.readouterr().out


def test_cli_zoo_leaderboard(zoo: SimpleNamespace, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    assert main(["zoo", "leaderboard", "--models-dir", str(zoo.models)]) == 0
    assert "mnist-a" in capsys.readouterr().out
    monkeypatch.setenv("EXPLAINLAB_MODELS", str(zoo.models))
    assert main(["zoo", "leaderboard", "--write"]) == 0
    assert "README.md" in capsys.readouterr().out and (zoo.models / "README.md").is_file()


def test_a_fine_tune_names_its_base(zoo: SimpleNamespace) -> None:
    tuned = make_card("mnist-tuned").model_copy(update={"train_config": {"init_from": "models/mnist-a"}})
    model_dir = zoo.models / "mnist-tuned"
    model_dir.mkdir()
    (model_dir / "card.json").write_text(tuned.model_dump_json())
    line = next(x for x in render_leaderboard(zoo.models).splitlines() if x.startswith("| `mnist-tuned`"))
    assert "12.6 min + `mnist-a`" in line


def test_seed_spread_table(zoo: SimpleNamespace) -> None:
    assert "Seed-to-seed spread" not in render_leaderboard(zoo.models)  # no recipe has two seeds yet
    for seed, (clean, pgd) in {0: (0.9812, 0.9123), 1: (0.9790, 0.8950), 2: (0.9800, 0.9000)}.items():
        c = make_card(f"mnist-rec-s{seed}")
        save_model(zoo.models / c.id, build_model("small_cnn", c.mean, c.std, **c.net_params, num_classes=10), c)
        if seed < 2:  # seed 2 is trained but not evaluated: left out of the spread
            report(c, clean, pgd).write(zoo.models / c.id / "report.json")
    text = render_leaderboard(zoo.models)
    section = text.split("## Seed-to-seed spread")[1].split("##")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == 1 and rows[0].startswith("| `mnist-rec` | 0, 1 |")
    assert "98.1 / 97.9 (0.2)" in rows[0] and "91.2 / 89.5 (1.7)" in rows[0] and "0.778 / 0.778 (0.000)" in rows[0]


def test_mixed_thread_counts_are_noted(zoo: SimpleNamespace) -> None:
    def board_lines() -> list[str]:
        return [line for line in render_leaderboard(zoo.models).splitlines() if line.startswith("| `mnist-")]

    assert not any("torch thread" in line for line in board_lines())  # the fixture's reports share one count
    c = make_card("mnist-other-s0")
    save_model(zoo.models / c.id, build_model("small_cnn", c.mean, c.std, **c.net_params, num_classes=10), c)
    report(c, 0.98, 0.90, threads=1).write(zoo.models / c.id / "report.json")
    lines = board_lines()
    assert any(line.startswith("| `mnist-other-s0`") and " 1 torch thread |" in line for line in lines)
    assert all("torch thread" in line for line in lines if "no report" not in line)


def test_a_stronger_attack_rerun_is_noted(zoo: SimpleNamespace) -> None:
    c = make_card("mnist-warned-s0")
    save_model(zoo.models / c.id, build_model("small_cnn", c.mean, c.std, **c.net_params, num_classes=10), c)
    report(c, 0.98, 0.90, warnings=("black_box_stronger",)).write(zoo.models / c.id / "report.json")
    strong = report(c, 0.98, 0.88).model_dump()
    strong["evaluation"]["settings"] = {"pgd_restarts": 10, "apgd_restarts": 5}
    (zoo.models / c.id / "report_strong_attacks.json").write_text(json.dumps(strong))
    line = next(x for x in render_leaderboard(zoo.models).splitlines() if x.startswith("| `mnist-warned-s0`"))
    worst = 100 * strong["robust_accuracy"]["worst"]["value"]
    assert (
        f"warnings: `black_box_stronger`; stronger attacks (PGD × 10, APGD × 5 restarts): worst {worst:.1f}, "
        "no warnings" in line
    )


def test_the_black_box_points_attacked_harder_are_noted(zoo: SimpleNamespace) -> None:
    """bench/black_box_points.py --write: the listing counts the points and those the white-box attacks broke too."""
    from explainlab.zoo.listing import describe_model

    c = make_card("mnist-nearby-s0")
    save_model(zoo.models / c.id, build_model("small_cnn", c.mean, c.std, **c.net_params, num_classes=10), c)
    report(c, 0.98, 0.90, warnings=("black_box_stronger",)).write(zoo.models / c.id / "report.json")
    points = {"steps": 200, "restarts": 20, "report": "report.json",
              "points": [{"broken_by_white_box": True}, {"broken_by_white_box": False}]}  # fmt: skip
    (zoo.models / c.id / "black_box_points.json").write_text(json.dumps(points))
    assert describe_model(zoo.models / c.id)["black_box_points"] == {
        "report": "report.json", "n_points": 2, "steps": 200, "restarts": 20, "n_white_box_broken": 1,
        "all_broken": False}  # fmt: skip
    line = next(x for x in render_leaderboard(zoo.models).splitlines() if x.startswith("| `mnist-nearby-s0`"))
    assert "broken points (report.json): 1 of 2 also broken by PGD / APGD at 200 steps × 20 restarts" in line
    (zoo.models / c.id / "black_box_points.json").write_text("{not json")
    assert describe_model(zoo.models / c.id)["black_box_points"] is None  # an unreadable file is no evidence
