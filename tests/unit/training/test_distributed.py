"""DDP under torchrun on the CPU (gloo): two processes split every batch, stay in sync, and rank 0 writes one card.

Each run is ``python -m torch.distributed.run --standalone --nproc_per_node=2`` (a free port is chosen) on real
MNIST; a small launcher records what each rank's method saw and each rank's final weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from explainlab.data import load_dataset
from explainlab.training import distributed
from explainlab.training.config import TrainConfig
from explainlab.training.loop import augment_generator, crop_flip, epoch_order, fit, global_batch
from explainlab.zoo import load_model
from explainlab.zoo.store import CARD, WEIGHTS

LAUNCHER = """
import os, sys
from pathlib import Path
from safetensors.torch import save_file
from explainlab.training import METHODS, loop

probe, rank = Path(os.environ["PROBE_DIR"]), os.environ["RANK"]
cls = METHODS[sys.argv[sys.argv.index("--method") + 1]]
original_loss, original_accuracy = cls.loss, loop._accuracy
seen = {}
interrupt_at = int(os.environ.get("INTERRUPT_AT", "0"))

def loss(self, model, x, y):
    seen[f"x.{len(seen) // 2}"], seen[f"y.{len(seen) // 2}"] = x.clone(), y.clone()
    if len(seen) // 2 == interrupt_at:
        raise SystemExit(f"interrupted in step {interrupt_at}")
    return original_loss(self, model, x, y)

def accuracy(model, x, y, batch=1000):  # its last call is on the final model
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(probe / f"final.{rank}.safetensors"))
    return original_accuracy(model, x, y, batch)

