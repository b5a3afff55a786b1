"""The claims table: numbers from report.json / report_eps0.2.json / the own-map checks, unpaired SE, verdicts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from explainlab.cli import main
from explainlab.zoo.claims import check_claims, render_claims, standard_error, verdict
from explainlab.zoo.leaderboard import render_leaderboard
from explainlab.zoo.listing import short_id
from tests.unit.zoo.conftest import card

PREFIX = "mnist-small_cnn"


def stored(root: Path, method: str, report: dict | None = None, seed: int = 0, trained_as: str | None = None,
           **files: dict) -> str:  # fmt: skip
    """A model folder with a card and the given JSON files (the claims read nothing else); the card is an empty
    stand-in unless ``trained_as`` names the registry method the card records."""
    model_id = f"{PREFIX}-{method}-s{seed}"
    folder = root / model_id
    folder.mkdir(parents=True)
    (folder / "card.json").write_text(card(model_id, method=trained_as).model_dump_json() if trained_as else "{}")
    for name, data in {"report.json": report, **files}.items():
        if data is not None:
            (folder / name).write_text(json.dumps(data))
    return model_id


def rep(topk: float | None = None, topk_std: float = 0.1, n: int = 400, worst: float | None = None,
        gini: float | None = None) -> dict:  # fmt: skip
    out: dict = {"robust_accuracy": {}, "attribution_robustness": {}}
    if topk is not None:
        out["attribution_robustness"]["topk_intersection"] = {"value": topk, "n_eval": n, "std": topk_std}
    if worst is not None:
        out["robust_accuracy"]["worst"] = {"value": worst, "n_eval": 1000, "std": None}
    if gini is not None:
        out["gini"] = {"value": gini, "n_eval": n, "std": 0.02}
    return out


def by_pair(rows: list[dict], better: str, worse: str, metric: str) -> dict:
    (row,) = [r for r in rows if r["better"].endswith(f"-{better}-s0") and r["worse"].endswith(f"-{worse}-s0")
              and r["metric"] == metric]  # fmt: skip
    return row


def test_verdict_thresholds() -> None:
    assert verdict(0.03, 0.01) == "holds"
    assert verdict(0.01, 0.01) == "holds, within noise"
    assert verdict(-0.01, 0.01) == "missed, within noise"
    assert verdict(-0.03, 0.01) == "missed"
    assert verdict(0.0, None) == "holds" and verdict(-1e-9, 0.0) == "missed"


def test_standard_error_binomial_and_std() -> None:
    assert standard_error({"value": 0.9, "n": 1000, "std": None}, "worst") == pytest.approx(math.sqrt(0.09 / 1000))
    assert standard_error({"value": 0.9, "n": 400, "std": 0.2}, "gini") == pytest.approx(0.01)
    assert standard_error({"value": 0.9, "n": 400, "std": None}, "gini") is None  # no std, not a proportion
    assert standard_error({"value": 0.9, "n": 0, "std": 0.1}, "gini") is None


def test_claims_from_reports(tmp_path: Path) -> None:
    stored(tmp_path, "pgd_at", rep(topk=0.70, worst=0.90, gini=0.95))
    stored(tmp_path, "natural", rep(topk=0.50, worst=0.0, gini=0.90))
    stored(tmp_path, "ig_norm", rep(topk=0.71))  # +1 point, SE sqrt(2) * 0.005: z = 1.41
    stored(tmp_path, "egat", rep(topk=0.71, worst=0.90))
    rows = check_claims(tmp_path)

    clear = by_pair(rows, "pgd_at", "natural", "topk_intersection")
    assert clear["difference"] == pytest.approx(0.20) and clear["se"] == pytest.approx(math.sqrt(2) * 0.005)
    assert clear["verdict"] == "holds"
    assert by_pair(rows, "ig_norm", "pgd_at", "topk_intersection")["verdict"] == "holds, within noise"
    # EGAT's +3-point bar: +1 point is 2 points short, z = -2.8
    assert by_pair(rows, "egat", "pgd_at", "topk_intersection")["verdict"] == "missed"
    # robust accuracy equal, bar -1 point, binomial SE sqrt(2 * 0.09 / 1000) = 0.0134: z = 0.75
    robust = by_pair(rows, "egat", "pgd_at", "worst")
    assert robust["se"] == pytest.approx(math.sqrt(2 * 0.09 / 1000)) and robust["verdict"] == "holds, within noise"
    # ig_sum_norm and l1 are not stored: their comparisons are listed as "not trained", never "missed"
    untrained = [r for r in rows if "ig_sum_norm" in r["better"] or "l1" in r["worse"]]
    assert untrained and all(r["verdict"] == "not trained" and r["difference"] is None for r in untrained)
    assert by_pair(rows, "pgd_at", "natural", "topk_intersection")["a"]["n"] == 400


def test_a_second_seed_is_compared_to_the_baselines_same_seed(tmp_path: Path) -> None:
    stored(tmp_path, "pgd_at", rep(topk=0.70, worst=0.90), seed=1)
    stored(tmp_path, "egat_saliency_l0.2", rep(topk=0.74, worst=0.89), seed=1)
    rows = [r for r in check_claims(tmp_path) if r["better"] == f"{PREFIX}-egat_saliency_l0.2-s1"]
    assert {r["metric"] for r in rows} == {"worst", "topk_intersection"}
    assert all(r["worse"] == f"{PREFIX}-pgd_at-s1" and r["labels"] == ["egat_saliency_l0.2-s1", "pgd_at-s1"]
               and "seed 1" in r["claim"] for r in rows)  # fmt: skip
    topk = next(r for r in rows if r["metric"] == "topk_intersection")
    assert topk["difference"] == pytest.approx(0.04) and topk["verdict"] == "holds, within noise"
    assert any("| `egat_saliency_l0.2-s1` 74.0 | `pgd_at-s1` 70.0 |" in line for line in render_claims(rows))
    assert short_id("cifar10-resnet20-pgd_at-s0") == "pgd_at"
    assert short_id("mnist-small_cnn-pgd_at-s1") == "pgd_at-s1"


def test_the_mean_over_seeds_is_per_image_and_paired(tmp_path: Path) -> None:
    # 4 images; each side two seeds. Per-image means: egat (1, .5, 1, 0), pgd_at (1, 1, .5, 0)
    for method, seed, worst in [
        ("pgd_at", 0, "1 1 1 0"),
        ("pgd_at", 1, "1 1 0 0"),
        ("egat_saliency_l0.2", 0, "1 1 1 0"),
        ("egat_saliency_l0.2", 1, "1 0 1 0"),
    ]:
        report = rep(worst=sum(map(int, worst.split())) / 4)
        report["robust_accuracy"]["worst"]["per_example"] = worst
        stored(tmp_path, method, report, seed=seed)
    pooled = f"{PREFIX}-egat_saliency_l0.2-s0+s1"
    (row,) = [r for r in check_claims(tmp_path) if r["metric"] == "worst" and r["better"] == pooled]
    assert row["better"] == f"{PREFIX}-egat_saliency_l0.2-s0+s1" and row["worse"] == f"{PREFIX}-pgd_at-s0+s1"
    assert row["labels"] == ["egat_saliency_l0.2 (mean of s0, s1)", "pgd_at (mean of s0, s1)"]
    assert "mean of seeds 0, 1" in row["claim"]
    assert row["a"]["value"] == pytest.approx(0.625) and row["a"]["seeds"] == [0.75, 0.5]
    assert "| `egat_saliency_l0.2 (mean of s0, s1)` 62.5 (75.0 / 50.0) |" in render_claims([row])[2]
    # per-image differences (0, -.5, +.5, 0): mean 0, std sqrt(1/6), SE sqrt(1/6) / 2
    assert row["difference"] == pytest.approx(0.0) and row["paired_n"] == 4
    assert row["se"] == pytest.approx(math.sqrt(1 / 6) / 2)
    # a seed not trained: the mean is not made from the other seed alone
    (tmp_path / f"{PREFIX}-pgd_at-s1" / "card.json").unlink()
    (row,) = [r for r in check_claims(tmp_path) if r["metric"] == "worst" and r["better"] == pooled]
    assert row["verdict"] == "not trained" and row["missing"] == [f"{PREFIX}-pgd_at-s1"]


def test_seeds_on_both_sides_of_the_margin_are_named_in_the_verdict(tmp_path: Path) -> None:
    """The mean over seeds can meet a bar one seed misses: the seeds' spread joins the images' error, so the verdict
    calls it noise, names the disagreeing seeds and the row keeps each seed's difference."""
    for seed, (egat, pgd_at) in enumerate([(0.90, 0.70), (0.70, 0.80)]):  # seed 0: +20 points, seed 1: -10
        stored(tmp_path, "pgd_at", rep(topk=pgd_at, topk_std=0.01), seed=seed)
        stored(tmp_path, "egat_saliency_l0.2", rep(topk=egat, topk_std=0.01), seed=seed)
    pooled = f"{PREFIX}-egat_saliency_l0.2-s0+s1"
    (row,) = [r for r in check_claims(tmp_path) if r["metric"] == "topk_intersection" and r["better"] == pooled]
    assert row["difference"] == pytest.approx(0.05) and row["seed_differences"] == pytest.approx([0.2, -0.1])
    # seed error std(+0.2, -0.1) / sqrt(2) = 0.15 dwarfs the images' (0.01 / sqrt(400) a side); both are added
    assert row["seed_se"] == pytest.approx(0.15) and row["image_se"] == pytest.approx(math.sqrt(2) * 0.01 / 20)
    assert row["se"] == pytest.approx(math.hypot(0.15, math.sqrt(2) * 0.01 / 20))
    assert row["verdict"] == "holds, within noise (seeds disagree: +20.0 / -10.0)"
    assert "+5.0 ± 30.0 (+ seeds)" in render_claims([row])[2]
    one_seed = [r for r in check_claims(tmp_path) if r["better"] == f"{PREFIX}-egat_saliency_l0.2-s1"]
    assert one_seed and all("seed_differences" not in r and "disagree" not in r["verdict"] for r in one_seed)
    # seeds that agree (both above the +3-point margin) leave the verdict alone
    (tmp_path / f"{PREFIX}-pgd_at-s1" / "report.json").write_text(json.dumps(rep(topk=0.60, topk_std=0.01)))
    (row,) = [r for r in check_claims(tmp_path) if r["metric"] == "topk_intersection" and r["better"] == pooled]
    assert row["seed_differences"] == pytest.approx([0.2, 0.1]) and "disagree" not in row["verdict"]
    assert row["seed_se"] == pytest.approx(0.05) and row["verdict"] == "holds"  # +15 - 3 = 12 points, 2.4 SE


