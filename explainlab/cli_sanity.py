"""``explainlab sanity-check``: the model parameter randomization test (eval/sanity_check.py; Adebayo et al. 2018) over
the first test images of the models' dataset: per model and randomization stage, how much the map still matches the
trained model's, with two standard errors."""

from __future__ import annotations

import argparse
import json
import sys
import time

from explainlab.cli_lab import (
    add_params_flags,
    add_test_image_arguments,
    first_test_images,
    params_from_flags,
    progress_printer,
    stored_summary,
)


def add_sanity_parser(sub: argparse._SubParsersAction) -> None:
    from explainlab.eval.sanity_check import SanityParams

    sanity = sub.add_parser(
        "sanity-check", help="does the map depend on the weights? (randomize the layers, compare the maps)"
    )
    add_test_image_arguments(sanity)
    add_params_flags(sanity, SanityParams)
    sanity.add_argument("--json", action="store_true", help="the summaries and every image's similarities")
    sanity.add_argument(
        "--write", action="store_true", help="also store each summary in <model>/sanity_check.json (one run per method)"
    )
    sanity.set_defaults(func=run_sanity)


def _cell(stat: dict, scale: float = 1.0, digits: int = 2) -> str:
    if stat["mean"] is None:
        return "-"
    return f"{scale * stat['mean']:.{digits}f} ± {scale * (stat['se2'] or 0):.{digits}f}"


def run_sanity(args: argparse.Namespace) -> int:
    import torch

    from explainlab.eval.sanity_check import SanityParams, check_images, summarize_checks
    from explainlab.explain import EXPLAINERS
    from explainlab.provenance import hardware
    from explainlab.zoo.listing import resolve_model_dir, short_id
    from explainlab.zoo.store import write_sanity_check

    params = params_from_flags(args, SanityParams)
    explainer = EXPLAINERS.create(args.method, json.loads(args.method_params or "{}"))
    if (chosen := first_test_images(args)) is None:
        return 2
    loaded, dataset, x, y = chosen
    results = []
    for model, card in loaded:
        started = time.perf_counter()
        rows = check_images(model.eval(), x, y, explainer, params, progress_printer(card.id, len(y)))
        summary = summarize_checks(rows, params.order)
        results.append({"model": card.id, "seconds": time.perf_counter() - started, **summary, "per_image": rows})
    head = {"dataset": dataset, "start": args.start, "images": args.images, "method": args.method,
            "method_params": explainer.params.model_dump(mode="json"),
            "params": params.model_dump(mode="json"), "hardware": hardware(torch.device("cpu"))}  # fmt: skip
    if args.write:
        for model_arg, result in zip(args.models, results, strict=True):
            write_sanity_check(resolve_model_dir(model_arg, args.models_dir), stored_summary(head, result))
    if args.json:
        sys.stdout.write(json.dumps({**head, "models": results}, indent=2) + "\n")
        return 0
    sys.stdout.write(f"{dataset} test images {args.start}-{args.start + args.images - 1}, maps: {args.method}, "
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
    return 0
