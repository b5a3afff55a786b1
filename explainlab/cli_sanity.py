"""``explainlab sanity-check``: the model parameter randomization test (eval/sanity_check.py; Adebayo et al. 2018) over
the first test images of the models' dataset: per model and randomization stage, how much the map still matches the
trained model's, with two standard errors."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from explainlab.cli_lab import add_test_image_command, measure_test_images


def add_sanity_parser(sub: argparse._SubParsersAction) -> None:
    from explainlab.eval.sanity_check import SanityParams
    from explainlab.zoo.store import SANITY_CHECK

    add_test_image_command(sub, "sanity-check", "does the map depend on the weights? (randomize layers, compare maps)",
                           SanityParams, f"{SANITY_CHECK} (one run per method and order)", run_sanity)  # fmt: skip


def _cell(stat: dict, scale: float = 1.0, digits: int = 2) -> str:
    from explainlab.eval.testset import format_mean_2se

    return format_mean_2se(stat, scale, digits)


def run_sanity(args: argparse.Namespace) -> int:
    from explainlab.eval.sanity_check import SanityParams, check_images, summarize_checks
    from explainlab.zoo.store import write_sanity_check

    summarize = lambda rows, params: summarize_checks(rows, params.order)  # noqa: E731
    return measure_test_images(args, SanityParams, check_images, summarize, write_sanity_check, _table)


def _table(head: dict, results: list[dict], params: Any) -> None:
    from explainlab.zoo.listing import short_id

    dataset, start, images = head["dataset"], head["start"], head["images"]
    sys.stdout.write(f"{dataset} test images {start}-{start + images - 1}, maps: {head['method']}, "
                     f"{params.order} randomization; similarity to the trained model's map, ± 2 SE\n")  # fmt: skip
    columns = ("model", "randomized", "Spearman |map|", "SSIM", f"top {params.top_fraction:.0%} ∩", "keeps class %")
    sys.stdout.write("  ".join(f"{h:>16}" for h in columns) + "\n")
    for r in results:
        lines = [(s["name"], s["spearman_abs"], s["ssim"], s["topk_intersection"], s["same_prediction"])
                 for s in r["stages"][1:]]  # fmt: skip
        other = r["other_class"]
        lines.append(("(other class)", other["spearman_abs"], other["ssim"], other["topk_intersection"], None))
        for name, *stats in lines:
            *similar, kept = stats
            cells = [short_id(r["model"]), name, *map(_cell, similar), _cell(kept, 100, 0) if kept else ""]
            sys.stdout.write("  ".join(f"{c:>16}" for c in cells) + "\n")
        sys.stdout.write(f"{'':>16}  input likeness (Spearman of |map| and the image): "
                         f"{_cell(r['input_spearman'])}; {r['seconds']:.0f} s\n")  # fmt: skip
