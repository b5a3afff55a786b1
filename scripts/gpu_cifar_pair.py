"""Train CIFAR-10 runs side by side on one GPU within a fixed wall-clock budget (one GPU lease).

1. Times a few optimizer steps of every config at once (each in its own process, on a random batch of the real
   shape; the step's cost does not depend on the pixels), so the timing includes the runs slowing each other.
2. Picks the epochs the slowest run finishes within the budget (at most each config's own, which ``--set epochs=N``
   raises), the same for all runs, so that the runs compare at a matched schedule.
3. Trains them side by side (``explainlab train --config C --set epochs=E``, cudnn autotuning on), each stopped at
   the deadline; every run checkpoints each epoch, so a stopped run can resume.
4. Packs each run folder (card, weights, history, summary, checkpoint) and its log into ``<out>/runs.tar``.

    python scripts/gpu_cifar_pair.py --data-dir DIR --out DIR --budget 480 \
        configs/cifar10_pgd_at_gpu.toml configs/cifar10_egat_gpu.toml configs/cifar10_egat_saliency_gpu.toml
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEP_PROBE = """
import sys, time, torch
torch.backends.cudnn.benchmark = True
from explainlab.data import get_spec
from explainlab.nets import build_model
from explainlab.training import METHODS
from explainlab.training.config import load_config
from explainlab.provenance import resolve_device
config = load_config(sys.argv[1], sys.argv[3:])
n = int(sys.argv[2])
device = resolve_device(config.device)
spec = get_spec(config.dataset)
model = build_model(config.net, spec.mean, spec.std, **config.resolved_net_params()).to(device)
cls = METHODS[config.method]
method = cls(cls.Params(**config.method_params))
method.bf16_attacks = config.bf16
method.prepare(model, seed=0)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
gen = torch.Generator().manual_seed(0)
x = torch.rand(config.batch_size, *spec.input_shape, generator=gen).to(device)
y = torch.randint(0, len(spec.classes), (config.batch_size,), generator=gen).to(device)
def step():
    parts = method.loss(model, x, y)
    opt.zero_grad(set_to_none=True)
    parts.total.backward()
    opt.step()
model.train()
for _ in range(5):
    step()
if device.type == "cuda":
    torch.cuda.synchronize()
start = time.perf_counter()
for _ in range(n):
    step()
if device.type == "cuda":
    torch.cuda.synchronize()