def test_paired_standard_error_where_both_reports_store_per_image_results(tmp_path: Path) -> None:
    # 10 images: egat loses image 0 that pgd_at keeps and keeps image 9 that pgd_at loses; 8 images agree
    pgd_at = rep(worst=0.8)
    pgd_at["robust_accuracy"]["worst"]["per_example"] = "1 1 1 1 1 1 1 1 0 0"
    egat = rep(worst=0.8)
    egat["robust_accuracy"]["worst"]["per_example"] = "0 1 1 1 1 1 1 1 0 1"
    stored(tmp_path, "pgd_at", pgd_at)
    stored(tmp_path, "egat", egat)
    row = by_pair(check_claims(tmp_path), "egat", "pgd_at", "worst")
    # differences (-1, 0 x 8, +1): mean 0, std sqrt(2 / 9), SE sqrt(2 / 9) / sqrt(10)
    assert row["se"] == pytest.approx(math.sqrt(2 / 9 / 10)) and row["paired_n"] == 10
    assert "per_example" not in row["a"] and "per_example" not in row["b"]
    assert any("(paired)" in line for line in render_claims([row]))
    # one side without per-image results: the unpaired binomial error, not marked
    stored(tmp_path, "natural", rep(worst=0.8))
    pgd_vs_natural = [r for r in check_claims(tmp_path) if r["metric"] == "worst" and r["worse"].endswith("natural-s0")]
    for r in pgd_vs_natural:
        assert r["paired_n"] is None and r["se"] == pytest.approx(math.sqrt(2 * 0.16 / 1000))


