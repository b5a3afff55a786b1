"""Robustness curves: points placed on the plot by ε and accuracy, the full-box budget kept off the axis as a note."""

from __future__ import annotations

import pytest

from explainlab.zoo.listing import eps_curve
from server import charts
from server.charts import eps_label, robustness_chart


def row(model_id: str, accuracy: list[float], eps: tuple[float, ...] = (0.0, 0.15, 0.3, 0.6, 1.0)) -> dict:
    return {"id": f"mnist-small_cnn-{model_id}-s0", "short_id": model_id, "eval_eps": 0.3,
            "eps_curve": {"eps": list(eps), "accuracy": accuracy, "n": 200, "steps": 20}}  # fmt: skip


def test_points_sit_where_their_numbers_say() -> None:
    chart = robustness_chart([row("pgd_at", [1.0, 0.95, 0.9, 0.0, 0.0]), row("natural", [1.0, 0.1, 0.0, 0.0, 0.0])])
    x0, y0, x1, y1 = charts.LEFT, charts.TOP, charts.WIDTH - charts.RIGHT, charts.HEIGHT - charts.BOTTOM
    assert chart is not None and [line.label for line in chart.lines] == ["pgd_at", "natural"]
    points = chart.lines[0].points
    assert len(points) == 4  # eps = 1 (the full box) is off the axis, which ends at the largest other budget (0.6)
    assert points[0][:2] == (x0, y0) and points[-1][:2] == (x1, y1)  # (0, 100 %) top left, (0.6, 0 %) bottom right
    assert points[2][0] == pytest.approx(x0 + (x1 - x0) / 2, abs=0.1)  # eps 0.3 halfway along 0..0.6
    assert points[2][1] == pytest.approx(y1 - 0.9 * (y1 - y0), abs=0.1) and "ε 0.3 → 90.0 %" in points[2][2]
    assert chart.lines[0].path.startswith(f"M{x0:.1f},{y0:.1f} L") and chart.lines[0].path.count("L") == 3
    assert chart.marker is not None and chart.marker[1] == "ε = 0.3"
    assert [label for _, label in chart.x_ticks] == ["0", "0.15", "0.3", "0.6"]
    assert "PGD-20" in chart.note and "200 of the evaluated" in chart.note and "every model is at 0 %" in chart.note


def test_colour_and_emphasis_and_no_curve() -> None:
    rows = [row("a", [1.0, 0.5, 0.2, 0.1, 0.05]), {"id": "no-report", "eps_curve": None}]
    chart = robustness_chart(rows, emphasis=rows[0]["id"], colour=lambda r: 13)
    assert chart is not None and len(chart.lines) == 1 and chart.lines[0].emphasis and chart.lines[0].colour == 3
    assert "at most 5.0 %" in chart.note
    assert robustness_chart([{"id": "no-report", "eps_curve": None}]) is None


def test_cifar_budgets_read_in_255ths() -> None:
    assert eps_label(8 / 255) == "8/255" and eps_label(0.031373) == "8/255" and eps_label(0.3) == "0.3"
    assert eps_label(0.0) == "0" and eps_label(0.05) == "0.05"


def test_eps_curve_reads_the_sweep_check() -> None:
    sweep = {"n_eval": 200, "details": {"eps": [0.0, 0.3], "robust_accuracy": [1.0, 0.9]}}
    report = {"checks": {"eps_not_monotone": sweep}, "evaluation": {"settings": {"checks": {"sweep_steps": 20}}}}
    assert eps_curve(report) == {"eps": [0.0, 0.3], "accuracy": [1.0, 0.9], "n": 200, "steps": 20}
    assert eps_curve(None) is None and eps_curve({"checks": {}}) is None
    report["checks"]["eps_not_monotone"]["details"]["eps"] = [0.0]  # lengths disagree: no curve rather than a wrong one
    assert eps_curve(report) is None


def test_testset_charts_draw_accuracy_and_map_similarity_against_eps() -> None:
    from server.charts import testset_charts

    def model(acc: float, topk: float) -> dict:
        return {"model": "m-a-s0", "clean_accuracy": {"mean": 1.0}, "accuracy_under_attack": {"mean": acc, "se2": 0.1,
                "n": 10}, "topk_intersection": {"mean": topk, "se2": 0.05, "n": 10}}  # fmt: skip

    assert testset_charts({}) == [] and testset_charts({"n": 10, "points": []}) == []  # before the first images
    result = {"n": 10, "reference_eps": 0.2, "points": [{"eps": 0.1, "models": [model(0.8, 0.7)]},
                                                        {"eps": 0.2, "models": [model(0.5, 0.4)]}]}  # fmt: skip
    accuracy, maps = testset_charts(result)
    assert [len(line.points) for line in accuracy.lines] == [3] and "10 test images" in accuracy.title
    assert [p[2].split("→")[1].strip() for p in accuracy.lines[0].points] == ["100.0 %", "80.0 ± 10.0 % (n = 10)",
                                                                            "50.0 ± 10.0 % (n = 10)"]  # fmt: skip
    assert maps.lines[0].points[0][1] < maps.lines[0].points[-1][1]  # 100 % at ε = 0 drawn highest (SVG y grows down)
    assert accuracy.marker is not None and accuracy.marker[1] == "ε = 0.2"
