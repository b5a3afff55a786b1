"""RAR's attribution attack (Chen et al. 2019) on several models over the same first n test images, compared
pairwise: each model's top-k intersection and Kendall tau, and its difference from the first model over the images
that both classify correctly, with a paired standard error (std of the per-image differences / sqrt(n)). The
paired error is far smaller than the claims table's unpaired one, so a short run (n = 200) can screen a training
change before a full ``explainlab evaluate``.

The protocol is the zoo's (README, "The zoo"): RAR's preset for the dataset with the zoo's CPU reductions (MNIST:
10 IG points inside the attack, 1 restart; CIFAR-10 also 10 steps of 5 points), unless a flag overrides it.

    python bench/rar_paired.py --models REF OTHER [...] [--models-dir models] [--data-dir ../shared/data] [--n 200]
           [--steps S] [--restarts R] [--attack-ig-steps M] [--ig-steps M] [--eps E] [--ig-path-start C]
           [--centered-logit] [--json PATH]

Each model is an id under --models-dir or a model folder (card.json + weights.safetensors, e.g. a runs/<id> folder).
``--from-reports`` attacks nothing: it reads each model's per-image results from its report.json (the zoo's
evaluation, on the first 500 test images), after checking that the report ran this protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from pydantic import ValidationError

from explainlab.runtime import configure_runtime

configure_runtime()

from explainlab.data import load_dataset  # noqa: E402
from explainlab.errors import CheckpointError, ExplainlabError  # noqa: E402
from explainlab.eval.attribution_robustness import PRESETS, RARProtocol, attribution_robustness  # noqa: E402
from explainlab.eval.paired_args import paired_models_parser  # noqa: E402
from explainlab.eval.per_example import decode_per_example, paired_difference  # noqa: E402
from explainlab.zoo.listing import resolve_model_dir  # noqa: E402
from explainlab.zoo.store import load_model, read_card  # noqa: E402

ZOO_REDUCTIONS: dict[str, dict[str, int]] = {
    "mnist": {"attack_ig_steps": 10, "restarts": 1},
    "cifar10": {"steps": 10, "attack_ig_steps": 5, "restarts": 1},
}
OVERRIDES: dict[str, type] = {
    "steps": int, "restarts": int, "attack_ig_steps": int, "ig_steps": int, "eps": float, "ig_path_start": float,
}  # fmt: skip


def add_protocol_flags(ap: argparse.ArgumentParser) -> None:
    """The RAR protocol's flags that protocol_for reads: the overrides (--eps: L-inf budget) and --centered-logit."""
    for name, kind in OVERRIDES.items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None, help=f"protocol {name} (zoo default)")
    ap.add_argument("--centered-logit", action="store_true",
                    help="explain f_y - mean_j f_j (the same softmax) instead of the logit f_y")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = paired_models_parser(__doc__, default_n=200)
    add_protocol_flags(ap)
    ap.add_argument("--from-reports", action="store_true",
                    help="read the per-image results from each model's report.json instead of attacking")  # fmt: skip
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be >= 1")
    args.error = ap.error
    return args


def protocol_for(dataset: str, args: argparse.Namespace) -> RARProtocol:
    """RAR's preset for the dataset, the zoo's reductions, then the flags; a bad value exits with a usage error."""
    given = {name: getattr(args, name) for name in OVERRIDES if getattr(args, name) is not None}
    given |= {"centered_logit": True} if args.centered_logit else {}
    settings = {**PRESETS.get(dataset, RARProtocol()).model_dump(), **ZOO_REDUCTIONS.get(dataset, {}), **given}
    try:
        return RARProtocol(**settings)
    except ValidationError as error:
        args.error(f"bad protocol setting: {error.errors()[0]['loc'][0]}: {error.errors()[0]['msg']}")
        raise  # unreachable: args.error exits


def per_image(model_dir: Path, x: torch.Tensor, y: torch.Tensor, protocol: RARProtocol) -> dict[str, torch.Tensor]:
    """Top-k intersection and Kendall tau per test image, NaN where the model misclassifies the clean image."""
    model, _ = load_model(model_dir)
    model.eval()
    result = attribution_robustness(model, x, y, protocol)
    out = {}
    for metric in ("topk_intersection", "kendall"):
        full = torch.full((len(x),), float("nan"), dtype=torch.float64)
        full[result.attacked] = getattr(result, metric).double()
        out[metric] = full
    return out


