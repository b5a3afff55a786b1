"""Curves against ε as inline SVG geometry, one line per model (design.md §5): the zoo's robustness curves (robust
accuracy, from each report's ε-sweep check) and a lab sweep's map similarity on one image.

This module only places numbers on a plot; the template ``fragments/chart.html`` draws it. No JavaScript, no chart
library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from explainlab.zoo.listing import short_id

WIDTH, HEIGHT = 560, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 34  # margins around the plot area, in SVG units
FULL_BOX = 1.0  # the report sweep's last budget, the whole pixel range: a note, not a point on the ε axis


@dataclass
class Value:
    """One number of a series: at budget ``eps``, a fraction in [0, 1]; ``hollow`` marks a point that means more
    (a flipped prediction), ``href`` where clicking it leads."""

    eps: float
    value: float
    text: str
    href: str | None = None
    hollow: bool = False


@dataclass
class Series:
    model_id: str
    label: str
    colour: int  # index into the stylesheet's ten series colours
    values: list[Value]
    emphasis: bool = False


@dataclass
class Line:
    """A series placed on the plot: its SVG path and points ``(x, y, hover text, href, hollow)``."""

    model_id: str
    label: str
    colour: int
    emphasis: bool
    path: str
    points: list[tuple[float, float, str, str | None, bool]]


@dataclass
class Chart:
    title: str
    y_label: str
    lines: list[Line]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    marker: tuple[float, str] | None
    note: str
    width: int = WIDTH
    height: int = HEIGHT
    plot: tuple[float, float, float, float] = field(default=(LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM))


def eps_label(eps: float) -> str:
    """0.3 -> "0.3"; CIFAR-sized budgets in 255ths: 0.031373 -> "8/255"."""
    if 0 < eps < 0.1 and abs(eps * 255 - round(eps * 255)) < 1e-3:
        return f"{round(eps * 255)}/255"
    return f"{eps:.3g}"


def line_chart(
    series: list[Series],
    *,
    title: str,
    y_label: str,
    note: str,
    marker_eps: float | None = None,
    off_axis: float | None = None,
) -> Chart | None:
    """Place every series on one plot: ε from 0 to the largest budget (below ``off_axis``, whose points are left
    out), values 0-100 %."""
    series = [s for s in series if s.values]
    if not series:
        return None
    budgets = {v.eps for s in series for v in s.values}
    on_axis = sorted({e for e in budgets if off_axis is None or e < off_axis} or budgets)
    x_max = on_axis[-1] or 1.0
    x0, y0, x1, y1 = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM

    def place(eps: float, value: float) -> tuple[float, float]:
        return (round(x0 + (x1 - x0) * eps / x_max, 1), round(y1 - (y1 - y0) * value, 1))

    lines = []
    for s in series:
        shown = [v for v in s.values if v.eps <= x_max]
        xy = [place(v.eps, v.value) for v in shown]
        path = "M" + " L".join(f"{x},{y}" for x, y in xy)
        points = [(x, y, v.text, v.href, v.hollow) for (x, y), v in zip(xy, shown, strict=True)]
        lines.append(Line(s.model_id, s.label, s.colour % 10, s.emphasis, path, points))
    marker = (place(marker_eps, 0)[0], f"ε = {eps_label(marker_eps)}") if marker_eps and marker_eps <= x_max else None
    return Chart(
        title=title,
        y_label=y_label,
        lines=lines,
        x_ticks=[(place(e, 0)[0], eps_label(e)) for e in on_axis],
        y_ticks=[(place(0, a)[1], f"{100 * a:.0f}") for a in (0.0, 0.25, 0.5, 0.75, 1.0)],
        marker=marker,
        note=note,
    )


def _zoo_series(
    rows: list[dict[str, Any]], curve: str, value: str, emphasis: str | None, colour: Callable | None
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[Series]]:
    """Each row's stored curve (``eps_curve`` or ``map_curve``) as a series of ``value`` against ε."""
    curves = [(row, row[curve]) for row in rows if row.get(curve)]
    series = []
    for index, (row, data) in enumerate(curves):
        label = row.get("short_id") or row["id"]
        values = [
            Value(e, a, f"{label}: ε {eps_label(e)} → {100 * a:.1f} %")
            for e, a in zip(data["eps"], data[value], strict=True)
            if a == a  # a budget with no attacked image (NaN) is left out
        ]
        series.append(Series(row["id"], label, colour(row) if colour else index, values, row["id"] == emphasis))
    return curves, series


def robustness_chart(
    rows: list[dict[str, Any]],
    emphasis: str | None = None,
    title: str = "",
    colour: Callable[[dict[str, Any]], int] | None = None,
) -> Chart | None:
    """Robust accuracy against ε for ``rows`` (``list_models`` rows with an ``eps_curve``); ``colour`` picks a
    row's palette index (default: its place in ``rows``), ``emphasis`` names the model drawn bold. None when no row
    has a curve."""
    curves, series = _zoo_series(rows, "eps_curve", "accuracy", emphasis, colour)
    threat = next((r.get("eval_eps") for r, _ in curves if r.get("eval_eps")), None)
    note = _sweep_note(curves)
    return line_chart(series, title=title, y_label="robust acc. %", note=note, marker_eps=threat, off_axis=FULL_BOX)


