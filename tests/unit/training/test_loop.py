"""The training loop on real MNIST (a few hundred images, one epoch): outputs, determinism, exact resume, schedules,
augmentation, bf16 attacks and the ``explainlab train`` command line."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from explainlab.cli import main
from explainlab.data import load_dataset
from explainlab.errors import IncompatibleError
from explainlab.nets import build_model
from explainlab.training import METHODS
from explainlab.training.config import TrainConfig
from explainlab.training.loop import (
    CHECKPOINT,
    HISTORY,
    SUMMARY,
    Progress,
    TrainingDiverged,
    crop_flip,
    fit,
    lr_factor,
)
from explainlab.zoo import ModelCard, load_model
from explainlab.zoo.store import CARD, WEIGHTS

FAST_ADV = {"eps": 0.3, "steps": 2, "step_size": 0.1}


@pytest.fixture
def make_config(shared_data: Path, tmp_path: Path) -> Any:
    """TrainConfig for 320 MNIST images in batches of 32 (10 steps), 100 validation images, output under tmp."""

    def build(name: str = "run", **fields: Any) -> TrainConfig:
        base: dict[str, Any] = {"dataset": "mnist", "data_dir": str(shared_data), "train_limit": 320,
                                "val_size": 100, "batch_size": 32, "epochs": 1, "device": "cpu",
                                "out_dir": str(tmp_path / name)}  # fmt: skip
        return TrainConfig(**{**base, **fields})

    return build


def weights(directory: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(directory) / WEIGHTS))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def history(directory: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (Path(directory) / HISTORY).read_text().splitlines()]


class Interrupt(Exception):
    pass


def interrupt_after(monkeypatch: pytest.MonkeyPatch, method: str, calls: int) -> None:
    """Make the method's loss raise on call number ``calls`` (1-based): the run dies inside that step."""
    cls = METHODS[method]
    original = cls.loss
    count = {"n": 0}

    def loss(self: Any, model: Any, x: torch.Tensor, y: torch.Tensor) -> Any:
        count["n"] += 1
        if count["n"] == calls:
            raise Interrupt
        return original(self, model, x, y)

    monkeypatch.setattr(cls, "loss", loss)


def die_in_step(monkeypatch: pytest.MonkeyPatch, config: TrainConfig, calls: int) -> None:
    """Run ``config`` (a natural-training run) until it dies inside step ``calls``, leaving its last checkpoint."""
    with monkeypatch.context() as patch:
        interrupt_after(patch, "natural", calls=calls)
        with pytest.raises(Interrupt):
            fit(config)


# ---------------------------------------------------------------- outputs


def test_run_writes_weights_card_history_and_summary(make_config: Any, tmp_path: Path) -> None:
    config = make_config(checkpoint_every=4)
    summary = fit(config, models_dir=tmp_path / "models")
    run = config.run_dir()
    for name in (WEIGHTS, CARD, HISTORY, SUMMARY, CHECKPOINT):
        assert (run / name).is_file(), name
    assert summary["steps"] == 10 and summary["resumed_from"] is None and summary["world_size"] == 1
    assert json.loads((run / SUMMARY).read_text()) == summary

    card = ModelCard.model_validate_json((run / CARD).read_text())
    assert card.id == "mnist-small_cnn-natural-s0" and card.method == "natural" and card.dataset == "mnist"
    assert card.input_size == [1, 28, 28] and card.threat_model.eps == 0.0 and card.weights_sha256
    assert card.train_config["train_limit"] == 320 and card.net_params["num_classes"] == 10
    assert card.title == "MNIST small_cnn Natural training"

    # the stored model is the trained one: same validation accuracy as the loop measured, same predictions
    model, _ = load_model(run)
    stored, _ = load_model(tmp_path / "models" / card.id)
    test = load_dataset("mnist", "test", data_dir=config.data_dir)
    x, y = test.float_images()[:100], test.labels[:100]
    with torch.no_grad():
        pred = model(x).argmax(1)
        assert torch.equal(pred, stored(x).argmax(1))
    assert float((pred == y).float().mean()) == pytest.approx(summary["val_clean_accuracy"])
    assert summary["val_clean_accuracy"] > 0.25  # ten Adam steps on MNIST beat chance (0.1)

    records = history(run)
    assert [r["step"] for r in records] == [4, 8, 10]
    assert all({"ce", "lr", "epoch"} <= r.keys() for r in records)
    assert records[-1]["epoch"] == 1.0 and 0.0 <= records[-1]["val_clean_accuracy"] <= 1.0
    assert records[-1]["ce"] < records[0]["ce"] + 0.5


