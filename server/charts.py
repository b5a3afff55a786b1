"""Robustness curves as inline SVG geometry: robust accuracy against ε, one line per model (design.md §5, Models).

The numbers come from each report's ε-sweep check (``explainlab.zoo.listing.eps_curve``); this module only places
them on a plot, and the template ``fragments/chart.html`` draws it. No JavaScript, no chart library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT = 560, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 34  # margins around the plot area, in SVG units
FULL_BOX = 1.0  # the sweep's last budget, the whole pixel range: drawn as a note, not on the ε axis


@dataclass
class Line:
    """One model's curve on the plot: an SVG path, its points (with hover text) and its legend entry."""

    model_id: str
    label: str
    colour: int  # index into the stylesheet's series palette
    emphasis: bool
    path: str
    points: list[tuple[float, float, str]]


@dataclass
class Chart:
    title: str
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


def robustness_chart(
    rows: list[dict[str, Any]],
    emphasis: str | None = None,
    title: str = "",
    colour: Callable[[dict[str, Any]], int] | None = None,
) -> Chart | None:
    """Robust accuracy (%) against ε for ``rows`` (``list_models`` rows with an ``eps_curve``); ``colour`` picks a
    row's palette index (default: its place in ``rows``), ``emphasis`` names the model drawn bold. None when no row
    has a curve."""
    curves = [(row, row["eps_curve"]) for row in rows if row.get("eps_curve")]
    if not curves:
        return None
    on_axis = [e for _, c in curves for e in c["eps"] if e < FULL_BOX]
    x_max = max(on_axis, default=FULL_BOX) or FULL_BOX
    x0, y0, x1, y1 = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM

    def place(eps: float, accuracy: float) -> tuple[float, float]:
        return (round(x0 + (x1 - x0) * eps / x_max, 1), round(y1 - (y1 - y0) * accuracy, 1))

    lines = []
    for index, (row, curve) in enumerate(curves):
        pairs = [(e, a) for e, a in zip(curve["eps"], curve["accuracy"], strict=True) if e <= x_max]
        xy = [place(e, a) for e, a in pairs]
        label = row.get("short_id") or row["id"]
        hover = [f"{label}: ε {eps_label(e)} → {100 * a:.1f} %" for e, a in pairs]
        path = "M" + " L".join(f"{x},{y}" for x, y in xy)
        points = [(x, y, text) for (x, y), text in zip(xy, hover, strict=True)]
        palette = colour(row) if colour else index
        lines.append(Line(row["id"], label, palette % 10, row["id"] == emphasis, path, points))
    eps_grid = sorted({e for e in on_axis})
    threat = next((r.get("eval_eps") for r, _ in curves if r.get("eval_eps")), None)
    marker = (place(threat, 0)[0], f"ε = {eps_label(threat)}") if threat and threat <= x_max else None
    return Chart(
        title=title,
        lines=lines,
        x_ticks=[(place(e, 0)[0], eps_label(e)) for e in eps_grid],
        y_ticks=[(place(0, a)[1], f"{100 * a:.0f}") for a in (0.0, 0.25, 0.5, 0.75, 1.0)],
        marker=marker,
        note=_note(curves),
    )


def _note(curves: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
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