def test_missing_number_is_not_measured(tmp_path: Path) -> None:
    stored(tmp_path, "pgd_at", rep(worst=0.9))  # no RAR block
    stored(tmp_path, "natural", rep(topk=0.5))
    row = by_pair(check_claims(tmp_path), "pgd_at", "natural", "topk_intersection")
    assert row["verdict"] == "not measured" and row["a"] is None and row["difference"] is None
    assert row["paired_n"] is None  # every row has the same keys


def test_eps02_reports_and_atex_check(tmp_path: Path) -> None:
    def eps02(value: float) -> dict:
        return {"robust_accuracy": {"pgd": {"value": value, "n_eval": 1000, "std": None}}}

    stored(tmp_path, "natural", rep(), **{"report_eps0.2.json": eps02(0.10)})
    stored(tmp_path, "asgt", rep(), **{"report_eps0.2.json": eps02(0.50)})
    check = {"settings": {"k": 50}, "models": [
        {"model": f"{PREFIX}-natural-s0", "topk_intersection": 40.0, "topk_intersection_std": 20.0, "n_attacked": 900},
        {"model": f"{PREFIX}-atex-s0", "topk_intersection": 44.0, "topk_intersection_std": 20.0, "n_attacked": 900},
    ]}  # fmt: skip
    stored(tmp_path, "atex", rep(), **{"atex_check.json": check})
    rows = check_claims(tmp_path)
    asgt = by_pair(rows, "asgt", "natural", "pgd_eps0.2")
    assert asgt["difference"] == pytest.approx(0.40) and asgt["verdict"] == "holds"
    atex = by_pair(rows, "atex", "natural", "atex_top50")
    assert atex["difference"] == pytest.approx(0.04) and atex["a"]["n"] == 900
    assert atex["verdict"] == "missed, within noise"  # 4 points < the 5-point margin, SE 0.94 points
    # a check run at another k is not the claim's top-50
    check["settings"]["k"] = 100
    (tmp_path / f"{PREFIX}-atex-s0" / "atex_check.json").write_text(json.dumps(check))
    assert by_pair(check_claims(tmp_path), "atex", "natural", "atex_top50")["verdict"] == "not measured"


