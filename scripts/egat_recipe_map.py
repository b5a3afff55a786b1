"""Where every EGAT-lab recipe lands against the issue's two MNIST bars, in one table and one picture.

Each recipe of the manifest (docs/screens/egat_recipes.toml) names its report and the PGD-AT report it is judged
against; both differences come from ``explainlab zoo compare``'s arithmetic (paired over the same test images, two
standard errors): worst-case robust accuracy (bar: >= -1 point) and RAR top-k intersection of IG maps (bar: >= +3).

A ``[[mean]]`` table of the manifest (``label``, ``recipes``: labels of recipe rows, one per seed) adds the mean of
those seeds' differences, its error counting the test images and the seeds as ``explainlab zoo claims`` does, drawn
as a hollow diamond. Each seed is paired with its row's own reference (a same-CPU re-evaluation where the manifest
names one), so a mean can differ a little from the zoo claim's, which pairs with the zoo's reports.

Usage: python scripts/egat_recipe_map.py [--manifest docs/screens/egat_recipes.toml] [--svg docs/egat_recipes.svg]
       [--json PATH]
The table (markdown) goes to stdout; paths in the manifest are relative to the project root (the current directory).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Sequence
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from explainlab import markdown
from explainlab.errors import ExplainlabError
from explainlab.zoo.claims import Z_CLEAR, mean_difference
from explainlab.zoo.compare import compare_reports, read_report_file, resolve_report
from explainlab.zoo.listing import headline, per_example

ROBUST_BAR, TOPK_BAR = -1.0, 3.0  # points, against PGD-AT
GROUPS = {"zoo": ("#1f5fa8", "shipped, 8 epochs"), "longer": ("#c0640a", "shipped, 16 epochs (vs PGD-AT 16 epochs)"),
          "screen": ("#6b6b6b", "screened, not shipped")}  # fmt: skip
MEAN_COLOR = "#111"


def read_manifest(path: Path) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The manifest's recipes and seed means, checked."""
    try:
        data = tomllib.loads(path.read_text())
        recipes, means = data["recipe"], data.get("mean", [])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise ExplainlabError(f"{path}: not a manifest of [[recipe]] tables ({error})") from None
    for i, recipe in enumerate(recipes):
        missing = {"label", "report", "reference", "group"} - recipe.keys()
        if missing or recipe["group"] not in GROUPS:
            group = recipe.get("group")
            raise ExplainlabError(f"{path}: recipe {i + 1} needs label, report, reference and a group of "
                                  f"{sorted(GROUPS)}; missing {sorted(missing)} or group {group!r}")  # fmt: skip
    labels = {recipe["label"] for recipe in recipes}
    for i, mean in enumerate(means):
        members = mean.get("recipes")
        if not isinstance(mean.get("label"), str) or not isinstance(members, list) or len(members) < 2:
            raise ExplainlabError(f"{path}: mean {i + 1} needs a label and recipes, two or more recipe labels")
        unknown = [member for member in members if member not in labels]
        if unknown:
            raise ExplainlabError(f"{path}: mean {i + 1} ({mean['label']}) names no recipe labelled {unknown}")
    return recipes, means


@cache
def _report(path: str) -> dict[str, Any]:
    """A report read once however many means and metrics use it (a reference serves several seeds)."""
    return read_report_file(resolve_report(path))


def _entry(path: str, metric: str) -> dict[str, Any]:
    """A report's headline number with its per-image values, as the claims take it."""
    report = _report(path)
    number = headline(report).get(metric)
    if number is None:
        raise ExplainlabError(f"{path} has no {metric}")
    return {**number, "per_example": per_example(report, metric)}


def measure_mean(mean: dict[str, Any], recipes: list[dict[str, str]]) -> dict[str, Any]:
    """The mean over a recipe's seeds of both differences from their references, in points, 2 SE (images + seeds)."""
    rows = {recipe["label"]: (i + 1, recipe) for i, recipe in enumerate(recipes)}
    members = [rows[label] for label in mean["recipes"]]
    out: dict[str, Any] = {"label": mean["label"], "rows": [number for number, _ in members]}
    for metric, key in (("worst", "worst"), ("topk_intersection", "topk")):
        better = [_entry(recipe["report"], metric) for _, recipe in members]
        worse = [_entry(recipe["reference"], metric) for _, recipe in members]
        result = mean_difference(better, worse, metric)
        out[f"{key}_difference"] = 100 * result["difference"]
        out[f"{key}_2se"] = None if result["se"] is None else 100 * Z_CLEAR * result["se"]
    out["meets_both"] = meets_both(out)
    return out