def from_report(model_dir: Path, n: int, protocol: RARProtocol) -> dict[str, torch.Tensor]:
    """The first n images' top-k intersection and Kendall tau as the model's report recorded them (NaN where not
    attacked); a report of another protocol, or of fewer images, is refused."""
    path = model_dir / "report.json"
    if not path.is_file():
        raise CheckpointError(f"{model_dir}: no report.json to read (drop --from-reports to attack)")
    rar = json.loads(path.read_text()).get("attribution_robustness") or {}
    recorded = {**RARProtocol().model_dump(), **(rar.get("protocol") or {})}  # reports before a field: its default
    if recorded != protocol.model_dump():
        raise CheckpointError(f"{path}: its RAR protocol {rar.get('protocol')} is not {protocol.model_dump()}")
    out = {}
    for metric in ("topk_intersection", "kendall"):
        values = decode_per_example((rar.get(metric) or {}).get("per_example")) or []
        if len(values) < n:
            raise CheckpointError(f"{path}: per-image {metric} for {len(values)} images, fewer than --n {n}")
        out[metric] = torch.tensor([float("nan") if v is None else v for v in values[:n]], dtype=torch.float64)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folders, missing = [], []
    for model in args.models:  # an id under --models-dir, else a model folder (the zoo's own lookup)
        try:
            folders.append(resolve_model_dir(model, args.models_dir))
        except CheckpointError:
            missing.append(model)
    if missing:
        args.error(f"no stored model (card.json) at: {', '.join(missing)} (neither an id under {args.models_dir} "
                   "nor a model folder)")  # fmt: skip
    try:
        cards = [read_card(f) for f in folders]  # the weights are loaded (and hashed) once, in per_image
    except ExplainlabError as error:
        args.error(str(error))
    datasets = {card.dataset for card in cards}
    if len(datasets) != 1:
        args.error(f"the models must share one dataset, got {sorted(datasets)}")
    dataset = datasets.pop()
    protocol = protocol_for(dataset, args)
    data = load_dataset(dataset, "test", data_dir=args.data_dir)
    x, y = data.float_images()[: args.n], data.labels[: args.n]
    print(f"RAR paired: {dataset}, first {len(x)} test images, {protocol.model_dump()}", flush=True)
    rows, maps = [], []
    for folder, card in zip(folders, cards, strict=True):
        start = time.perf_counter()
        try:
            values = from_report(folder, len(x), protocol) if args.from_reports else per_image(folder, x, y, protocol)
        except CheckpointError as error:
            args.error(str(error))
        maps.append(values)
        row = {"model": card.id, "folder": str(folder), "method": card.method,
               "n_attacked": int((~values["topk_intersection"].isnan()).sum()),
               **{m: float(v.nanmean()) for m, v in values.items()},
               "seconds": time.perf_counter() - start}  # fmt: skip
        if len(maps) > 1:
            row["vs_first"] = {m: paired_difference(values[m].tolist(), maps[0][m].tolist()) for m in values}
        rows.append(row)
        print(f"{card.id}: top-k {100 * row['topk_intersection']:.1f} %, Kendall {row['kendall']:.3f} "
              f"(n={row['n_attacked']}, {row['seconds']:.0f} s)", flush=True)  # fmt: skip
    print(f"\n| model | n attacked | top-k ∩ (%) | Kendall τ | Δ top-k vs `{rows[0]['model']}` (± 2 SE, paired) |")
    print("|---|---|---|---|---|")
    for row in rows:
        d = row.get("vs_first", {}).get("topk_intersection")
        if not d:
            delta = "(reference)"
        elif d["se"] is None:
            delta = f"n/a (n={d['n']} images scored for both)"
        else:
            delta = f"{100 * d['mean']:+.1f} ± {200 * d['se']:.1f} (n={d['n']})"
        print(f"| `{row['model']}` | {row['n_attacked']} | {100 * row['topk_intersection']:.1f} | "
              f"{row['kendall']:.3f} | {delta} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"n": len(x), "protocol": protocol.model_dump(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