def test_a_claim_with_one_model_untrained_stays_listed(tmp_path: Path) -> None:
    stored(tmp_path, "pgd_at", rep(topk=0.70))
    rows = check_claims(tmp_path)
    row = by_pair(rows, "egat", "pgd_at", "topk_intersection")
    assert row["verdict"] == "not trained" and row["missing"] == [f"{PREFIX}-egat-s0"] and row["a"] is None
    assert row["b"]["value"] == pytest.approx(0.70)
    assert not [r for r in rows if r["better"].endswith("-atex-s0")]  # neither atex nor natural: not listed


def test_egat_gradcam_check(tmp_path: Path) -> None:
    check = {"settings": {"k": 100}, "models": [
        {"model": f"{PREFIX}-pgd_at-s0", "topk_intersection": 80.0, "topk_intersection_std": 10.0, "n_attacked": 400},
        {"model": f"{PREFIX}-egat-s0", "topk_intersection": 90.0, "topk_intersection_std": 10.0, "n_attacked": 400},
    ]}  # fmt: skip
    stored(tmp_path, "pgd_at", rep())
    stored(tmp_path, "egat", rep(), **{"egat_check.json": check})
    row = by_pair(check_claims(tmp_path), "egat", "pgd_at", "egat_gradcam_top100")
    assert row["difference"] == pytest.approx(0.10) and row["a"]["n"] == 400 and row["verdict"] == "holds"
    # an ATEX-style file of the same k is another check: it does not count
    (tmp_path / f"{PREFIX}-egat-s0" / "egat_check.json").rename(tmp_path / f"{PREFIX}-egat-s0" / "atex_check.json")
    assert by_pair(check_claims(tmp_path), "egat", "pgd_at", "egat_gradcam_top100")["verdict"] == "not measured"


