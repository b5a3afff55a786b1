"""Zoo-test world: a tmp models dir with two stored MNIST models (one evaluated, one with a quick report), one
CIFAR-10 model without a report, and a folder with a broken card."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from explainlab.eval.report import Report
from explainlab.nets import build_model
from explainlab.zoo import ModelCard, ThreatModel, save_model


def card(model_id: str, dataset: str = "mnist", method: str = "pgd_at", eps: float = 0.3) -> ModelCard:
    channels, size = (1, 8) if dataset == "mnist" else (3, 8)
    return ModelCard(
        id=model_id, dataset=dataset, net="small_cnn", net_params={"input_size": size, "in_channels": channels},
        classes=[str(i) for i in range(10)], input_size=[channels, size, size], mean=[0.5] * channels,
        std=[0.5] * channels, method=method, threat_model=ThreatModel(eps=eps), train_seconds=754.0, hardware="CPU",
    )  # fmt: skip


def score(value: float | None, n: int) -> dict:
    return {"value": value, "n_eval": n}


def attack(value: float, n: int, name: str = "pgd") -> dict:
    return {**score(value, n), "attack": name, "params": {}, "seconds": 1.0}


def report(c: ModelCard, clean: float, pgd: float, *, quick: bool = False, warnings: tuple[str, ...] = (),
           threads: int = 2) -> Report:  # fmt: skip
    """A schema-valid report with made-up numbers (validated through the Report model)."""
    n, n_rar = (100, 10) if quick else (1000, 500)
    overrides = {"steps": 5, "restarts": 1} if quick else {}
    data = {
        "id": c.id, "dataset": c.dataset, "net": c.net, "method": c.method, "threat_model": c.threat_model, "n_eval": n,
        "clean_accuracy": score(clean, n),
        "robust_accuracy": {"n_eval": n, "norm": "linf", "eps": c.threat_model.eps or 0.3, "pgd": attack(pgd, n),
                            "apgd_ce": attack(pgd - 0.01, n, "apgd"), "apgd_dlr": attack(pgd - 0.02, n, "apgd"),
                            "worst": score(pgd - 0.03, n)},
        "attribution_robustness": {
            "n_eval": n_rar, "n_attacked": n_rar - 2, "topk_intersection": score(0.6123, n_rar - 2),
            "kendall": score(0.3456, n_rar - 2), "spearman": score(0.5, n_rar - 2),
            "label_preserved": score(1.0, n_rar - 2), "preset": c.dataset, "protocol": {}, "overrides": overrides,
            "paper_settings": not overrides, "seconds": 1.0},
        "gini": {**score(0.7777, n), "explainer": "integrated_gradients", "params": {}, "seconds": 1.0},
        "corruption_accuracy": {"n_eval": n, "clean": clean, "mean": 0.8642, "accuracy": {}, "params": {},
                                "resolution": "28px", "seconds": 1.0},
        "checks": {}, "warnings": [{"code": w, "message": w, "details": {}} for w in warnings],
        "train_seconds": c.train_seconds, "hardware": c.hardware,
        "evaluation": {"hardware": "CPU", "torch_threads": threads, "torch_version": "2.13", "seconds": 5.0,
                       "commit": "abc", "created": "2026-01-01T00:00:00+00:00", "data_source": "x",
                       "settings": {}, "quick": quick},
    }  # fmt: skip
    return Report.model_validate(data)


@pytest.fixture
def zoo(tmp_path: Path) -> SimpleNamespace:
    models = tmp_path / "models"
    cards = {
        "mnist-a": card("mnist-a", method="pgd_at"),
        "mnist-b": card("mnist-b", method="natural", eps=0.0),
        "cifar10-c": card("cifar10-c", dataset="cifar10", eps=8 / 255),
    }
    for model_id, c in cards.items():
        net_params = c.net_params | {"num_classes": 10}
        save_model(models / model_id, build_model("small_cnn", c.mean, c.std, **net_params), c)
    report(cards["mnist-a"], 0.9812, 0.9123).write(models / "mnist-a" / "report.json")
    report(cards["mnist-b"], 0.9921, 0.0542, quick=True, warnings=("zero_gradient",)).write(
        models / "mnist-b" / "report.json"
    )
    (models / "broken").mkdir()
    (models / "broken" / "card.json").write_text("{not json")
    (models / "notes").mkdir()  # a folder without a card is not a stored model
    return SimpleNamespace(models=models, cards=cards)