cls.loss, loop._accuracy = loss, accuracy
from explainlab.cli import main
code = main(sys.argv[1:])
save_file(seen, str(probe / f"seen.{rank}.safetensors"))
raise SystemExit(code)
"""

COMMON = {"train_limit": 256, "val_size": 50, "batch_size": 32, "epochs": 1, "checkpoint_every": 3}


def torchrun(
    tmp_path: Path,
    shared_data: Path,
    method: str,
    fields: dict[str, Any],
    *,
    probe: bool,
    name: str = "ddp",
    interrupt_at: int = 0,
) -> Path:
    """Train with two CPU processes; returns the run directory (models go to tmp_path/models).

    ``interrupt_at`` > 0: both ranks die inside that step (1-based); the run must fail after its checkpoints."""
    out = tmp_path / name
    sets = {**COMMON, **fields, "out_dir": str(out)}
    argv = ["train", "--method", method, "--data-dir", str(shared_data), "--models-dir", str(tmp_path / "models")]
    for key, value in sets.items():
        argv += ["--set", f"{key}={json.dumps(value)}" if isinstance(value, str) else f"{key}={value}"]
    if probe:
        (tmp_path / "launch.py").write_text(LAUNCHER)
        target = [str(tmp_path / "launch.py")]
    else:
        target = ["-m", "explainlab"]
    env = {**os.environ, "EXPLAINLAB_THREADS": "1", "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "PROBE_DIR": str(tmp_path), "INTERRUPT_AT": str(interrupt_at)}  # fmt: skip
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *target, *argv]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    if interrupt_at:
        assert done.returncode != 0 and f"interrupted in step {interrupt_at}" in done.stderr, done.stderr[-5000:]
        return out
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["batch_per_process"] == 16 and summary["steps"] == 8
    return out


def check_one_card_and_finite_model(tmp_path: Path, run: Path, shared_data: Path) -> dict[str, torch.Tensor]:
    stored = [p for p in (tmp_path / "models").iterdir()]
    assert len(stored) == 1 and (stored[0] / CARD).is_file() and (run / CARD).is_file()
    assert "x2 processes" in json.loads((run / CARD).read_text())["hardware"]
    model, card = load_model(stored[0])
    assert card.train_config["batch_size"] == 32
    weights = load_file(str(run / WEIGHTS))
    assert all(torch.isfinite(t).all() for t in weights.values())
    test = load_dataset("mnist", "test", data_dir=shared_data)
    with torch.no_grad():
        logits = model(test.float_images()[:50])
    assert logits.shape == (50, 10) and torch.isfinite(logits).all()
    records = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6, 8] and "val_clean_accuracy" in records[-1]
    return weights


def check_ranks_in_sync(tmp_path: Path, weights: dict[str, torch.Tensor]) -> None:
    finals = [load_file(str(tmp_path / f"final.{r}.safetensors")) for r in (0, 1)]
    for key, value in weights.items():
        assert torch.equal(finals[0][key], value) and torch.equal(finals[1][key], value), key


@pytest.mark.slow
def test_natural_ddp_splits_each_batch_and_equals_one_process(tmp_path: Path, shared_data: Path) -> None:
    fields = {"optimizer": "sgd", "lr": 0.05, "augment": "crop_flip", "seed": 3}
    run = torchrun(tmp_path, shared_data, "natural", fields, probe=True)
    weights = check_one_card_and_finite_model(tmp_path, run, shared_data)
    check_ranks_in_sync(tmp_path, weights)

    # the two ranks trained on the two halves of each global batch (after the global batch's augmentation)
    train = load_dataset("mnist", "train", data_dir=shared_data)
    x_train, y_train = train.float_images()[:256], train.labels[:256]
    seen = [load_file(str(tmp_path / f"seen.{r}.safetensors")) for r in (0, 1)]
    order = epoch_order(256, 3, 0)
    for step in range(8):
        idx = global_batch(order, step, 32)
        x = crop_flip(x_train[idx], augment_generator(3, step))
        for r in (0, 1):
            assert torch.equal(seen[r][f"x.{step}"], x[16 * r : 16 * (r + 1)])
            assert torch.equal(seen[r][f"y.{step}"], y_train[idx][16 * r : 16 * (r + 1)])
    assert len(seen[0]) == len(seen[1]) == 16

    # DDP averages the two half-batch gradients: the same SGD steps as one process on the whole batch
    config = TrainConfig(method="natural", data_dir=str(shared_data), device="cpu", out_dir=str(tmp_path / "single"),
                         **{**COMMON, **fields})  # fmt: skip
    fit(config)
    single = load_file(str(tmp_path / "single" / WEIGHTS))
    for key in weights:
        torch.testing.assert_close(weights[key], single[key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_weight_average_under_torchrun_is_the_one_process_average(tmp_path: Path, shared_data: Path) -> None:
    """ema_decay: every rank averages the same synced weights, rank 0 stores the average, and it is the average a
    single process keeps on the whole batch."""
    fields = {"optimizer": "sgd", "lr": 0.05, "seed": 5, "ema_decay": 0.5}
    run = torchrun(tmp_path, shared_data, "natural", fields, probe=True)
    weights = check_one_card_and_finite_model(tmp_path, run, shared_data)
    check_ranks_in_sync(tmp_path, weights)  # each rank's last validated model: its average
    checkpoint = load_file(str(run / "checkpoint.safetensors"))
    assert all(torch.equal(value, checkpoint[f"ema.{key}"]) for key, value in weights.items())
    config = TrainConfig(method="natural", data_dir=str(shared_data), device="cpu", out_dir=str(tmp_path / "single"),
                         **{**COMMON, **fields})  # fmt: skip
    fit(config)
    single = load_file(str(tmp_path / "single" / WEIGHTS))
    for key in weights:
        torch.testing.assert_close(weights[key], single[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.slow
def test_pgd_at_under_torchrun_resumes_exactly(tmp_path: Path, shared_data: Path) -> None:
    """The plain ``-m explainlab train`` entry point (attacks run on the unwrapped module). A two-process run that
    dies in step 5 resumes from its step-3 checkpoint, each rank with its own saved attack generator, and ends
    with the weights of the uninterrupted two-process run."""
    fields = {"method_params.steps": 2, "method_params.step_size": 0.1, "eps_warmup_epochs": 0.5}
    straight = torchrun(tmp_path, shared_data, "pgd_at", fields, probe=False)
    weights = check_one_card_and_finite_model(tmp_path, straight, shared_data)

    run = torchrun(tmp_path, shared_data, "pgd_at", fields, probe=True, name="resumed", interrupt_at=5)
    assert json.loads((run / "checkpoint.json").read_text())["step"] == 3 and not (run / CARD).exists()
    torchrun(tmp_path, shared_data, "pgd_at", fields, probe=False, name="resumed")
    assert json.loads((run / "summary.json").read_text())["resumed_from"] == 3
    resumed = load_file(str(run / WEIGHTS))
    for key, value in weights.items():
        assert torch.equal(resumed[key], value), key


@pytest.mark.slow
def test_egat_under_torchrun(tmp_path: Path, shared_data: Path) -> None:
    """EGAT differentiates a Grad-CAM map (create_graph=True) inside the loss through the DDP wrapper; with mixup it
    also runs an extra forward through DDP before the backward. Both ranks must end with identical weights."""
    fields = {"method_params.steps": 2, "method_params.step_size": 0.1, "method_params.mixup_alpha": 0.5}
    run = torchrun(tmp_path, shared_data, "egat", fields, probe=True)
    check_ranks_in_sync(tmp_path, check_one_card_and_finite_model(tmp_path, run, shared_data))


def test_single_process_helpers_are_no_ops() -> None:
    assert not distributed.is_distributed() and distributed.rank() == 0 and distributed.world_size() == 1
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
    assert distributed.all_gather_objects({"a": 1}) == [{"a": 1}]
    assert distributed.mean_over_ranks({"a": 1.5}) == {"a": 1.5}
    distributed.barrier()
    distributed.teardown()
