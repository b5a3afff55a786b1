"""The lab on the command line, without a server: ``explainlab sweep`` (one image, an ε sweep) and
``explainlab test-images`` (the attack over the first n test images), which take stored models, an attack and an
attribution method as the server's requests do; and ``explainlab zoo import`` (bring your own weights), whose flags
come from ``ImportSettings``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any


def add_lab_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every lab comparison takes: models, attack, attribution method, JSON output."""
    parser.add_argument("--models", nargs="+", required=True, help="stored models (ids under --models-dir, or folders)")
    parser.add_argument("--models-dir", default=None, help="zoo folder (default: $EXPLAINLAB_MODELS or ./models)")
    parser.add_argument("--attack", default="pgd", help="attack (registry key; explainlab describe --family attacks)")
    parser.add_argument("--attack-params", default=None, help="JSON, e.g. '{\"steps\": 40}'")
    parser.add_argument("--method", default="saliency", help="attribution method of the maps (registry key)")
    parser.add_argument("--method-params", default=None, help="JSON")
    parser.add_argument("--json", action="store_true")


def add_params_flags(parser: argparse.ArgumentParser, params: type) -> None:
    """One ``--flag`` per field of a ``Params`` class, its description as the help (tuples: comma-separated)."""
    for name, field in params.model_fields.items():
        required = field.is_required()
        default = "" if required or field.default in (None, "") else f" (default: {field.default})"
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, required=required, default=None,
                            help=f"{field.description}{default}")  # fmt: skip


def params_from_flags(args: argparse.Namespace, params: type) -> Any:
    """The ``Params`` from the flags given (pydantic validates and names a bad one)."""
    given = {name: getattr(args, name) for name in params.model_fields if getattr(args, name) is not None}
    for name, value in given.items():
        if "tuple" in str(params.model_fields[name].annotation):
            given[name] = tuple(float(v) for v in value.split(","))
    return params(**given)


def run_import(args: argparse.Namespace) -> int:
    """Store weights trained elsewhere as a zoo model (``zoo.importer``); print the card's id and the check."""
    from explainlab.import_settings import ImportSettings
    from explainlab.zoo.importer import import_model
    from explainlab.zoo.listing import default_models_dir

    try:
        settings = params_from_flags(args, ImportSettings)
    except ValueError as error:  # pydantic's ValidationError is one; so is a mean that is not a number
        sys.stderr.write(f"error: {error}\n")
        return 2
    models_dir = args.models_dir or default_models_dir()
    card, check = import_model(args.weights, models_dir, settings, args.data_dir)
    measured = (f"clean accuracy {check['clean_accuracy']:.1%} on the first {check['n']} test images"
                if check.get("measured") else f"not checked: {check['why']}")  # fmt: skip
    sys.stdout.write(f"stored {card.id} in {models_dir}/{card.id} ({measured})\n")
    if check.get("warning"):
        sys.stderr.write(f"warning: {check['warning']}\n")
    sys.stdout.write(f"next: explainlab evaluate {card.id} --models-dir {models_dir} (report.json for the lab)\n")
    return 0