def meets_both(result: dict[str, Any]) -> bool:
    tol = 1e-9  # a difference of exactly the bar meets it despite float rounding
    return result["worst_difference"] >= ROBUST_BAR - tol and result["topk_difference"] >= TOPK_BAR - tol


def measure(recipe: dict[str, str]) -> dict[str, Any]:
    """The recipe's worst-case and top-k differences from its reference, in points, with 2 SE and the pairs' n."""
    result = compare_reports([recipe["reference"], recipe["report"]])
    rows = {row["metric"]: row for row in result["rows"]}
    out: dict[str, Any] = {**recipe, "mixed_hardware": result["mixed_hardware"]}
    for metric, key in (("worst", "worst"), ("topk_intersection", "topk")):
        row = rows[metric]
        out[key] = 100 * row["value"]
        out[f"{key}_difference"] = 100 * row["difference"]
        out[f"{key}_2se"] = None if row["se"] is None else 100 * Z_CLEAR * row["se"]
        out[f"{key}_paired_n"] = row["paired_n"]
    out["meets_both"] = meets_both(out)
    return out


def _pm(value: float, spread: float | None) -> str:
    return f"{value:+.1f}" + ("" if spread is None else f" ± {spread:.1f}")


def table(results: list[dict[str, Any]]) -> str:
    head = ["#", "recipe", "group", "worst %", "vs PGD-AT (bar ≥ −1)", "top-k ∩ %", "vs PGD-AT (bar ≥ +3)", "both"]
    rows = [[str(i + 1), r["label"], r["group"], f"{r['worst']:.1f}", _pm(r["worst_difference"], r["worst_2se"]),
             f"{r['topk']:.1f}", _pm(r["topk_difference"], r["topk_2se"]), "yes" if r["meets_both"] else "no"]
            for i, r in enumerate(results)]  # fmt: skip
    return "\n".join(markdown.table(head, rows)) + "\n"


def means_table(means: list[dict[str, Any]]) -> str:
    head = ["mean", "of rows", "vs PGD-AT (bar ≥ −1)", "vs PGD-AT (bar ≥ +3)", "both"]
    rows = [[f"M{i + 1}", m["label"] + " (" + ", ".join(map(str, m["rows"])) + ")",
             _pm(m["worst_difference"], m["worst_2se"]), _pm(m["topk_difference"], m["topk_2se"]),
             "yes" if m["meets_both"] else "no"] for i, m in enumerate(means)]  # fmt: skip
    return "\n".join(markdown.table(head, rows)) + "\n"


def _diamond(x: float, y: float, r: float = 5.5) -> str:
    """The opening tag of a hollow diamond centred on (x, y): a seed mean's mark."""
    points = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}"
    return f'<polygon points="{points}" fill="white" stroke="{MEAN_COLOR}" stroke-width="2">'


