"""The lab's default comparison: natural vs pgd_at vs egat, one model per method, never a fine-tune over its base."""

from __future__ import annotations

from pathlib import Path

import torch

from explainlab.nets import build_model
from explainlab.zoo import ModelCard, ThreatModel, save_model
from server.zoo import Zoo


def store(root: Path, model_id: str, method: str, init_from: str | None = None) -> None:
    card = ModelCard(
        id=model_id, dataset="mnist", net="small_cnn", classes=[str(i) for i in range(10)], input_size=[1, 28, 28],
        mean=[0.1307], std=[0.3081], method=method, threat_model=ThreatModel(eps=0.3),
        train_config={"init_from": init_from} if init_from else {},
    )  # fmt: skip
    save_model(root / model_id, build_model("small_cnn", [0.1307], [0.3081]), card)


def test_defaults_take_one_model_per_method_and_skip_control_fine_tunes(tmp_path: Path) -> None:
    store(tmp_path, "a-natural", "natural")
    store(tmp_path, "a-pgd_at", "pgd_at")
    store(tmp_path, "a-pgd_at_ft", "pgd_at", init_from="models/a-pgd_at")
    store(tmp_path, "0-pgd_at_tuned", "pgd_at", init_from="models/a-pgd_at")  # sorts before the base by id
    store(tmp_path, "a-egat", "egat")
    store(tmp_path, "a-sgt", "sgt")
    zoo = Zoo(tmp_path, torch.device("cpu"))
    assert zoo.defaults("mnist") == ["a-natural", "a-pgd_at", "a-egat"]


def test_defaults_fill_in_when_a_method_is_missing(tmp_path: Path) -> None:
    store(tmp_path, "a-natural", "natural")
    store(tmp_path, "a-pgd_at_ft", "pgd_at", init_from="models/x")
    store(tmp_path, "a-sgt", "sgt")
    assert Zoo(tmp_path, torch.device("cpu")).defaults("mnist") == ["a-natural", "a-pgd_at_ft", "a-sgt"]
