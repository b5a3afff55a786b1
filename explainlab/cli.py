"""The ``explainlab`` command line: describe, data, train, evaluate, sweep, test-images, certify, sanity-check,
map-curve, zoo, serve, access-token."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explainlab.access_tokens import add_token, read_tokens
from explainlab.cli_certify import add_certify_parser
from explainlab.cli_lab import add_lab_arguments, add_params_flags, run_import, run_sweep, run_test_images
from explainlab.cli_sanity import add_sanity_parser
from explainlab.import_settings import ImportSettings
from explainlab.runtime import configure_runtime


def families() -> dict[str, Any]:
    """Every method family by name; imported lazily so ``--help`` stays fast."""
    from explainlab.attacks import ATTACKS
    from explainlab.explain import EXPLAINERS
    from explainlab.metrics import METRICS
    from explainlab.nets import NETS
    from explainlab.training import METHODS

    return {"nets": NETS, "attacks": ATTACKS, "explainers": EXPLAINERS, "metrics": METRICS, "methods": METHODS}


def _describe(args: argparse.Namespace) -> int:
    registries = families()
    chosen = args.family or list(registries)
    unknown = [f for f in chosen if f not in registries]
    if unknown:
        sys.stderr.write(f"error: unknown family {unknown}; choose from {list(registries)}\n")
        return 2
    described = {name: registries[name].describe() for name in chosen}
    if args.json:
        sys.stdout.write(json.dumps(described, indent=2) + "\n")
        return 0
    for family, rows in described.items():
        sys.stdout.write(f"{family}:\n")
        for row in rows:
            sys.stdout.write(f"  {row['name']:<30} {row['title']}  [{row['citation']}]\n")
    return 0


def _data(args: argparse.Namespace) -> int:
    from explainlab.data import describe_data, load_dataset

    if args.load:
        dataset = load_dataset(args.load, args.split, data_dir=args.data_dir, download=args.download)
        row = {"name": dataset.name, "split": dataset.split, "n": len(dataset), "shape": dataset.shape,
               "histogram": dataset.histogram(), "source": dataset.source}  # fmt: skip
        sys.stdout.write(json.dumps(row) + "\n")
        return 0
    rows = describe_data(args.data_dir)
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        for row in rows:
            sys.stdout.write(" ".join(f"{k}={v}" for k, v in row.items()) + "\n")
    return 0 if all(row.get("found") for row in rows) or not args.strict else 1


def _train(args: argparse.Namespace) -> int:
    import logging

    from explainlab.training.config import load_config
    from explainlab.training.loop import fit

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    overrides = list(args.set or [])
    for flag in ("method", "dataset", "net", "data_dir"):
        if getattr(args, flag):
            overrides.append(f'{flag}="{getattr(args, flag)}"')
    summary = fit(load_config(args.config, overrides), models_dir=args.models_dir)
    if int(os.environ.get("RANK", "0")) == 0:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import logging

    from explainlab.eval.benchmark import evaluate, settings_from_cli
    from explainlab.zoo.listing import resolve_model_dir

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.refresh:
        return _refresh(args)
    settings = settings_from_cli(quick=args.quick, n_eval=args.n_eval, n_attribution=args.n_attribution,
                                 overrides=args.set or [])  # fmt: skip
    report = evaluate(resolve_model_dir(args.model, args.models_dir), args.data_dir, settings, out=args.out)
    sys.stdout.write(report.model_dump_json(indent=2) + "\n" if args.json else report.summary() + "\n")
    return 0


def _refresh(args: argparse.Namespace) -> int:
    """``evaluate --refresh BLOCK``: that block again, on the report's own settings, checked against the stored one."""
    from explainlab.errors import InvalidInputError
    from explainlab.eval.refresh import refresh
    from explainlab.zoo.listing import resolve_model_dir

    given = [flag for flag, value in (("--quick", args.quick), ("--set", args.set), ("--n-eval", args.n_eval),
                                      ("--n-attribution", args.n_attribution)) if value]  # fmt: skip
    if given:
        raise InvalidInputError(f"--refresh measures with the report's own settings; drop {', '.join(given)}")
    report = refresh(resolve_model_dir(args.model, args.models_dir), args.refresh, args.data_dir, report_path=args.out)
    note = report.evaluation.refreshed[-1]
    sys.stdout.write(f"{report.id}: {note.block} {note.previous_value} -> {note.value} ({note.seconds:.0f} s)\n")
    return 0


