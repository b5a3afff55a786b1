"""One training step of every registered method on the same batch, side by side in one run (methods.md §7).

A step is ``method.loss`` + ``backward`` + ``optimizer.step`` on a fixed batch, each method on its own copy of the
same initial model. After warm-up the methods are timed round-robin (R rounds; each round runs every method once,
starting one method further on), so machine noise hits all of them alike. The report gives each method's median
seconds per step and its cost as a ratio to ``pgd_at``: median / median, and the median of the per-round ratios.

    python bench/train_cost.py                                    # MNIST SmallCNN, batch 128, Params defaults
    python bench/train_cost.py --steps 10 --reps 20 --json out/train_cost.json
    python bench/train_cost.py --set egat.explanation_weight=2 --methods pgd_at,egat
    python bench/train_cost.py --skip ig_norm,ig_sum_norm         # RAR is ~45x pgd_at: minutes per step on a CPU
    python bench/train_cost.py --net resnet20 --dataset cifar10 --bf16
    python bench/train_cost.py --config configs/mnist_pgd_at.toml --config configs/mnist_egat.toml   # the zoo recipes
    python bench/train_cost.py --config configs/mnist_pgd_at.toml --config configs/mnist_egat.toml \
        --config configs/mnist_egat_saliency_lambda0.2.toml     # two recipes of one method: rows named by config

Acceptance (EGAT paper: +16 % training time): ``egat`` <= 1.16 x ``pgd_at``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# Idle OpenMP threads sleep instead of spinning: on a shared machine spinning threads slow every step down by
# 3-60x and swamp the comparison (export OMP_WAIT_POLICY=ACTIVE to measure a dedicated machine's best case).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from explainlab.runtime import configure_runtime  # noqa: E402

configure_runtime()

from explainlab.data import get_spec, load_dataset  # noqa: E402
from explainlab.errors import ExplainlabError  # noqa: E402
from explainlab.nets import build_model  # noqa: E402
from explainlab.training import METHODS  # noqa: E402
from explainlab.training.base import AdversarialParams  # noqa: E402
from explainlab.training.config import TrainConfig, load_config, parse_value  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REFERENCE = "pgd_at"
EGAT_LIMIT = 1.16


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", default=None, help="architecture (registry key; default: the configs', small_cnn)")
    parser.add_argument("--dataset", default=None,
                        help="mnist, fashion_mnist or cifar10 (default: the configs', mnist)")  # fmt: skip
    parser.add_argument("--data-dir", default=None, help="dataset root (default: $EXPLAINLAB_DATA, ../shared/data)")
    parser.add_argument("--batch", type=int, default=128, help="images in the fixed batch")
    parser.add_argument("--warmup", type=int, default=1, help="untimed round-robin rounds first")
    parser.add_argument("--reps", type=int, default=7, help="timed round-robin rounds")
    parser.add_argument("--steps", type=int, default=None, help="PGD steps of every adversarial method")
    parser.add_argument("--set", action="append", default=[], metavar="ROW.KEY=VALUE",
                        help="override a row's param, e.g. egat.explanation_weight=2 (repeatable)")  # fmt: skip
    parser.add_argument("--config", action="append", default=[], metavar="TOML",
                        help="a method and its params from a training config (repeatable; a method's row is named "
                             "by the config's file stem when several configs share the method)")  # fmt: skip
    parser.add_argument("--methods", default=None, help="comma-separated subset (default: every registered method)")
    parser.add_argument("--skip", default="", help="comma-separated methods to leave out (e.g. the RAR ones on a CPU)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the methods' sample generation")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON ('-': stdout)")
    return parser.parse_args(argv)


def fixed_batch(dataset: str, data_dir: str | None, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The first ``n`` test images of the real dataset when it is found, else uniform noise with random labels."""
    spec = get_spec(dataset)
    roots = [data_dir] if data_dir else [os.environ.get("EXPLAINLAB_DATA"), str(REPO.parent / "shared" / "data")]
    for root in [r for r in roots if r]:
        try:
            test = load_dataset(dataset, "test", data_dir=root)
        except ExplainlabError:
            continue
        if len(test) >= n:
            return test.float_images()[:n], test.labels[:n], f"{dataset} test[:{n}] from {root}"
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *spec.input_shape, generator=gen)
    return x, torch.randint(0, len(spec.classes), (n,), generator=gen), f"random {tuple(x.shape)} (no {dataset} found)"