def _params(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    return json.loads(args.attack_params or "{}"), json.loads(args.method_params or "{}")


def loaded_models(args: argparse.Namespace) -> tuple[list, str]:
    """``--models`` loaded, and the one dataset they share (else an error)."""
    from explainlab.errors import IncompatibleError

    loaded = _loaded(args)
    datasets = sorted({card.dataset for _, card in loaded})
    if len(datasets) > 1:
        raise IncompatibleError(f"--models: the models must share one dataset; got {', '.join(datasets)}")
    return loaded, datasets[0]


def add_test_image_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of a measurement over the first test images of the models' dataset (certify, sanity-check)."""
    parser.add_argument("--models", nargs="+", required=True, help="stored models of one dataset (ids or folders)")
    parser.add_argument("--models-dir", default=None, help="zoo folder (default: $EXPLAINLAB_MODELS or ./models)")
    parser.add_argument("--method", default="saliency", help="attribution method of the maps (registry key)")
    parser.add_argument("--method-params", default=None, help="JSON")
    parser.add_argument("--data-dir", default=None, help="dataset root (else $EXPLAINLAB_DATA, else the user cache)")
    parser.add_argument("--images", type=int, default=100, help="test images (default 100)")
    parser.add_argument("--start", type=int, default=0, help="index of the first test image")


def add_test_image_command(sub: argparse._SubParsersAction, name: str, summary: str, params: type, store: str,
                           func: Any) -> None:  # fmt: skip
    """A subcommand that measures models over the first test images: the shared flags, one flag per ``params``
    field, ``--json`` and ``--write`` (each model's summary into ``<model dir>/<store>``)."""
    parser = sub.add_parser(name, help=summary)
    add_test_image_arguments(parser)
    add_params_flags(parser, params)
    parser.add_argument("--json", action="store_true", help="the summaries and every image's numbers")
    parser.add_argument("--write", action="store_true", help=f"also store each summary in <model dir>/{store}")
    parser.set_defaults(func=func)


def first_test_images(args: argparse.Namespace) -> tuple[list, str, Any, Any] | None:
    """The models of ``--models`` and test images ``--start`` .. ``--start + --images`` of their dataset as (loaded,
    dataset, x, y); None after an error message for a bad range."""
    from explainlab.data import load_dataset

    if args.images < 1 or args.start < 0:
        sys.stderr.write("error: --images must be at least 1, --start at least 0\n")
        return None
    loaded, dataset = loaded_models(args)
    data = load_dataset(dataset, "test", args.data_dir)
    if args.start + args.images > len(data):
        sys.stderr.write(f"error: --start + --images: the {dataset} test split has {len(data)} images\n")
        return None
    part = data.subset(slice(args.start, args.start + args.images))
    return loaded, dataset, part.float_images(), part.labels


def measure_test_images(
    args: argparse.Namespace,
    params_type: type,
    measure: Callable[..., list[dict[str, Any]]],
    summarize: Callable[[list[dict[str, Any]], Any], dict[str, Any]],
    write: Callable[[Any, dict[str, Any]], Any],
    table: Callable[[dict[str, Any], list[dict[str, Any]], Any], None],
) -> int:
    """A measurement of each of ``--models`` over the first test images: ``measure(model, x, y, explainer, params,
    progress)`` gives the per-image rows, ``summarize(rows, params)`` their summary; with ``--write`` each summary is
    stored beside its card by ``write(model dir, record)``; ``--json`` prints everything, else ``table(head, results,
    params)`` prints the summaries. Returns the exit code (2 after an error message for a bad range)."""
    import torch

    from explainlab.explain import EXPLAINERS
    from explainlab.provenance import hardware
    from explainlab.zoo.listing import resolve_model_dir

    params = params_from_flags(args, params_type)
    explainer = EXPLAINERS.create(args.method, json.loads(args.method_params or "{}"))
    if (chosen := first_test_images(args)) is None:
        return 2
    loaded, dataset, x, y = chosen
    results = []
    for model, card in loaded:
        started = time.perf_counter()
        rows = measure(model.eval(), x, y, explainer, params, progress_printer(card.id, len(y)))
        results.append({"model": card.id, "seconds": time.perf_counter() - started, **summarize(rows, params),
                        "per_image": rows})  # fmt: skip
    head = {"dataset": dataset, "start": args.start, "images": args.images, "method": args.method,
            "method_params": explainer.params.model_dump(mode="json"),
            "params": params.model_dump(mode="json"), "hardware": hardware(torch.device("cpu"))}  # fmt: skip
    if args.write:
        for model_arg, result in zip(args.models, results, strict=True):
            write(resolve_model_dir(model_arg, args.models_dir), stored_summary(head, result))
    if args.json:
        sys.stdout.write(json.dumps({**head, "models": results}, indent=2) + "\n")
    else:
        table(head, results, params)
    return 0


def stored_summary(head: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """One model's result as stored beside its card: the run's settings, no per-image rows, and when it was made."""
    from datetime import UTC, datetime

    summary = {k: v for k, v in result.items() if k != "per_image"}
    return {**head, **summary, "created": datetime.now(UTC).isoformat(timespec="seconds")}


def progress_printer(model_id: str, total: int) -> Any:
    """A progress callback that writes '<model>: <done> of <total> images' to stderr every 50 images."""

    def report(done: int) -> None:
        if done % 50 == 0 or done == total:
            sys.stderr.write(f"{model_id}: {done} of {total} images\n")

    return report


def _loaded(args: argparse.Namespace) -> list:
    from explainlab.errors import IncompatibleError
    from explainlab.zoo.listing import resolve_model_dir
    from explainlab.zoo.store import load_model

    loaded = [load_model(resolve_model_dir(m, args.models_dir)) for m in args.models]
    if len({tuple(card.input_size) for _, card in loaded}) > 1:
        raise IncompatibleError("--models: every model must take the same input size (one dataset)")
    return loaded


def run_sweep(args: argparse.Namespace) -> int:
    """An ε sweep of one image file on stored models, without the server (``compare.sweep``)."""
    from pathlib import Path

    from explainlab import compare
    from explainlab.attacks import ATTACKS
    from explainlab.explain import EXPLAINERS
    from explainlab.imageio import decode_image, to_model_input
    from explainlab.zoo.listing import short_id

    try:
        data = Path(args.image).read_bytes()
        params, method_params = _params(args)
        budgets = [float(e) for e in args.eps.split(",")] if args.eps else None
    except (OSError, ValueError) as error:  # an unreadable file, bad JSON, a budget that is not a number
        sys.stderr.write(f"error: {error}\n")
        return 2
    loaded = _loaded(args)
    inputs = [to_model_input(decode_image(data), card.input_size) for _, card in loaded]
    base = ATTACKS.create(args.attack, params).params
    eps = compare.sweep_reference_eps(params, base.eps, [card.threat_model.eps for _, card in loaded])
    budgets = budgets or compare.sweep_budgets(eps, base.norm)
    explainer = EXPLAINERS.create(args.method, method_params)
    points = compare.sweep([m for m, _ in loaded], inputs, args.attack, params, explainer, sorted(budgets),
                           class_names=[card.classes for _, card in loaded])  # fmt: skip
    rows = [{"eps": e, "models": [{"model": card.id, "class_before": card.classes[o.before.prediction.label],
             "class_after": card.classes[o.after.prediction.label], "topk": o.similarity.topk_intersection,
             "k": o.similarity.k, "spearman": o.similarity.spearman, "linf": o.linf}
             for (_, card), o in zip(loaded, outcomes, strict=True)]} for e, outcomes in points]  # fmt: skip
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    names = [short_id(card.id) for _, card in loaded]
    sys.stdout.write(f"{'eps':>8}  " + "  ".join(f"{n:>24}" for n in names) + "\n")
    for row in rows:
        cells = [f"{m['class_before']}{' -> ' + m['class_after'] if m['class_after'] != m['class_before'] else ''} "
                 f"top-{m['k']} {100 * m['topk']:.0f}%" for m in row["models"]]  # fmt: skip
        sys.stdout.write(f"{row['eps']:>8.4g}  " + "  ".join(f"{c:>24}" for c in cells) + "\n")
    return 0


def run_test_images(args: argparse.Namespace) -> int:
    """The attack and maps over the first ``--n`` test images of the models' dataset (``eval.testset``): per model
    clean accuracy, accuracy under attack, attack success and the maps' similarity, with two standard errors."""
    import logging

    from explainlab.attacks import ATTACKS
    from explainlab.data import load_dataset
    from explainlab.eval.testset import evaluate_images, format_mean_2se, summarize
    from explainlab.explain import EXPLAINERS
    from explainlab.zoo.listing import short_id

    try:
        params, method_params = _params(args)
    except ValueError as error:
        sys.stderr.write(f"error: --attack-params / --method-params: {error}\n")
        return 2
    if args.n < 1 or args.start < 0:
        sys.stderr.write("error: --n must be at least 1, --start at least 0\n")
        return 2
    loaded, dataset = loaded_models(args)
    attacker, explainer = ATTACKS.create(args.attack, params), EXPLAINERS.create(args.method, method_params)
    data = load_dataset(dataset, "test", args.data_dir)
    if args.start + args.n > len(data):
        sys.stderr.write(f"error: --start + --n: the {dataset} test split has {len(data)} images\n")
        return 2
    part = data.subset(slice(args.start, args.start + args.n))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    log = logging.getLogger("explainlab.test_images")
    gathered = evaluate_images(
        [m for m, _ in loaded], part.float_images(), part.labels, attacker, explainer,
        progress=lambda done: log.info("%d of %d images", done, args.n),
    )  # fmt: skip
    ids = [card.id for _, card in loaded]
    summaries = [{"model": i, **summarize(g)} for i, g in zip(ids, gathered, strict=True)]
    if args.json:
        out = {"dataset": dataset, "start": args.start, "n": args.n, "attack": args.attack,
               "attack_params": attacker.params.model_dump(mode="json"), "method": args.method,
               "method_params": explainer.params.model_dump(mode="json"), "models": summaries,
               "labels": part.labels.tolist(), "per_image": dict(zip(ids, gathered, strict=True))}  # fmt: skip
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    pct = format_mean_2se
    head = ("model", "clean %", "under attack %", "success %", "top-k ∩ %", "Spearman", "SSIM", "max L-inf")
    sys.stdout.write(f"{dataset} test images {args.start}-{args.start + args.n - 1}, {args.attack}, maps: "
                     f"{args.method}\n" + "  ".join(f"{h:>16}" for h in head) + "\n")  # fmt: skip
    for s in summaries:
        cells = [short_id(s["model"]), pct(s["clean_accuracy"]), pct(s["accuracy_under_attack"]),
                 pct(s["attack_success"]), pct(s["topk_intersection"]),
                 *(f"{s[m]['mean']:.2f}" if s[m]["mean"] is not None else "-" for m in ("spearman", "ssim")),
                 f"{s['max_linf']:.4g}" if s["max_linf"] is not None else "-"]  # fmt: skip
        sys.stdout.write("  ".join(f"{c:>16}" for c in cells) + "\n")
    return 0
