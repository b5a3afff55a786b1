"""The ``explainlab`` command line: describe the registries, check datasets (train/evaluate/serve come later)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from explainlab.runtime import configure_runtime


def families() -> dict[str, Any]:
    """Every method family by name; imported lazily so ``--help`` stays fast."""
    from explainlab.attacks import ATTACKS
    from explainlab.explain import EXPLAINERS
    from explainlab.metrics import METRICS
    from explainlab.nets import NETS

    return {"nets": NETS, "attacks": ATTACKS, "explainers": EXPLAINERS, "metrics": METRICS}


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; library errors (missing data, bad params, unknown names) end with a message, not a traceback."""
    from pydantic import ValidationError

    from explainlab.errors import ExplainlabError

    configure_runtime()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ExplainlabError, ValidationError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
