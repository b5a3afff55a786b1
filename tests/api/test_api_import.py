"""A model brought in with ``zoo import`` while the lab runs: listed, explained and shown without a restart."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import torch
from safetensors.torch import save_file

from explainlab.import_settings import ImportSettings
from explainlab.nets import build_model
from explainlab.zoo.importer import import_model

pytestmark = pytest.mark.xdist_group("api")


def test_an_imported_model_joins_the_running_lab(client: httpx.Client, zoo_ids: tuple[Path, list[str]],
                                                 tmp_path: Path) -> None:  # fmt: skip
    root, _ = zoo_ids
    torch.manual_seed(7)
    net = build_model("small_cnn", [0.5], [0.5])
    weights = tmp_path / "theirs.safetensors"
    save_file({f"module.{k}": v.contiguous() for k, v in net.net.state_dict().items()}, str(weights))
    settings = ImportSettings(id="tiny-imported", net="small_cnn", dataset="mnist", prefix="module.", mean=(0.5,),
                              std=(0.5,), check_images=0)  # fmt: skip
    import_model(weights, root, settings)
    try:
        listed = {m["id"] for m in client.get("/models").json()["models"]}
        assert "tiny-imported" in listed
        card = client.get("/models/tiny-imported").json()["card"]
        assert card["train_config"]["imported_from"] == "theirs.safetensors" and card["method"] == "imported"
        page = client.get("/models/tiny-imported", headers={"accept": "text/html"}).text
        assert "from <code>theirs.safetensors</code>" in page and "not checked: check_images = 0" in page
        row = client.post("/explain", json={"gallery": "mnist-3", "models": ["tiny-imported"],
                                            "method": "saliency"}).json()["rows"][0]  # fmt: skip
        assert row["model"] == "tiny-imported" and 0 <= row["view"]["prediction"]["label"] < 10
    finally:
        shutil.rmtree(root / "tiny-imported")
    assert client.get("/models/tiny-imported").status_code == 404  # and gone again