def map_chart(
    rows: list[dict[str, Any]],
    emphasis: str | None = None,
    title: str = "",
    colour: Callable[[dict[str, Any]], int] | None = None,
) -> Chart | None:
    """How much of each model's map survives the label-keeping top-k attack against ε (``map_curve``, from
    ``explainlab map-curve``); None when no row has one."""
    curves, series = _zoo_series(rows, "map_curve", "topk_intersection", emphasis, colour)
    if not curves:
        return None
    first = curves[0][1]
    ns = sorted({c.get("n") for _, c in curves if c.get("n")})
    attacked = f"{ns[0]}–{ns[-1]}" if len(ns) > 1 else "/".join(map(str, ns))
    note = (
        f"Top-{first.get('k')} ∩ of each model's {first.get('map') or 'saliency'} map before and after Ghorbani's "
        f"top-k attack (label kept, {first.get('steps')} steps at each budget, Softplus surrogate directions), on the "
        f"originally-correct of the first {first.get('n_eval')} test images ({attacked} a model; `explainlab "
        "map-curve`). ε = 0 is the clean map against itself. A cheaper map and attack than the table's RAR top-k ∩ "
        "(IG maps)."
    )
    threat = next((r.get("eval_eps") for r, _ in curves if r.get("eval_eps")), None)
    return line_chart(series, title=title, y_label="top-k ∩ %", note=note, marker_eps=threat)


def _sweep_note(curves: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """Where the curves come from, with n and steps, and what happens at the full box (off the axis)."""
    ns = sorted({c.get("n") for _, c in curves if c.get("n")})
    steps = sorted({c.get("steps") for _, c in curves if c.get("steps")})
    text = (
        f"PGD-{'/'.join(map(str, steps)) or '?'} with one random start at each budget, on "
        f"{'/'.join(map(str, ns)) or '?'} of the evaluated test images (the report's ε-sweep check; ε = 0 is clean "
        "accuracy). A weaker attack on fewer images than the table's numbers: read the shape, not the last point."
    )
    at_box = [100 * a for _, c in curves for e, a in zip(c["eps"], c["accuracy"], strict=True) if e >= FULL_BOX]
    if at_box:
        highest = max(at_box)
        text += " At ε = 1, the whole pixel range, " + (
            "every model is at 0 %." if highest == 0 else f"the accuracy is at most {highest:.1f} %."
        )
    return text


def sweep_chart(result: dict[str, Any], colour: Callable[[str], int] | None = None) -> Chart | None:
    """A lab sweep on one image (``Lab.start_sweep``): each model's top-k ∩ between its clean and attacked maps
    against ε, from 100 % at ε = 0 (the clean map against itself); a hollow point is a flipped prediction, and each
    point links to that budget's full grid."""
    series = []
    for index, model_id in enumerate(result["models"]):
        label = short_id(model_id)
        values = [Value(0.0, 1.0, f"{label}: ε 0, the clean map")]
        for point in result["points"]:
            row = next(r for r in point["rows"] if r["model"] == model_id)
            change = f"{row['class_before']} → {row['class_after']}" if row["flipped"] else f"{row['class_after']} kept"
            text = f"{label}: ε {eps_label(point['eps'])} → top-{row['k']} ∩ {100 * row['topk']:.0f} %, {change}"
            values.append(Value(point["eps"], row["topk"], text, point["permalink"], row["flipped"]))
        series.append(Series(model_id, label, colour(model_id) if colour else index, values))
    return line_chart(
        series,
        title=f"top-k ∩ of the map against ε: {result['attack']} attack, {result['method']} maps",
        y_label="top-k ∩ %",
        marker_eps=result.get("reference_eps"),
        note="Each point is the lab's grid at that budget (click it). Hollow points: the prediction flipped, so the "
        "map explains another class. ε = 0 is the clean map against itself.",
    )


def testset_charts(result: dict[str, Any], colour: Callable[[str], int] | None = None) -> list[Chart]:
    """An ε sweep over test images (``server/evaluation.py``): each model's accuracy under the attack and the mean
    top-k ∩ of its maps against ε, ε = 0 being clean accuracy and the clean map against itself."""
    points = result.get("points") or []
    if not points:  # a single budget, or a sweep before its first images
        return []
    models = [m["model"] for m in points[0]["models"]]
    charts = []
    for metric, y_label, start in (("accuracy_under_attack", "acc. under attack %", None),
                                   ("topk_intersection", "top-k ∩ %", 1.0)):  # fmt: skip
        series = []
        for index, model_id in enumerate(models):
            label = short_id(model_id)
            first = next(m for m in points[0]["models"] if m["model"] == model_id)
            clean = start if start is not None else (first.get("clean_accuracy") or {}).get("mean")
            values = [] if clean is None else [Value(0.0, clean, f"{label}: ε 0 → {100 * clean:.1f} %")]
            for point in points:
                stats = next(m for m in point["models"] if m["model"] == model_id).get(metric) or {}
                if stats.get("mean") is not None:
                    mean, se2 = 100 * stats["mean"], 100 * (stats["se2"] or 0)
                    text = f"{label}: ε {eps_label(point['eps'])} → {mean:.1f} ± {se2:.1f} % (n = {stats['n']})"
                    values.append(Value(point["eps"], stats["mean"], text))
            series.append(Series(model_id, label, colour(model_id) if colour else index, values))
        what = "accuracy under the attack" if start is None else "top-k ∩ of the maps, clean against attacked"
        chart = line_chart(
            series, title=f"{what} against ε over {result['n']} test images", y_label=y_label,
            marker_eps=result.get("reference_eps"),
            note="Each point: the mean over the test images (hover for ± two standard errors and n). ε = 0 is "
            + ("clean accuracy." if start is None else "the clean map against itself; the maps are compared on the "
               "images each model gets right."),
        )  # fmt: skip
        if chart is not None:
            charts.append(chart)
    return charts
