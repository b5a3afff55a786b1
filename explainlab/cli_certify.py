"""``explainlab certify``: certified maps (eval/certified_map.py) over the first test images of the models' dataset,
per model the shares of certified pixels and the smoothed model's accuracy, with two standard errors."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from explainlab.cli_lab import add_params_flags, params_from_flags


def add_certify_parser(sub: argparse._SubParsersAction) -> None:
    from explainlab.eval.certified_map import CertifyParams

    certify = sub.add_parser("certify", help="certified maps (randomized smoothing) over the first n test images")
    certify.add_argument("--models", nargs="+", required=True, help="stored models of one dataset (ids or folders)")
    certify.add_argument("--models-dir", default=None, help="zoo folder (default: $EXPLAINLAB_MODELS or ./models)")
    certify.add_argument("--method", default="saliency", help="attribution method whose maps are certified")
    certify.add_argument("--method-params", default=None, help="JSON")
    certify.add_argument("--data-dir", default=None, help="dataset root (else $EXPLAINLAB_DATA, else the user cache)")
    certify.add_argument("--images", type=int, default=100, help="test images (default 100)")
    certify.add_argument("--start", type=int, default=0, help="index of the first test image")
    add_params_flags(certify, CertifyParams)
    certify.add_argument("--json", action="store_true", help="the summaries and every image's certificate")
    certify.add_argument(
        "--write", action="store_true", help="also store each summary in <model>/certified_map.json (one run per sigma)"
    )
    certify.set_defaults(func=run_certify)


def write_certified(directory: Path, head: dict[str, Any], result: dict[str, Any]) -> Path:
    """One model's summary (no per-image rows) with the run's settings and hardware, added to ``<model dir>/
    certified_map.json`` (``zoo.store.write_certified``: one run per σ)."""
    from explainlab.zoo.store import write_certified as store

    summary = {k: v for k, v in result.items() if k != "per_image"}
    return store(directory, {**head, **summary, "created": datetime.now(UTC).isoformat(timespec="seconds")})


def _progress(model_id: str, total: int, done: int) -> None:
    if done % 50 == 0 or done == total:
        sys.stderr.write(f"{model_id}: {done} of {total} images\n")


def run_certify(args: argparse.Namespace) -> int:
    import torch

    from explainlab.cli_lab import loaded_models
    from explainlab.data import load_dataset
    from explainlab.eval.certified_map import CertifyParams, certify_images, summarize_certificates
    from explainlab.explain import EXPLAINERS
    from explainlab.provenance import hardware
    from explainlab.zoo.listing import resolve_model_dir, short_id

    if args.images < 1 or args.start < 0:
        sys.stderr.write("error: --images must be at least 1, --start at least 0\n")
        return 2
    params = params_from_flags(args, CertifyParams)
    explainer = EXPLAINERS.create(args.method, json.loads(args.method_params or "{}"))
    loaded, dataset = loaded_models(args)
    data = load_dataset(dataset, "test", args.data_dir)
    if args.start + args.images > len(data):
        sys.stderr.write(f"error: --start + --images: the {dataset} test split has {len(data)} images\n")
        return 2
    part = data.subset(slice(args.start, args.start + args.images))
    x, y = part.float_images(), part.labels
    results = []
    for model, card in loaded:
        started = time.perf_counter()
        rows = certify_images(model.eval(), x, y, explainer, params, partial(_progress, card.id, len(y)))
        results.append({"model": card.id, "seconds": time.perf_counter() - started, **summarize_certificates(rows),
                        "per_image": rows})  # fmt: skip
    head = {"dataset": dataset, "start": args.start, "images": args.images, "method": args.method,
            "method_params": explainer.params.model_dump(mode="json"),
            "params": params.model_dump(mode="json"), "hardware": hardware(torch.device("cpu"))}  # fmt: skip
    if args.write:
        for model_arg, result in zip(args.models, results, strict=True):
            write_certified(resolve_model_dir(model_arg, args.models_dir), head, result)
    if args.json:
        out = {**head, "models": results}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    pct = lambda s: "-" if s["mean"] is None else f"{100 * s['mean']:.1f} ± {100 * (s['se2'] or 0):.1f}"  # noqa: E731
    columns = ("model", "certified %", "top-k certified %", "no cert. %", "accuracy %", "smoothed %", "at R %", "s")
    sys.stdout.write(f"{dataset} test images {args.start}-{args.start + args.images - 1}, maps: {args.method}, "
                     f"sigma {params.sigma}, n {params.n}, tau {params.tau}, alpha {params.alpha}: "
                     f"radius R = {results[0]['radius']:.4f} (L2)\n")  # fmt: skip
    sys.stdout.write("  ".join(f"{h:>18}" for h in columns) + "\n")
    for r in results:
        cells = [short_id(r["model"]), pct(r["certified_share"]), pct(r["important_certified_of_k"]),
                 pct(r["abstained_share"]), pct(r["accuracy"]), pct(r["smoothed_accuracy"]),
                 pct(r["certified_accuracy"]), f"{r['seconds']:.0f}"]  # fmt: skip
        sys.stdout.write("  ".join(f"{c:>18}" for c in cells) + "\n")
    return 0
