"""scripts/certified_tables.py: the summary table and the paired difference from the reference model's certificates."""

from __future__ import annotations

import json
from pathlib import Path

from tests.scripts_loader import load_script


def model(model_id: str, important: list[int], k: int = 10) -> dict:
    stat = {"mean": sum(important) / len(important) / k, "se2": 0.01, "n": len(important)}
    keys = ("certified_share", "important_certified_of_k", "abstained_share", "accuracy", "smoothed_accuracy",
            "certified_accuracy")  # fmt: skip
    return {"model": model_id, "seconds": 12.3, **{key: stat for key in keys},
            "per_image": [{"certified_important": i, "k": k} for i in important]}  # fmt: skip


def test_the_table_and_the_paired_difference(tmp_path: Path) -> None:
    # the saliency model certifies 2 more of 10 top pixels on every image: +20 points, no spread, so 2 SE = 0
    data = {"dataset": "cifar10", "method": "saliency", "start": 0, "images": 3, "params": {"sigma": 0.12, "n": 200},
            "models": [model("cifar10-resnet20-pgd_at-s0", [1, 2, 3]), model("cifar10-resnet20-egat_saliency-s0",
                                                                             [3, 4, 5])]}  # fmt: skip
    path = tmp_path / "cert.json"
    path.write_text(json.dumps(data))
    text = load_script("certified_tables").table(path, "pgd_at")
    assert "| `pgd_at-s0` | 20.0 ± 1.0 |" in text and "| 12 |" in text
    assert text.endswith("paired against `pgd_at-s0` (2 SE): `egat_saliency-s0` +20.0 ± 0.0")
    assert "paired" not in load_script("certified_tables").table(path, "trades")  # no reference model: the table alone
