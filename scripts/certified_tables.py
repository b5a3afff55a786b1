"""Markdown tables of certified maps in docs/certified/*.json (``explainlab certify --json`` wrote them): per model,
the summary with two standard errors, then each model's share of top-k pixels certified important minus the
reference model's, paired over the same images and noise (mean of the per-image differences ± two standard errors).

Usage: python scripts/certified_tables.py docs/certified/cifar10_saliency_sigma0.12.json [...] [--reference pgd_at]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from explainlab import markdown
from explainlab.eval.per_example import paired_difference
from explainlab.eval.testset import format_mean_2se
from explainlab.zoo.listing import short_id

COLUMNS = (
    ("certified_share", "certified pixels %"),
    ("important_certified_of_k", "top-k certified important %"),
    ("abstained_share", "no certificate %"),
    ("accuracy", "accuracy %"),
    ("smoothed_accuracy", "smoothed accuracy %"),
    ("certified_accuracy", "right and certified at R %"),
)


def _short(model_id: str) -> str:
    """``cifar10-resnet20-pgd_at-s0`` -> ``pgd_at-s0`` (the id without dataset and net)."""
    return model_id.split("-", 2)[-1]


def _important_share(model: dict) -> list[float]:
    return [image["certified_important"] / image["k"] for image in model["per_image"]]


def table(path: Path, reference: str) -> str:
    data = json.loads(path.read_text())
    params = data["params"]
    head = ["model", *(label for _, label in COLUMNS), "seconds"]
    rows = [
        [f"`{_short(m['model'])}`", *(format_mean_2se(m[key]) for key, _ in COLUMNS), f"{m['seconds']:.0f}"]
        for m in data["models"]
    ]
    lines = [f"{data['dataset']}, {data['method']}, σ {params['sigma']}, n {params['n']}, {data['images']} test images "
             f"from {data['start']}:", "", *markdown.table(head, rows)]  # fmt: skip
    ref = [m for m in data["models"] if short_id(m["model"]) == reference]
    if not ref:
        return "\n".join(lines)
    base = _important_share(ref[0])
    diffs = []
    for m in data["models"]:
        if m is not ref[0]:
            paired = paired_difference(_important_share(m), base)
            diffs.append(f"`{_short(m['model'])}` {100 * paired['mean']:+.1f} ± {200 * (paired['se'] or 0):.1f}")
    lines += ["", f"top-k certified important, paired against `{_short(ref[0]['model'])}` (2 SE): " + ", ".join(diffs)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--reference", default="pgd_at", help="method part of the reference id (default pgd_at)")
    args = parser.parse_args()
    sys.stdout.write("\n\n".join(table(path, args.reference) for path in args.files) + "\n")


if __name__ == "__main__":
    main()