def test_adversarial_run_records_every_loss_part(make_config: Any) -> None:
    config = make_config(method="egat", method_params=FAST_ADV)
    fit(config)
    (record,) = history(config.run_dir())
    assert {"clean_ce", "adv_ce", "cam_dissimilarity", "val_clean_accuracy"} <= record.keys()
    card = ModelCard.model_validate_json((config.run_dir() / CARD).read_text())
    assert card.threat_model.eps == 0.3 and card.method_params["steps"] == 2


# ---------------------------------------------------------------- determinism and resume


def test_same_seed_gives_bit_identical_weights(make_config: Any) -> None:
    fields = {"method": "pgd_at", "method_params": FAST_ADV, "augment": "crop_flip", "eps_warmup_epochs": 0.5}
    fit(make_config("a", **fields))
    fit(make_config("b", **fields))
    fit(make_config("c", seed=1, **fields))
    assert_same_weights(weights(make_config("a").run_dir()), weights(make_config("b").run_dir()))
    a, c = weights(make_config("a").run_dir()), weights(make_config("c").run_dir())
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("pgd_at", {"method_params": FAST_ADV, "augment": "crop_flip", "eps_warmup_epochs": 0.5}),
        ("egat", {"method_params": {**FAST_ADV, "mixup_alpha": 0.5}, "schedule": "cosine", "optimizer": "sgd"}),
        ("pgd_at", {"method_params": FAST_ADV, "ema_decay": 0.9}),
    ],
)
def test_interrupted_run_resumes_to_the_same_weights(
    make_config: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, method: str, extra: dict
) -> None:
    """Checkpoints at steps 3, 6, 9; the run dies inside step 8 and resumes from 6. Every random stream the method
    draws from (attack starts, mixup's Beta and permutation, crop/flip) continues exactly."""
    straight = make_config("straight", method=method, checkpoint_every=3, **extra)
    expected = fit(straight)

    config = make_config("interrupted", method=method, checkpoint_every=3, **extra)
    with monkeypatch.context() as patch:
        interrupt_after(patch, method, calls=8)
        with pytest.raises(Interrupt):
            fit(config)
    assert json.loads((config.run_dir() / "checkpoint.json").read_text())["step"] == 6
    assert not (config.run_dir() / CARD).exists()

    with caplog.at_level(logging.INFO, logger="explainlab.training.loop"):
        summary = fit(config)
    assert summary["resumed_from"] == 6 and summary["steps"] == expected["steps"] == 10
    assert "resumed" in caplog.text
    assert_same_weights(weights(config.run_dir()), weights(straight.run_dir()))
    resumed, reference = history(config.run_dir()), history(straight.run_dir())
    assert [r["step"] for r in resumed] == [3, 6, 9, 10]
    assert resumed == reference  # loss parts, lr and accuracy, record for record