print("SECONDS_PER_STEP", (time.perf_counter() - start) / n, flush=True)
"""
TRAIN = "import sys, torch; torch.backends.cudnn.benchmark = True; from explainlab.cli import main; sys.exit(main())"


def say(text: str) -> None:
    sys.stdout.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
    sys.stdout.flush()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", help="training configs (TOML) to train side by side")
    parser.add_argument("--data-dir", required=True, help="dataset root holding cifar10-jpg.zip")
    parser.add_argument("--out", required=True, help="folder for runs.tar and the timing record")
    parser.add_argument("--budget", type=float, required=True, help="wall-clock seconds for all of it, from start")
    parser.add_argument("--probe-steps", type=int, default=30, help="timed steps per config (after 5 untimed)")
    parser.add_argument("--reserve", type=float, default=60.0, help="seconds kept for start-up, evaluation, packing")
    parser.add_argument("--safety", type=float, default=1.3, help="factor on the probed step time")
    parser.add_argument("--runs-dir", default="runs", help="where each run's folder goes (default: ./runs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    args = parser.parse_args(argv)
    if args.budget <= 0 or args.probe_steps < 1 or args.safety <= 0 or args.reserve < 0:
        parser.error("--budget and --safety must be > 0, --probe-steps >= 1, --reserve >= 0")
    return args


def probe(configs: list[str], steps: int, overrides: list[str]) -> list[float]:
    """Seconds per optimizer step of each config, all probed at once."""
    procs = [subprocess.Popen([sys.executable, "-c", STEP_PROBE, c, str(steps), *overrides], stdout=subprocess.PIPE,
                              text=True, cwd=REPO) for c in configs]  # fmt: skip
    seconds = []
    for config, proc in zip(configs, procs, strict=True):
        out, _ = proc.communicate()
        lines = [line for line in out.splitlines() if line.startswith("SECONDS_PER_STEP")]
        if proc.returncode or not lines:
            raise SystemExit(f"step probe of {config} failed (exit {proc.returncode})")
        seconds.append(float(lines[-1].split()[1]))
    return seconds


def epochs_within(
    seconds: float, per_step: list[float], steps_per_epoch: list[int], caps: list[int], safety: float
) -> tuple[int, float]:
    """The epochs every run finishes in ``seconds`` when each epoch takes its probed time times ``safety`` (the
    slowest run decides; at least 1, at most the smallest config's own epochs) and that slowest epoch's seconds."""
    epoch_seconds = max(s * n for s, n in zip(per_step, steps_per_epoch, strict=True)) * safety
    return max(1, min(min(caps), math.floor(seconds / epoch_seconds))), epoch_seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    from explainlab.data import load_dataset
    from explainlab.errors import ExplainlabError
    from explainlab.training.config import load_config

    try:
        configs = [load_config(c, [f"data_dir={args.data_dir}", *args.set]) for c in args.configs]
        for dataset in sorted({c.dataset for c in configs}):  # decode once; the runs then read the cache
            for split in ("train", "test"):
                load_dataset(dataset, split, data_dir=args.data_dir)
    except (ExplainlabError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    if len({c.dataset for c in configs}) > 1:
        raise SystemExit("error: the configs train on different datasets; a matched schedule needs one")
    train_images = len(load_dataset(configs[0].dataset, "train", data_dir=args.data_dir))
    say(f"data ready after {time.perf_counter() - start:.0f} s")
    per_step = probe(args.configs, args.probe_steps, args.set)
    for path, seconds in zip(args.configs, per_step, strict=True):
        say(f"{path}: {seconds * 1000:.1f} ms per step with {len(configs)} runs side by side")
    left = args.budget - (time.perf_counter() - start) - args.reserve
    steps_per_epoch = [train_images // c.batch_size for c in configs]
    epochs, epoch_seconds = epochs_within(left, per_step, steps_per_epoch, [c.epochs for c in configs], args.safety)
    say(f"{left:.0f} s left for training: {epochs} epochs at ~{epoch_seconds:.1f} s per epoch (slowest run)")
    record = {"configs": args.configs, "seconds_per_step": per_step, "epochs": epochs, "budget": args.budget,
              "safety": args.safety, "overrides": args.set}  # fmt: skip
    (out / "timing.json").write_text(json.dumps(record, indent=2) + "\n")

    runs = Path(args.runs_dir).resolve()
    procs = []
    for path, config in zip(args.configs, configs, strict=True):
        cmd = [sys.executable, "-c", TRAIN, "train", "--config", path, *[a for s in args.set for a in ("--set", s)],
               "--set", f"epochs={epochs}", "--set", f"data_dir={args.data_dir}",
               "--set", f"out_dir={runs / config.model_id()}", "--set", "checkpoint_every=1000000"]  # fmt: skip
        log = (out / f"{config.model_id()}.log").open("w")
        procs.append((config, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO), log))
    deadline = start + args.budget - 20
    for config, proc, log in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        say(f"{config.model_id()}: exit {proc.returncode}")
    with tarfile.open(out / "runs.tar", "w") as tar:
        for config in configs:
            folder = runs / config.model_id()
            if folder.is_dir():
                tar.add(folder, arcname=f"runs/{config.model_id()}")
            tar.add(out / f"{config.model_id()}.log", arcname=f"logs/{config.model_id()}.log")
        tar.add(out / "timing.json", arcname="timing.json")
    say(f"packed {out / 'runs.tar'} after {time.perf_counter() - start:.0f} s")
    return 1 if any(proc.returncode for _, proc, _ in procs) else 0


if __name__ == "__main__":
    sys.exit(main())
