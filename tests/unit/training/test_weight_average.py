"""The exponential moving average of the weights: its closed form, its warm-up, integer buffers, checkpoint tensors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from explainlab.training.weight_average import WeightAverage, step_decay


def test_decay_warms_up_to_its_ceiling() -> None:
    assert step_decay(0.999, 0) == pytest.approx(0.1)
    assert step_decay(0.999, 8) == pytest.approx(0.5)
    assert step_decay(0.9, 1000) == 0.9


def test_average_of_a_sequence_matches_the_closed_form() -> None:
    """Weights w_0 (at construction), then w_1..w_T after each step: avg_T = sum of geometric weights."""
    layer = nn.Linear(2, 1)
    average = WeightAverage(layer, decay=0.5)  # d_t = min(0.5, (1+t)/(10+t)): 0.1, 0.18.., 0.25, ...
    values = [layer.weight.detach().clone()]
    for step in range(12):
        with torch.no_grad():
            layer.weight.add_(1.0 + step)
        values.append(layer.weight.detach().clone())
        average.update(layer, step)
    expected = values[0]
    for step, value in enumerate(values[1:]):
        d = step_decay(0.5, step)
        expected = d * expected + (1 - d) * value
    assert torch.allclose(average.state["weight"], expected, atol=1e-6)
    model = average.model
    assert torch.equal(model.weight, average.state["weight"]) and not model.training
    assert not torch.equal(model.weight, layer.weight)


def test_integer_buffers_are_copied_and_float_buffers_averaged() -> None:
    norm = nn.BatchNorm1d(3)
    average = WeightAverage(norm, decay=0.9)
    norm.train()
    norm(torch.randn(8, 3) + 5.0)
    average.update(norm, 100)  # d = 0.9
    assert average.state["num_batches_tracked"] == 1
    assert torch.allclose(average.state["running_mean"], 0.1 * norm.running_mean, atol=1e-6)


def test_checkpoint_tensors_round_trip_and_a_missing_average_is_named() -> None:
    layer = nn.Linear(2, 2)
    average = WeightAverage(layer, decay=0.9)
    with torch.no_grad():
        layer.weight.mul_(3)
    average.update(layer, 50)
    restored = WeightAverage(nn.Linear(2, 2), decay=0.9)
    restored.load_tensors(average.tensors())
    assert all(torch.equal(restored.state[k], average.state[k]) for k in average.state)
    with pytest.raises(KeyError, match="no weight average"):
        restored.load_tensors({})


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_decay_outside_the_open_interval_is_refused(decay: float) -> None:
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(nn.Linear(1, 1), decay=decay)


def test_live_weights_script_stores_the_trained_weights_beside_their_average(shared_data, tmp_path) -> None:
    """scripts/live_weights.py: the checkpoint's trained weights as a model folder of their own; a run without an
    average is refused."""
    from safetensors.torch import load_file

    from explainlab.training.config import TrainConfig
    from explainlab.training.loop import fit
    from tests.scripts_loader import load_script

    live_weights = load_script("live_weights")
    base = {"dataset": "mnist", "data_dir": str(shared_data), "train_limit": 160, "val_size": 50, "batch_size": 32,
            "device": "cpu"}  # fmt: skip
    deviations = ["a smaller budget", "the stored weights are an exponential moving average (decay 0.9)"]
    averaged = {"ema_decay": 0.9, "id": "mnist-small_cnn-natural_ema-s0", "deviations": deviations}
    fit(TrainConfig(**base, **averaged, out_dir=str(tmp_path / "ema")))
    assert live_weights.main([str(tmp_path / "ema"), str(tmp_path / "live")]) == 0
    checkpoint = load_file(str(tmp_path / "ema" / "checkpoint.safetensors"))
    stored = load_file(str(tmp_path / "live" / "weights.safetensors"))
    assert all(torch.equal(v, checkpoint[f"model.{k}"]) for k, v in stored.items())
    card = json.loads((tmp_path / "live" / "card.json").read_text())
    assert card["id"] == "mnist-small_cnn-natural_ema_live-s0"
    assert card["train_config"]["live_weights_of"] == "mnist-small_cnn-natural_ema-s0"
    assert card["train_config"]["ema_decay"] == 0.0
    assert card["deviations"][0] == "a smaller budget" and len(card["deviations"]) == 2  # the average's line is gone
    assert "live" in card["deviations"][1] and "mnist-small_cnn-natural_ema-s0" in card["deviations"][1]

    named = ["--id", "mnist-small_cnn-natural-s3", "--title", "MNIST natural, seed 3"]
    assert live_weights.main([str(tmp_path / "ema"), str(tmp_path / "named"), *named]) == 0
    card = json.loads((tmp_path / "named" / "card.json").read_text())
    assert (card["id"], card["title"]) == ("mnist-small_cnn-natural-s3", "MNIST natural, seed 3")
    assert live_weights.main([str(tmp_path / "ema"), str(tmp_path / "bad"), "--id", "Not An Id"]) == 2

    fit(TrainConfig(**base, out_dir=str(tmp_path / "plain")))
    assert live_weights.main([str(tmp_path / "plain"), str(tmp_path / "x")]) == 2
