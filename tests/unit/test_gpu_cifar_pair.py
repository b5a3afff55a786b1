"""scripts/gpu_cifar_pair.py: the epoch choice, the matched GPU configs, and one side-by-side run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from explainlab.training import METHODS
from explainlab.training.config import filled_with_defaults, load_config
from tests.scripts_loader import load_script

REPO = Path(__file__).resolve().parents[2]
GPU_CONFIGS = [REPO / "configs" / f"cifar10_{name}_gpu.toml" for name in ("pgd_at", "egat", "egat_saliency")]
MNIST = REPO.parent / "shared" / "data"


def test_the_slowest_run_decides_the_epochs_for_all() -> None:
    epochs_within = load_script("gpu_cifar_pair").epochs_within
    # 390 steps of 0.1 s = 39 s an epoch; x1.25 = 48.75 s; 400 s hold 8 such epochs
    assert epochs_within(400, [0.05, 0.1], [390, 390], [30, 30], 1.25) == (8, pytest.approx(48.75))
    assert epochs_within(400, [0.05, 0.1], [390, 390], [30, 5], 1.25)[0] == 5  # a config's own epochs cap it
    assert epochs_within(10, [0.05, 0.1], [390, 390], [30, 30], 1.0)[0] == 1  # at least one epoch
    assert epochs_within(400, [0.1, 0.05], [100, 390], [30, 30], 1.0) == (20, pytest.approx(19.5))


def test_the_gpu_configs_differ_only_in_the_method() -> None:
    control = REPO / "configs" / "cifar10_pgd_at_clean_gpu.toml"  # EGAT-lab without its Grad-CAM term
    configs = [load_config(path) for path in [*GPU_CONFIGS, control]]
    shared = ("dataset", "net", "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule",
              "warmup_epochs", "eps_warmup_epochs", "augment", "seed", "bf16")  # fmt: skip
    for config in configs[1:]:
        assert {k: getattr(config, k) for k in shared} == {k: getattr(configs[0], k) for k in shared}
        for key in ("eps", "steps", "step_size"):
            assert config.method_params[key] == configs[0].method_params[key]
    assert [c.method for c in configs] == ["pgd_at", "egat", "egat", "pgd_at"]
    assert len({c.model_id() for c in configs}) == 4
    egat_params = METHODS["egat"].Params(**configs[1].method_params)  # the control keeps EGAT-lab's clean CE
    assert configs[3].method_params["clean_weight"] == egat_params.clean_weight == 1.0


@pytest.mark.parametrize("path", GPU_CONFIGS, ids=lambda p: p.stem)
def test_each_shipped_gpu_model_was_trained_by_its_config(path: Path) -> None:
    config = load_config(path)
    card = json.loads((REPO / "models" / config.model_id() / "card.json").read_text())
    ignored = {"data_dir", "out_dir", "checkpoint_every"}  # where the lease kept its files
    trained = {k: v for k, v in filled_with_defaults(card["train_config"]).items() if k not in ignored}
    assert trained == {k: v for k, v in config.model_dump(mode="json").items() if k not in ignored}


@pytest.mark.skipif(not (MNIST / "mnist").is_dir(), reason="needs ../shared/data")
def test_a_side_by_side_run_packs_every_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    work = tmp_path / "work"
    work.mkdir()
    script = REPO / "scripts" / "gpu_cifar_pair.py"
    configs = [str(REPO / "configs" / "mnist_trades.toml"), str(REPO / "configs" / "mnist_pgd_at.toml")]
    sets = ["batch_size=16", "train_limit=32", "val_size=16", "device=cpu", "method_params.steps=1"]
    cmd = [sys.executable, str(script), "--data-dir", str(MNIST), "--out", str(out), "--budget", "300",
           "--probe-steps", "1", "--reserve", "0", "--runs-dir", str(work / "runs"),
           *[a for s in sets for a in ("--set", s)], *configs]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=work, timeout=240, env={**os.environ, "PYTHONPATH": str(REPO)})
    timing = json.loads((out / "timing.json").read_text())
    assert sorted(p.name for p in (work / "runs").iterdir()) == [
        "mnist-small_cnn-pgd_at-s0",
        "mnist-small_cnn-trades-s0",
    ]
    assert timing["epochs"] >= 1 and len(timing["seconds_per_step"]) == 2
    with tarfile.open(out / "runs.tar") as tar:
        names = set(tar.getnames())
    for model_id in ("mnist-small_cnn-trades-s0", "mnist-small_cnn-pgd_at-s0"):
        assert {f"runs/{model_id}/card.json", f"runs/{model_id}/weights.safetensors", f"logs/{model_id}.log"} <= names


def test_bad_flags_and_a_missing_dataset_end_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main = load_script("gpu_cifar_pair").main
    config = str(GPU_CONFIGS[0])
    with pytest.raises(SystemExit) as exit_info:
        main([config, "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--budget", "0"])
    assert exit_info.value.code == 2 and "--budget and --safety must be > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="^error: .*cifar10"):
        main([config, "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--budget", "60"])
    with pytest.raises(SystemExit, match="(?s)^error: .*epochs"):
        main([config, "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--budget", "60", "--set", "epochs=0"])