def test_cli_and_leaderboard_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stored(tmp_path, "pgd_at", rep(topk=0.70))
    stored(tmp_path, "natural", rep(topk=0.50))
    assert main(["zoo", "claims", "--json", "--models-dir", str(tmp_path)]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["verdict"] != "not trained"]
    assert row["verdict"] == "holds" and row["metric"] == "topk_intersection"
    assert main(["zoo", "claims", "--models-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "| `pgd_at` 70.0 | `natural` 50.0 | +20.0 ± 1.4 |" in text and "**holds**" in text
    assert "## The papers' claims, checked" in render_leaderboard(tmp_path)


def test_claims_between_main_models_come_first(tmp_path: Path) -> None:
    """A claim is ``main`` when both sides are their methods' representatives: not a seed, sweep or fine-tune."""
    for name, method, seed in [("pgd_at", "pgd_at", 0), ("pgd_at", "pgd_at", 1), ("natural", "natural", 0),
                               ("egat", "egat", 0), ("egat_saliency_l0.2", "egat", 0)]:  # fmt: skip
        stored(tmp_path, name, rep(topk=0.7, worst=0.8), seed=seed, trained_as=method)
    rows = check_claims(tmp_path)
    assert by_pair(rows, "pgd_at", "natural", "topk_intersection")["main"]
    assert by_pair(rows, "egat", "pgd_at", "worst")["main"] and rows[0]["dataset"] == "mnist"
    assert not by_pair(rows, "egat_saliency_l0.2", "pgd_at", "worst")["main"]  # a sweep of egat
    text = render_leaderboard(tmp_path)
    main_part, more = text.split("## The papers' claims, checked")[1].split("#### MNIST: more comparisons")
    assert "| `egat` 80.0 | `pgd_at` 80.0 |" in main_part and "`egat_saliency_l0.2`" not in main_part
    assert "| `egat_saliency_l0.2` 80.0 | `pgd_at` 80.0 |" in more


def test_the_mean_over_seeds_without_per_image_results_keeps_one_seeds_error(tmp_path: Path) -> None:
    for method, seed, topk, std in [
        ("pgd_at", 0, 0.80, 0.2),
        ("pgd_at", 1, 0.82, 0.2),
        ("egat_saliency_l0.2", 0, 0.84, 0.1),
        ("egat_saliency_l0.2", 1, 0.86, 0.1),
    ]:
        stored(tmp_path, method, rep(topk=topk, topk_std=std, n=400), seed=seed)
    pooled = f"{PREFIX}-egat_saliency_l0.2-s0+s1"
    (row,) = [r for r in check_claims(tmp_path) if r["metric"] == "topk_intersection" and r["better"] == pooled]
    # the same 400 images under both seeds: the mean's error is a seed's, sqrt(0.1^2 + 0.2^2) / sqrt(400) unpaired
    assert row["difference"] == pytest.approx(0.04) and row["paired_n"] is None
    assert row["se"] == pytest.approx(math.hypot(0.1, 0.2) / 20)


def test_a_paired_difference_compares_the_images_both_models_scored(tmp_path: Path) -> None:
    # RAR scores each model on the images it classifies correctly: pgd_at on images 0-3, ig_norm on 2-5. The
    # headline values (0.5 and 0.8) differ by 0.3; over the images both scored (2 and 3) ig_norm is ahead by 0.1
    for method, values in [("pgd_at", "0.2 0.2 0.8 0.8 - -"), ("ig_norm", "- - 0.9 0.9 0.7 0.7")]:
        scored_values = [float(v) for v in values.split() if v != "-"]
        report = rep(topk=sum(scored_values) / len(scored_values))
        report["attribution_robustness"]["topk_intersection"]["per_example"] = values
        stored(tmp_path, method, report)
    row = by_pair(check_claims(tmp_path), "ig_norm", "pgd_at", "topk_intersection")
    assert row["a"]["value"] - row["b"]["value"] == pytest.approx(0.3)
    assert row["difference"] == pytest.approx(0.1) and row["paired_n"] == 2


@pytest.mark.parametrize(("source", "created", "counts", "flagged"), [
    ("../shared/data/cifar10-jpg.zip", "2026-12-01T13:27:25+00:00", None, True),  # a class-sorted folder's first images
    ("../shared/data/cifar10-jpg.zip", "2026-12-04T20:30:00+00:00", None, False),  # read round-robin over the classes
    ("../shared/data/mnist", "2026-12-01T13:27:25+00:00", None, False),  # IDX files keep the official order
    ("../shared/data/mnist", "2026-12-05T10:00:00+00:00", {"0": 1000, "1": 0}, True),  # recorded counts decide
    ("../shared/data/cifar10-jpg.zip", "2026-12-01T13:27:25+00:00", {"0": 500, "1": 500}, False),
])  # fmt: skip
def test_reports_measured_on_one_class_are_flagged(
    tmp_path: Path, source: str, created: str, counts: dict[str, int] | None, flagged: bool
) -> None:
    for method, topk in [("pgd_at", 0.70), ("natural", 0.50)]:
        report = rep(topk=topk)
        report["evaluation"] = {"data_source": source, "created": created, "class_counts": counts}
        stored(tmp_path, method, report)
    row = by_pair(check_claims(tmp_path), "pgd_at", "natural", "topk_intersection")
    assert row["verdict"] == "holds" + (" (measured on one class only: re-evaluation pending)" if flagged else "")
    assert ("measured on one class only" in render_leaderboard(tmp_path)) is flagged


def test_a_seed_pair_evaluated_on_two_cpus_is_marked(tmp_path: Path) -> None:
    """RAR's attack moves with the CPU kernels and the thread count: a claim whose seed pair's reports name different
    hardware (or one names none) says so beside its error; equal settings spelled two ways do not count."""
    amd = "CPU AMD EPYC x86_64 (AVX512 kernels), 2 cores"
    intel = "CPU Intel(R) Xeon(R) x86_64 (AVX512 kernels), 2 cores"
    one = "1 torch thread"
    pairs = [(f"{amd}, {one}", f"{amd}, {one}s"), (f"{amd}, {one}", f"{intel}, {one}")]  # seed 0: the old spelling
    for seed, (egat_cpu, pgd_at_cpu) in enumerate(pairs):
        for method, cpu, topk in [("egat_saliency_l0.2", egat_cpu, 0.8), ("pgd_at", pgd_at_cpu, 0.7)]:
            stored(tmp_path, method, {**rep(topk=topk), "evaluation": {"hardware": cpu}}, seed=seed)

    def row_of(better: str) -> dict:
        (row,) = [r for r in check_claims(tmp_path) if r["metric"] == "topk_intersection" and r["better"] == better]
        return row

    same = row_of(f"{PREFIX}-egat_saliency_l0.2-s0")
    assert not same["mixed_hardware"] and same["hardware"] == [[f"{amd}, 1 torch thread"]] * 2
    assert "mixed CPUs" not in render_claims([same])[2]
    crossed = row_of(f"{PREFIX}-egat_saliency_l0.2-s1")
    assert crossed["mixed_hardware"] and "(mixed CPUs)" in render_claims([crossed])[2]
    assert row_of(f"{PREFIX}-egat_saliency_l0.2-s0+s1")["mixed_hardware"]  # one of its two seed pairs crosses
    (tmp_path / f"{PREFIX}-pgd_at-s0" / "report.json").write_text(json.dumps(rep(topk=0.7)))  # names no hardware
    assert row_of(f"{PREFIX}-egat_saliency_l0.2-s0")["mixed_hardware"]
