"""``explainlab certify``: certified maps (eval/certified_map.py) over the first test images of the models' dataset,
per model the shares of certified pixels and the smoothed model's accuracy, with two standard errors."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from explainlab.cli_lab import add_test_image_command, measure_test_images


def add_certify_parser(sub: argparse._SubParsersAction) -> None:
    from explainlab.eval.certified_map import CertifyParams
    from explainlab.zoo.store import CERTIFIED_MAP

    add_test_image_command(sub, "certify", "certified maps (randomized smoothing) over the first n test images",
                           CertifyParams, f"{CERTIFIED_MAP} (one run per sigma)", run_certify)  # fmt: skip


def run_certify(args: argparse.Namespace) -> int:
    from explainlab.eval.certified_map import CertifyParams, certify_images, summarize_certificates
    from explainlab.zoo.store import write_certified

    summarize = lambda rows, params: summarize_certificates(rows)  # noqa: E731
    return measure_test_images(args, CertifyParams, certify_images, summarize, write_certified, _table)


def _table(head: dict, results: list[dict], params: Any) -> None:
    from explainlab.eval.testset import format_mean_2se
    from explainlab.zoo.listing import short_id

    dataset, start, images = head["dataset"], head["start"], head["images"]
    pct = format_mean_2se
    columns = ("model", "certified %", "top-k certified %", "no cert. %", "accuracy %", "smoothed %", "at R %", "s")
    sys.stdout.write(f"{dataset} test images {start}-{start + images - 1}, maps: {head['method']}, "
                     f"sigma {params.sigma}, n {params.n}, tau {params.tau}, alpha {params.alpha}: "
                     f"radius R = {results[0]['radius']:.4f} (L2)\n")  # fmt: skip
    sys.stdout.write("  ".join(f"{h:>18}" for h in columns) + "\n")
    for r in results:
        cells = [short_id(r["model"]), pct(r["certified_share"]), pct(r["important_certified_of_k"]),
                 pct(r["abstained_share"]), pct(r["accuracy"]), pct(r["smoothed_accuracy"]),
                 pct(r["certified_accuracy"]), f"{r['seconds']:.0f}"]  # fmt: skip
        sys.stdout.write("  ".join(f"{c:>18}" for c in cells) + "\n")