def svg(
    results: list[dict[str, Any]], means: Sequence[dict[str, Any]] = (), width: int = 680, height: int = 520
) -> str:
    """A scatter of (worst-case difference, top-k difference) with 2-SE bars, the bars' corner shaded; each point
    carries its row number in the table, each seed mean (a hollow diamond) its M number."""
    left, right, top, bottom = 56, 16, 16, 120
    xs = [r["worst_difference"] for r in [*results, *means]] + [ROBUST_BAR, 0.0]
    ys = [r["topk_difference"] for r in [*results, *means]] + [TOPK_BAR, 0.0]
    x_lo, x_hi = min(xs) - 1.5, max(xs) + 1.5
    y_lo, y_hi = min(ys) - 2.5, max(ys) + 2.5

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * (width - left - right)

    def py(y: float) -> float:
        return top + (y_hi - y) / (y_hi - y_lo) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<rect x="{px(ROBUST_BAR):.1f}" y="{py(y_hi):.1f}" width="{px(x_hi) - px(ROBUST_BAR):.1f}" '
             f'height="{py(TOPK_BAR) - py(y_hi):.1f}" fill="#d9f0d3"/>',
             f'<text x="{px(x_hi) - 4:.1f}" y="{py(y_hi) + 14:.1f}" text-anchor="end" fill="#2d6a27">'
             "both bars met</text>"]  # fmt: skip

    def grid_line(x1: float, y1: float, x2: float, y2: float, tick: int, tx: float, ty: float, anchor: str) -> str:
        label = f"{tick:+d}" if tick else "0"
        stroke = "#888" if tick == 0 else "#eee"
        return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"/>'
                f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{label}</text>')  # fmt: skip

    for t in range(int(x_lo), int(x_hi) + 1):
        parts.append(grid_line(px(t), py(y_lo), px(t), py(y_hi), t, px(t), py(y_lo) + 14, "middle"))
    for t in range(int(y_lo), int(y_hi) + 1):
        parts.append(grid_line(px(x_lo), py(t), px(x_hi), py(t), t, px(x_lo) - 6, py(t) + 4, "end"))
    parts.append(f'<text x="{(left + width - right) / 2:.1f}" y="{py(y_lo) + 32:.1f}" text-anchor="middle">'
                 "worst-case robust accuracy − PGD-AT's (points, 2 SE paired)</text>"
                 f'<text transform="translate(14 {(top + py(y_lo)) / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 "RAR top-k ∩ − PGD-AT's (points)</text>")  # fmt: skip

    def error_bars(r: dict[str, Any], stroke: str) -> None:
        """The point's 2-SE bars, horizontal (worst case) and vertical (top-k), where its error is known."""
        x, y = px(r["worst_difference"]), py(r["topk_difference"])
        if r["worst_2se"]:
            lo, hi = px(r["worst_difference"] - r["worst_2se"]), px(r["worst_difference"] + r["worst_2se"])
            parts.append(f'<line x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" {stroke}/>')
        if r["topk_2se"]:
            lo, hi = py(r["topk_difference"] - r["topk_2se"]), py(r["topk_difference"] + r["topk_2se"])
            parts.append(f'<line x1="{x:.1f}" y1="{lo:.1f}" x2="{x:.1f}" y2="{hi:.1f}" {stroke}/>')

    for i, r in enumerate(results):
        color = GROUPS[r["group"]][0]
        x, y = px(r["worst_difference"]), py(r["topk_difference"])
        error_bars(r, f'stroke="{color}" stroke-opacity="0.35"')
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(r["label"])}: '
                     f'{r["worst_difference"]:+.1f} / {r["topk_difference"]:+.1f}</title></circle>'
                     f'<text x="{x + 5:.1f}" y="{y - 4:.1f}" fill="{color}">{i + 1}</text>')  # fmt: skip
    for i, m in enumerate(means):
        x, y = px(m["worst_difference"]), py(m["topk_difference"])
        side, anchor = (1, "start") if i % 2 == 0 else (-1, "end")  # neighbours' labels on opposite sides
        error_bars(m, f'stroke="{MEAN_COLOR}"')
        parts.append(f'{_diamond(x, y)}<title>{escape(m["label"])}: {m["worst_difference"]:+.1f} / '
                     f'{m["topk_difference"]:+.1f}</title></polygon>'
                     f'<text x="{x + side * 8:.1f}" y="{y + 12:.1f}" text-anchor="{anchor}" fill="{MEAN_COLOR}" '
                     f'font-weight="bold">M{i + 1}</text>')  # fmt: skip
    for j, (color, name) in enumerate([*GROUPS.values(), (None, "mean of a recipe's seeds (2 SE: images + seeds)")]):
        ly = py(y_lo) + 52 + 16 * j
        circle = f'<circle cx="{left:.1f}" cy="{ly:.1f}" r="3.5" fill="{color}"/>'
        mark = _diamond(left, ly) + "</polygon>" if color is None else circle
        parts.append(f'{mark}<text x="{left + 8:.1f}" y="{ly + 4:.1f}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=Path("docs/screens/egat_recipes.toml"))
    ap.add_argument("--svg", type=Path, default=None, help="write the scatter here")
    ap.add_argument("--json", type=Path, default=None, help="write every recipe's numbers here")
    args = ap.parse_args(argv)
    try:
        recipes, mean_specs = read_manifest(args.manifest)
        results = [measure(recipe) for recipe in recipes]
        means = [measure_mean(mean, recipes) for mean in mean_specs]
    except ExplainlabError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write(table(results))
    if means:
        sys.stdout.write("\n" + means_table(means))
    mixed = [r["label"] for r in results if r["mixed_hardware"]]
    if mixed:
        sys.stdout.write(
            "\nnote: the reports of these recipes and of their references name different CPUs (or one "
            f"names only 'CPU x86_64'): {', '.join(mixed)}\n"
        )
    if args.svg:
        args.svg.write_text(svg(results, means))
    if args.json:
        document = {"manifest": str(args.manifest), "recipes": results, "means": means}
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