def test_a_changed_config_starts_over(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config("run", checkpoint_every=3)
    die_in_step(monkeypatch, config, 5)
    changed = make_config("run", checkpoint_every=3, lr=2e-3)
    summary = fit(changed)
    assert summary["resumed_from"] is None
    assert [r["step"] for r in history(changed.run_dir())] == [3, 6, 9, 10]
    fresh = make_config("fresh", checkpoint_every=3, lr=2e-3)
    fit(fresh)
    assert_same_weights(weights(changed.run_dir()), weights(fresh.run_dir()))


def test_a_checkpoint_from_before_a_new_config_field_resumes(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A field added to TrainConfig later (here ema_decay) counts as its default in an older checkpoint's config."""
    config = make_config("run", checkpoint_every=3)
    die_in_step(monkeypatch, config, 5)
    state_file = config.run_dir() / "checkpoint.json"
    state = json.loads(state_file.read_text())
    saved = json.loads(state["config"])
    del saved["ema_decay"]
    state_file.write_text(json.dumps({**state, "config": json.dumps(saved)}))
    assert fit(config)["resumed_from"] == 3
    assert fit(make_config("other", checkpoint_every=3, ema_decay=0.5))["resumed_from"] is None


def test_a_weight_averaged_run_validates_and_stores_the_average(make_config: Any) -> None:
    """ema_decay: the stored weights are the checkpoint's average, not the trained weights, and the history
    records the validation accuracy of both."""
    config = make_config("ema", checkpoint_every=5, ema_decay=0.8)
    summary = fit(config)
    tensors = load_file(str(config.run_dir() / CHECKPOINT))
    stored = weights(config.run_dir())
    for key, value in stored.items():
        assert torch.equal(value, tensors[f"ema.{key}"]), key
    assert any(not torch.equal(stored[k], tensors[f"model.{k}"]) for k in stored)
    last = history(config.run_dir())[-1]
    assert last["val_clean_accuracy"] == summary["val_clean_accuracy"]
    assert 0.0 <= last["val_clean_accuracy_live"] <= 1.0
    plain = make_config("plain", checkpoint_every=5)
    fit(plain)
    assert_same_weights({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, weights(plain.run_dir()))


def test_checkpoint_interval_may_change_on_resume(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config("run", checkpoint_every=3)
    die_in_step(monkeypatch, config, 5)
    summary = fit(make_config("run", checkpoint_every=4))
    assert summary["resumed_from"] == 3
    assert [r["step"] for r in history(config.run_dir())] == [3, 4, 8, 10]


def test_a_run_resumed_on_another_machine_and_data_path_records_both_stretches(
    make_config: Any, monkeypatch: pytest.MonkeyPatch, shared_data: Path, tmp_path: Path
) -> None:
    """A long run carried to another machine: the data may sit elsewhere, and the card names each machine's steps,
    since train_seconds then sums machines of different speeds."""
    config = make_config("run", checkpoint_every=3)
    with monkeypatch.context() as patch:
        patch.setattr("explainlab.training.loop.hardware", lambda *_: "machine A")
        interrupt_after(patch, "natural", calls=5)
        with pytest.raises(Interrupt):
            fit(config)
    (tmp_path / "elsewhere").symlink_to(shared_data)
    monkeypatch.setattr("explainlab.training.loop.hardware", lambda *_: "machine B")
    summary = fit(make_config("run", checkpoint_every=3, data_dir=str(tmp_path / "elsewhere")))
    assert summary["resumed_from"] == 3
    assert [s["steps"] for s in summary["segments"]] == [[0, 3], [3, 10]]
    assert sum(s["seconds"] for s in summary["segments"]) == pytest.approx(summary["train_seconds"], abs=0.2)
    card = ModelCard.model_validate_json((config.run_dir() / CARD).read_text())
    assert card.hardware == "steps 0-3: machine A; steps 3-10: machine B"

    fit(make_config("run", checkpoint_every=3, title="renamed"))  # trains nothing, keeps the record
    card = ModelCard.model_validate_json((config.run_dir() / CARD).read_text())
    assert card.hardware == "steps 0-3: machine A; steps 3-10: machine B"


def test_a_run_on_one_machine_names_just_that_machine(make_config: Any) -> None:
    summary = fit(make_config())
    card = ModelCard.model_validate_json((make_config().run_dir() / CARD).read_text())
    assert [s["steps"] for s in summary["segments"]] == [[0, 10]]
    assert card.hardware == summary["segments"][0]["hardware"] and card.hardware.startswith("CPU ")


def test_a_new_title_renames_the_card_without_retraining(make_config: Any) -> None:
    fit(make_config("run"))
    before = weights(make_config("run").run_dir())
    summary = fit(make_config("run", title="control run"))
    card = ModelCard.model_validate_json((make_config("run").run_dir() / CARD).read_text())
    assert summary["resumed_from"] == 10 and card.title == "control run"
    assert_same_weights(weights(make_config("run").run_dir()), before)


def test_rerunning_a_finished_run_trains_nothing(make_config: Any) -> None:
    config = make_config()
    fit(config)
    before = weights(config.run_dir())
    summary = fit(config)
    assert summary["resumed_from"] == 10 and summary["steps"] == 10
    assert_same_weights(weights(config.run_dir()), before)
    assert len(history(config.run_dir())) == 1


def test_non_finite_loss_stops_the_run(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from explainlab.training.base import LossParts

    def nan_loss(self: Any, model: Any, x: torch.Tensor, y: torch.Tensor) -> LossParts:
        return LossParts(model(x).sum() * float("nan"), {})

    monkeypatch.setattr(METHODS["natural"], "loss", nan_loss)
    with pytest.raises(TrainingDiverged, match="non-finite loss at step 0"):
        fit(make_config())


def test_batch_larger_than_the_data_is_refused(make_config: Any) -> None:
    with pytest.raises(IncompatibleError, match="exceeds the 320 training images"):
        fit(make_config(batch_size=512))


# ---------------------------------------------------------------- schedules and augmentation


def test_lr_schedules() -> None:
    def factors(**fields: Any) -> list[float]:
        config = TrainConfig(**fields)
        return [lr_factor(config, s, 100, 10) for s in range(100)]

    assert factors() == [1.0] * 100
    cosine = factors(schedule="cosine")
    assert cosine[0] == 1.0 and cosine[50] == pytest.approx(0.5) and cosine[99] == pytest.approx(0.0, abs=1e-3)
    assert all(a >= b for a, b in zip(cosine, cosine[1:], strict=False))
    multi = factors(schedule="multistep", milestones=[0.3, 0.8])
    assert (
        multi[:30] == [1.0] * 30
        and multi[30:80] == pytest.approx([0.1] * 50)
        and multi[80:] == pytest.approx([0.01] * 20)
    )
    warm = factors(schedule="cosine", warmup_epochs=2)  # 20 warm-up steps, then cosine over the other 80
    assert warm[:20] == pytest.approx([(s + 1) / 20 for s in range(20)])
    assert warm[20] == 1.0 and warm[60] == pytest.approx(0.5) and warm[99] < 1e-3
    assert factors(warmup_epochs=0.5)[:6] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_crop_flip_keeps_shape_and_values_and_is_deterministic() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 12, 12, generator=gen)
    a = crop_flip(x, torch.Generator().manual_seed(5))
    b = crop_flip(x, torch.Generator().manual_seed(5))
    c = crop_flip(x, torch.Generator().manual_seed(6))
    assert a.shape == x.shape and a.dtype == x.dtype and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= float(x.min()) and float(a.max()) <= float(x.max())
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    for i in range(len(x)):  # each output is one of the 81 crops of the padded image, maybe mirrored
        crops = [padded[i, :, dy : dy + 12, dx : dx + 12] for dy in range(9) for dx in range(9)]
        assert any(torch.equal(a[i], crop) or torch.equal(a[i], crop.flip(-1)) for crop in crops)


def test_progress_bar_shows_the_loss_parts() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = Progress(10, 2, stream=stream)
    bar.update(5, 1, {"adv_ce": 0.5, "cam_dissimilarity": 0.25}, end_of_epoch=True)
    bar.update(6, 2, {"adv_ce": 0.25, "cam_dissimilarity": 0.125})
    first, second = stream.getvalue().split("\n")
    assert first.startswith("\repoch 1/2 [##########..........] 5/10 adv_ce 0.5000 cam_dissimilarity 0.2500 | ")
    assert second.startswith("\repoch 2/2 [############........] 6/10 adv_ce 0.2500") and "it/s, eta" in second
    quiet = Terminal()
    Progress(10, 1, stream=quiet, enabled=False).update(10, 1, {})
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------- bf16


def test_bf16_autocasts_only_the_attack(shared_data: Path) -> None:
    test = load_dataset("mnist", "test", data_dir=shared_data)
    x, y = test.float_images()[:32], test.labels[:32]
    torch.manual_seed(0)
    model = build_model("small_cnn", [0.1307], [0.3081]).train()
    method = METHODS["pgd_at"](METHODS["pgd_at"].Params(**FAST_ADV))
    method.prepare(model, seed=0)
    method.bf16_attacks = True
    dtypes: list[torch.dtype] = []
    model.net.conv1.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    parts = method.loss(model, x, y)
    parts.total.backward()
    assert torch.isfinite(parts.total) and parts.total.dtype == torch.float32
    assert dtypes[:-1] and set(dtypes[:-1]) == {torch.bfloat16}  # the PGD steps
    assert dtypes[-1] == torch.float32  # the training forward
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_bf16_run(make_config: Any) -> None:
    summary = fit(make_config(method="pgd_at", method_params=FAST_ADV, bf16=True))
    assert summary["steps"] == 10 and 0.0 <= summary["val_clean_accuracy"] <= 1.0
    assert all(torch.isfinite(t).all() for t in weights(make_config().run_dir()).values())


# ---------------------------------------------------------------- command line


def test_cli_trains_and_prints_the_summary(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--method", "natural", "--data-dir", str(shared_data), "--set", "train_limit=64",
                 "--set", "batch_size=32", "--set", "val_size=10", "--set", f'out_dir="{tmp_path / "cli"}"',
                 "--models-dir", str(tmp_path / "models")])  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    assert (tmp_path / "models" / "mnist-small_cnn-natural-s0" / CARD).is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--config", "missing.toml"], "not found"),
        (["--config", "{bad}"], "not valid TOML"),
        (["--set", "epochs"], "key=value"),
        (["--set", "epochs=0"], "epochs"),
        (["--set", "no_such_key=1"], "no_such_key"),
        (["--set", "method_params.eps=5"], "eps"),
        (["--method", "no_such_method"], "no_such_method"),
        (["--set", "schedule=linear"], "schedule"),
    ],
)
def test_cli_rejects_bad_configs_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    argv = [str(bad) if a == "{bad}" else a for a in argv]
    assert main(["train", "--method", "pgd_at", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_cli_rejects_unknown_flags(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--no-such-flag"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