def _map_curve(args: argparse.Namespace) -> int:
    import logging

    from explainlab.eval.map_curve import MapCurveSettings, write_map_curve
    from explainlab.training.config import apply_overrides
    from explainlab.zoo.listing import resolve_model_dir

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    settings = MapCurveSettings(**apply_overrides(MapCurveSettings().model_dump(), list(args.set or [])))
    for model in args.models:
        result = write_map_curve(resolve_model_dir(model, args.models_dir), args.data_dir, settings)
        pairs = zip(result["eps"], result["topk_intersection"], strict=True)
        curve = " ".join(f"{e:.4g}:{100 * v:.0f}%" for e, v in pairs)
        sys.stdout.write(f"{result['id']}: top-{result['k']} ∩ {curve} (n={result['n_attacked']})\n")
    return 0


def _zoo(args: argparse.Namespace) -> int:
    from explainlab.zoo import format_listing, list_models, render_leaderboard, write_leaderboard

    if args.zoo_command == "list":
        rows = list_models(args.models_dir)
        sys.stdout.write(json.dumps(rows, indent=2) + "\n" if args.json else format_listing(rows))
    elif args.zoo_command == "compare":
        from explainlab.zoo.compare import compare_reports, render_comparison

        result = compare_reports(args.reports, args.models_dir)
        sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else render_comparison(result))
    elif args.zoo_command == "seed-pairs":
        from explainlab.zoo.compare import compare_seed_pairs, render_seed_pairs

        result = compare_seed_pairs(args.reports, args.models_dir)
        sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else render_seed_pairs(result))
    elif args.zoo_command == "claims":
        from explainlab.zoo.claims import check_claims, render_claims

        claims = check_claims(args.models_dir)
        sys.stdout.write(json.dumps(claims, indent=2) + "\n" if args.json else "\n".join(render_claims(claims)) + "\n")
    elif args.write:
        sys.stdout.write(f"wrote {write_leaderboard(args.models_dir)}\n")
    else:
        sys.stdout.write(render_leaderboard(args.models_dir))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Start the web lab. The library never imports the web layer: uvicorn loads ``server.main`` by name."""
    try:
        import uvicorn
    except ImportError:
        sys.stderr.write('error: the web extra is not installed: pip install -e ".[web]" (or run make serve)\n')
        return 2
    flags = ("models_dir", "MODELS"), ("data_dir", "DATA"), ("device", "DEVICE"), ("host", "HOST"), ("port", "PORT")
    for flag, variable in [*flags, ("access_tokens", "ACCESS_TOKENS")]:
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"EXPLAINLAB_{variable}"] = str(value)
    host = os.environ.get("EXPLAINLAB_HOST", "127.0.0.1")
    port = int(os.environ.get("EXPLAINLAB_PORT", "8000"))
    tokens = os.environ.get("EXPLAINLAB_ACCESS_TOKENS")
    if tokens:
        users = len(read_tokens(Path(tokens)))  # a bad file stops here with its line named
        sys.stderr.write(f"explainlab: demo access on: {users} tokens in {tokens}\n")
    elif host not in ("127.0.0.1", "localhost", "::1"):
        note = "--access-tokens FILE asks for a token (explainlab access-token NAME --file FILE)"
        sys.stderr.write(f"explainlab: note: anyone who reaches {host}:{port} can use this lab; {note}\n")
    sys.stderr.write(f"explainlab: serving the lab on http://{host}:{port} (API docs at /docs)\n")
    uvicorn.run("server.main:create_app", factory=True, host=host, port=port, workers=1, log_level=args.log_level)
    return 0


def _access_token(args: argparse.Namespace) -> int:
    """Append a token for ``name`` and print it with the sign-in link's form; remove the line to revoke it."""
    token = add_token(Path(args.file), args.name)
    sys.stdout.write(f"{token}\n")
    sys.stderr.write(f"added {args.name!r} to {args.file}; serve with --access-tokens {args.file} and share "
                     f"http://<host>:<port>/?token={token} (or the token, for Authorization: Bearer)\n")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="explainlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    describe = sub.add_parser("describe", help="list nets, attacks, explainers and metrics with their params")
    describe.add_argument("--json", action="store_true", help="machine-readable output with params JSON schemas")
    describe.add_argument("--family", action="append", help="only this family (repeatable)")
    describe.set_defaults(func=_describe)
    data = sub.add_parser("data", help="say which datasets are found and where")
    data.add_argument("--data-dir", default=None, help="dataset root (else $EXPLAINLAB_DATA, else the user cache)")
    data.add_argument("--json", action="store_true")
    data.add_argument("--strict", action="store_true", help="exit 1 if any dataset is missing")
    data.add_argument(
        "--load", metavar="NAME", help="load one dataset (mnist, fashion_mnist, cifar10) and print counts"
    )
    data.add_argument("--split", default="test", choices=["train", "test"], help="split for --load")
    data.add_argument("--download", action="store_true", help="with --load: fetch the official files if missing")
    data.set_defaults(func=_data)
    train = sub.add_parser("train", help="train a model with any method (resumes an interrupted run)")
    train.add_argument("--config", help="TOML run config (configs/*.toml)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. method_params.eps=0.3")
    train.add_argument("--method", help="training method (registry key)")
    train.add_argument("--dataset", help="mnist, fashion_mnist, cifar10")
    train.add_argument("--net", help="architecture (registry key)")
    train.add_argument("--data-dir", dest="data_dir", help="dataset root")
    train.add_argument("--models-dir", default=None, help="also store the final model as <dir>/<id>/")
    train.set_defaults(func=_train)
    evaluate = sub.add_parser("evaluate", help="benchmark a stored model and write report.json beside its card")
    evaluate.add_argument("model", help="stored model: a folder with card.json, or an id under --models-dir")
    evaluate.add_argument("--models-dir", default=None, help="zoo folder (default: $EXPLAINLAB_MODELS or ./models)")
    evaluate.add_argument("--data-dir", default=None, help="dataset root (else $EXPLAINLAB_DATA, else the user cache)")
    evaluate.add_argument("--n-eval", type=int, default=None, help="test images for attacks etc. (default 1000)")
    evaluate.add_argument("--n-attribution", type=int, default=None, help="test images for RAR (default 500)")
    evaluate.add_argument("--quick", action="store_true", help="smoke-test settings (recorded in the report)")
    evaluate.add_argument("--set", action="append", metavar="KEY=VALUE", help="setting, e.g. rar.steps=20")
    evaluate.add_argument("--out", default=None, help="report path (default: <model dir>/report.json)")
    evaluate.add_argument("--json", action="store_true", help="print the whole report, not a summary")
    evaluate.add_argument("--refresh", metavar="BLOCK", help="measure a block of the report again (gini)")
    evaluate.set_defaults(func=_evaluate)
    sweep = sub.add_parser("sweep", help="one image, several models: prediction and map against eps under an attack")
    add_lab_arguments(sweep)
    sweep.add_argument("--image", required=True, help="PNG, JPEG or WebP file, fitted to each model's input")
    sweep.add_argument("--eps", default=None, help="budgets, comma-separated (default 0.25-2 times the attack's eps)")
    sweep.set_defaults(func=run_sweep)
    images = sub.add_parser("test-images", help="the lab's attack and maps over the first n test images of a dataset")
    add_lab_arguments(images)
    images.add_argument("--data-dir", default=None, help="dataset root (else $EXPLAINLAB_DATA, else the user cache)")
    images.add_argument("--n", type=int, default=100, help="test images (default 100)")
    images.add_argument("--start", type=int, default=0, help="index of the first test image")
    images.set_defaults(func=run_test_images)
    curve = sub.add_parser("map-curve", help="how much of the saliency map survives the top-k attack, against eps")
    curve.add_argument("models", nargs="+", help="stored models: folders with card.json, or ids under --models-dir")
    curve.add_argument("--models-dir", default=None, help="zoo folder (default: $EXPLAINLAB_MODELS or ./models)")
    curve.add_argument("--data-dir", default=None, help="dataset root (else $EXPLAINLAB_DATA, else the user cache)")
    curve.add_argument("--set", action="append", metavar="KEY=VALUE", help="setting, e.g. n=200 or steps=100")
    curve.set_defaults(func=_map_curve)
    zoo = sub.add_parser("zoo", help="list the stored models or render the leaderboard")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", required=True)
    zoo_list = zoo_sub.add_parser("list", help="stored models with their headline numbers")
    zoo_list.add_argument("--json", action="store_true")
    zoo_board = zoo_sub.add_parser("leaderboard", help="markdown leaderboard from the cards and reports")
    zoo_board.add_argument("--write", action="store_true", help="write <models-dir>/README.md instead of printing")
    zoo_claims = zoo_sub.add_parser("claims", help="the papers' claims checked against the stored reports")
    zoo_claims.add_argument("--json", action="store_true")
    zoo_compare = zoo_sub.add_parser(
        "compare", help="reports side by side: differences from the first with (paired) standard errors"
    )
    zoo_compare.add_argument("reports", nargs="+", metavar="REPORT", help="report files, model ids or model folders")
    zoo_compare.add_argument("--json", action="store_true")
    zoo_pairs = zoo_sub.add_parser(
        "seed-pairs", help="a recipe against its reference over several seeds: the mean difference, images + seeds"
    )
    pairs_help = "reference then model, one pair per seed: report files, model ids or folders"
    zoo_pairs.add_argument("reports", nargs="+", metavar="REPORT", help=pairs_help)
    zoo_pairs.add_argument("--json", action="store_true")
    zoo_import = zoo_sub.add_parser("import", help="bring your own model: safetensors weights of a known net")
    zoo_import.add_argument("weights", help="a .safetensors file (a pickle is never loaded)")
    add_params_flags(zoo_import, ImportSettings)
    zoo_import.add_argument("--data-dir", default=None, help="dataset root of the accuracy check")
    zoo_import.set_defaults(func=run_import)
    for command in (zoo_list, zoo_board, zoo_claims, zoo_compare, zoo_pairs, zoo_import):
        command.add_argument("--models-dir", default=None, help="zoo folder (default: $EXPLAINLAB_MODELS or ./models)")
        command.set_defaults(func=command.get_default("func") or _zoo)
    serve = sub.add_parser("serve", help="start the web lab (one process, one compute worker)")
    serve.add_argument("--host", default=None, help="interface (default 127.0.0.1; $EXPLAINLAB_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000; $EXPLAINLAB_PORT)")
    serve.add_argument("--models-dir", default=None, help="zoo folder (default: the shipped models/)")
    serve.add_argument("--data-dir", default=None, help="datasets for test-set runs (default: $EXPLAINLAB_DATA)")
    serve.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="default auto")
    serve.add_argument(
        "--access-tokens", default=None, metavar="FILE", help="token file: ask every visitor for a token (demo access)"
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(func=_serve)
    add_certify_parser(sub)
    add_sanity_parser(sub)
    access = sub.add_parser("access-token", help="add a user's access token to a token file (demo access)")
    access.add_argument("name", help="who the token is for: 1-64 letters, digits or . _ @ -")
    access.add_argument("--file", required=True, help="token file (created readable by its owner only)")
    access.set_defaults(func=_access_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; library errors (missing data, bad params, unknown names) end with a message, not a traceback."""
    from pydantic import ValidationError

    from explainlab.errors import ExplainlabError

    args = build_parser().parse_args(argv)
    if args.command == "serve":
        # before torch loads OpenMP: idle OpenMP threads must sleep, not spin, while request threads parse and encode
        # (bench/serve_load.py: 16 clients vs 1 is 0.82x with spinning threads); an explicit setting wins
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    configure_runtime()
    try:
        return int(args.func(args))
    except (ExplainlabError, ValidationError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