def method_params(
    rows: dict[str, str], steps: int | None, sets: list[str], configs: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Per row (name -> method): its config's params (else {}: the Params defaults), PGD ``steps`` for adversarial
    methods, then the ``--set`` overrides."""
    params: dict[str, dict[str, Any]] = {name: dict((configs or {}).get(name, {})) for name in rows}
    for name, method in rows.items():
        cls = METHODS[method].Params  # type: ignore[attr-defined]
        if steps is not None and "steps" in cls.model_fields and issubclass(cls, AdversarialParams):
            params[name]["steps"] = steps
    for item in sets:
        key, sep, value = item.partition("=")
        row, dot, field = key.strip().rpartition(".")  # a row named by a config stem may hold dots
        if not (sep and dot and row and field):
            raise SystemExit(f"--set expects row.key=value, got {item!r}")
        if row not in params:
            raise SystemExit(f"--set {item!r}: row {row!r} is not benchmarked ({', '.join(rows)})")
        params[row][field] = parse_value(value.strip())
    return params


def config_rows(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Rows (name -> method) and their params from ``--config`` files: a row is named by its method, or by the
    config's file stem where several configs share a method. Sets ``args.net`` and ``args.dataset`` from them."""
    loaded = []
    for path in args.config:
        try:
            loaded.append((path, load_config(path)))
        except ExplainlabError as error:
            raise SystemExit(f"--config {path}: {error}") from None
    methods = [config.method for _, config in loaded]
    rows: dict[str, str] = {}
    params: dict[str, dict[str, Any]] = {}
    for path, config in loaded:
        name = config.method if methods.count(config.method) == 1 else Path(path).stem
        if name in rows:
            raise SystemExit(f"--config {path}: a second row named {name!r}")
        rows[name], params[name] = config.method, config.method_params
        for key in ("net", "dataset"):
            value = getattr(config, key)
            if getattr(args, key) not in (None, value):
                raise SystemExit(f"--config {path}: {key} {value!r}, but this run benchmarks {getattr(args, key)!r}")
            setattr(args, key, value)
    return rows, params


def describe(method: Any) -> str:
    """The method's resolved params, compactly."""
    p = method.params.model_dump()
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")  # fmt: skip
    config_methods, configs = config_rows(args)
    args.net, args.dataset = args.net or "small_cnn", args.dataset or "mnist"
    names = args.methods.split(",") if args.methods else list(config_methods) or METHODS.names()
    names = [name for name in names if name not in args.skip.split(",")]
    rows_to_methods = {name: config_methods.get(name, name) for name in names}
    for name in list(rows_to_methods.values()) + [n for n in args.skip.split(",") if n]:
        METHODS[name]  # unknown names fail here, listing the valid ones
    params = method_params(rows_to_methods, args.steps, args.set, configs)
    x, y, source = fixed_batch(args.dataset, args.data_dir, args.batch, args.seed)
    x, y = x.to(device), y.to(device)
    spec = get_spec(args.dataset)
    net_params = TrainConfig(dataset=args.dataset, net=args.net).resolved_net_params()
    torch.manual_seed(args.seed)
    base = build_model(args.net, spec.mean, spec.std, **net_params).to(device)

    steps: dict[str, Any] = {}
    failed: dict[str, str] = {}
    settings: dict[str, str] = {}
    for name in names:
        cls = METHODS[rows_to_methods[name]]
        try:
            method = cls(cls.Params(**params[name]))  # type: ignore[attr-defined]
        except ValidationError as error:
            failed[name] = "invalid params: " + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in error.errors()
            )
            continue
        model = copy.deepcopy(base).train()
        method.prepare(model, seed=args.seed)
        method.bf16_attacks = args.bf16
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(method: Any = method, model: torch.nn.Module = model, optimizer: Any = optimizer) -> None:
            parts = method.loss(model, x, y)
            optimizer.zero_grad(set_to_none=True)
            parts.backward()
            optimizer.step()

        steps[name] = step
        settings[name] = describe(method)

    def timed(name: str) -> float | None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        try:
            steps[name]()
        except Exception as error:  # a method that cannot run here is reported, not fatal
            failed[name] = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            del steps[name]
            return None
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    header = (f"train_cost: {args.net} on {source}, batch {args.batch}, {device}, {torch.get_num_threads()} threads "
              f"(OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}), bf16 attacks {args.bf16}, "
              f"{args.warmup} warm-up + {args.reps} timed rounds")  # fmt: skip
    print(header, file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in steps}
    order = list(steps)
    for round_ in range(args.warmup + args.reps):
        start = time.perf_counter()
        shift = round_ % max(len(order), 1)
        for name in order[shift:] + order[:shift]:
            if name in steps:
                seconds = timed(name)
                if seconds is not None and round_ >= args.warmup:
                    times[name].append(seconds)
        kind = "warm-up" if round_ < args.warmup else "timed"
        print(f"  round {round_ + 1}/{args.warmup + args.reps} ({kind}) {time.perf_counter() - start:.1f} s",
              file=sys.stderr)  # fmt: skip

    times = {name: t for name, t in times.items() if name in steps and t}
    ref = next((t for name, t in times.items() if rows_to_methods[name] == REFERENCE), None)
    rows = []
    for name, t in times.items():
        median = statistics.median(t)
        q = statistics.quantiles(t, n=4) if len(t) > 1 else [median, median, median]
        row: dict[str, Any] = {"method": name, "trains": rows_to_methods[name], "median_s": median, "q1_s": q[0],
                               "q3_s": q[2], "reps": len(t), "params": settings[name]}  # fmt: skip
        if ref:
            row["ratio_to_pgd_at"] = median / statistics.median(ref)
            row["paired_ratio_to_pgd_at"] = statistics.median(a / b for a, b in zip(t, ref, strict=False))
        rows.append(row)

    width = max([len(r["method"]) for r in rows] + [6])
    print(f"\n{'method':<{width}}  {'median s':>9}  {'IQR s':>15}  {'x pgd_at':>8}  {'paired':>7}  params")
    for r in rows:
        ratio = f"{r['ratio_to_pgd_at']:8.3f}" if "ratio_to_pgd_at" in r else f"{'-':>8}"
        paired = f"{r['paired_ratio_to_pgd_at']:7.3f}" if "paired_ratio_to_pgd_at" in r else f"{'-':>7}"
        iqr = f"{r['q1_s']:.3f}-{r['q3_s']:.3f}"
        print(f"{r['method']:<{width}}  {r['median_s']:9.3f}  {iqr:>15}  {ratio}  {paired}  {r['params']}")
    for name, why in failed.items():
        print(f"{name:<{width}}  failed: {why}")
    verdict = None
    for egat in [r for r in rows if r["trains"] == "egat" and "ratio_to_pgd_at" in r]:
        worst = max(egat["ratio_to_pgd_at"], egat["paired_ratio_to_pgd_at"])
        verdict = (verdict is not False) and worst <= EGAT_LIMIT  # every egat row within the limit
        print(f"\n{egat['method']} / pgd_at = {egat['ratio_to_pgd_at']:.3f} (paired "
              f"{egat['paired_ratio_to_pgd_at']:.3f}); acceptance <= {EGAT_LIMIT}: "
              f"{'PASS' if worst <= EGAT_LIMIT else 'FAIL'}")  # fmt: skip

    if args.json:
        out = {"net": args.net, "dataset": args.dataset, "batch": args.batch, "source": source, "device": str(device),
               "threads": torch.get_num_threads(),
               "omp_wait_policy": os.environ["OMP_WAIT_POLICY"], "bf16": args.bf16, "warmup": args.warmup,
               "reps": args.reps, "configs": args.config,
               "steps_override": args.steps, "sets": args.set, "torch": torch.__version__, "rows": rows,
               "failed": failed, "egat_within_limit": verdict, "times": times}  # fmt: skip
        text = json.dumps(out, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text)
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
