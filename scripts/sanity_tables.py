"""Markdown tables of the sanity checks in docs/sanity/*.json (scripts/sanity_zoo.sh wrote them): per model, the
share of the trained map's top-k pixels kept after each cascading randomization step, and for the runner-up class's
map, with two standard errors; Spearman rho of the absolute maps where asked.

Usage: python scripts/sanity_tables.py docs/sanity/mnist_saliency.json [...] [--rho]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from explainlab import markdown
from explainlab.eval.sanity_check import summary_flags
from explainlab.eval.testset import format_mean_2se


def _pct(stat: dict) -> str:
    return format_mean_2se(stat, missing="–")


def _rho(stat: dict) -> str:
    return "–" if stat["mean"] is None else f"{stat['mean']:.2f}"


def table(path: Path, rho: bool) -> str:
    data = json.loads(path.read_text())
    models = data["models"]
    stages = [s["name"] for s in models[0]["stages"][1:]]
    mark = "+ " if data["params"]["order"] == "cascading" else ""  # cascading: one more unit random per column
    head = ["model", *(f"{mark}{name}" for name in stages), "runner-up class", "like the image (ρ)", "flags"]
    rows = []
    for m in models:
        cells = [f"`{m['model'].split('-')[2]}`"]
        for s in [*m["stages"][1:], m["other_class"]]:
            cells.append(_pct(s["topk_intersection"]) + (f" ({_rho(s['spearman_abs'])})" if rho else ""))
        flags = summary_flags(m, data["params"]["order"])  # derived from the means, as the Models pages do
        rows.append([*cells, _rho(m["input_spearman"]), ", ".join(f["code"] for f in flags) or "–"])
    return "\n".join([f"{data['dataset']}, {data['method']}, {data['params']['order']}, {data['images']} test images "
                      f"(top {data['params']['top_fraction']:.0%} kept{', ρ' if rho else ''}):", "",
                      *markdown.table(head, rows)])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--rho", action="store_true", help="add Spearman rho of the absolute maps to each cell")
    args = parser.parse_args()
    sys.stdout.write("\n\n".join(table(path, args.rho) for path in args.files) + "\n")


if __name__ == "__main__":
    main()
