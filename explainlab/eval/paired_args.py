"""The command line the paired-models benches share (bench/rar_paired.py, bench/gradient_geometry.py): the models
(the first is the reference), where they and the data live, and how many of the first test images to use."""

from __future__ import annotations

import argparse
from pathlib import Path


def paired_models_parser(doc: str, default_n: int) -> argparse.ArgumentParser:
    """A parser with --models, --models-dir, --data-dir and --n; the description is the docstring's first paragraph."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", nargs="+", required=True, metavar="ID", help="ids or folders; the first = reference")
    ap.add_argument("--models-dir", type=Path, default=Path("models"))
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--n", type=int, default=default_n, help=f"first n test images (default {default_n})")
    return ap
