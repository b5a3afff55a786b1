"""Bring your own model: safetensors only, names and shapes checked, prefixes stripped, normalization from the file or
the flags, an accuracy check, and the stored model loads like any zoo model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from explainlab.cli import main
from explainlab.errors import CheckpointError, IncompatibleError
from explainlab.import_settings import ImportSettings
from explainlab.nets import build_model
from explainlab.zoo.importer import import_model
from explainlab.zoo.store import load_model
from tests.unit.data.conftest import write_mnist_like


@pytest.fixture
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("small_cnn", [0.5], [0.25]).eval()


def _bare(model: torch.nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    return {prefix + k: v.contiguous() for k, v in model.net.state_dict().items()}


def test_a_ddp_state_dict_imports_with_its_prefix_and_loads_like_the_original(net, tmp_path: Path) -> None:
    weights = tmp_path / "w.safetensors"
    save_file(_bare(net, "module."), str(weights))
    settings = ImportSettings(id="mine", net="small_cnn", dataset="mnist", prefix="module.", mean=(0.5,), std=(0.25,),
                              eps="8/255", method="pgd_at", check_images=0)  # fmt: skip
    card, check = import_model(weights, tmp_path / "models", settings)
    assert check == {"measured": False, "why": "check_images = 0"}
    model, loaded = load_model(tmp_path / "models" / "mine")
    assert loaded == card and card.threat_model.eps == pytest.approx(8 / 255)
    assert card.method_title == "pgd_at, imported"
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(model(x), net(x))  # the same function: weights and normalization


def test_a_normalized_state_dict_brings_its_mean_and_std(net, tmp_path: Path) -> None:
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    card, _ = import_model(weights, tmp_path, ImportSettings(id="m", net="small_cnn", dataset="mnist", check_images=0))
    assert card.mean == [0.5] and card.std == [0.25] and card.input_size == [1, 28, 28]


def test_the_accuracy_check_runs_on_the_test_images(net, tmp_path: Path) -> None:
    write_mnist_like(tmp_path / "data" / "mnist", n_train=10, n_test=30)
    weights = tmp_path / "w.safetensors"
    save_file(_bare(net), str(weights))
    settings = ImportSettings(id="m", net="small_cnn", dataset="mnist", check_images=20)
    card, check = import_model(weights, tmp_path / "models", settings, data_dir=tmp_path / "data")
    assert check["measured"] and check["n"] == 20 and 0 <= check["clean_accuracy"] <= 1
    assert "warning" in check if check["clean_accuracy"] < 0.5 else "warning" not in check  # an untrained net: ~10 %
    assert card.train_config["check"] == check and card.mean == [0.0] and card.std == [1.0]  # neither file nor flag


@pytest.mark.parametrize(
    ("state", "settings", "error", "text"),
    [
        ("bare", {"net": "resnet20", "dataset": "cifar10"}, IncompatibleError, "weights do not fit resnet20"),
        ("ddp", {}, IncompatibleError, "try prefix"),
        ("bare", {"mean": (0.1, 0.2)}, IncompatibleError, "2 values for 1 input channel"),
        ("bare", {"net": "nope"}, IncompatibleError, "unknown 'nope'"),
        ("bare", {"dataset": "imagenet"}, Exception, "imagenet"),
    ],
)
def test_weights_that_do_not_fit_are_refused(net, tmp_path: Path, state, settings, error, text) -> None:
    weights = tmp_path / "w.safetensors"
    save_file(_bare(net, "module." if state == "ddp" else ""), str(weights))
    base = {"id": "m", "net": "small_cnn", "dataset": "mnist", "check_images": 0}
    with pytest.raises(error, match=text):
        import_model(weights, tmp_path / "models", ImportSettings(**{**base, **settings}))
    assert not (tmp_path / "models" / "m").exists()  # nothing half-written


def test_pickles_garbage_and_taken_ids_are_refused(net, tmp_path: Path) -> None:
    settings = ImportSettings(id="m", net="small_cnn", dataset="mnist", check_images=0)
    pickle = tmp_path / "w.pt"
    torch.save(net.state_dict(), pickle)
    with pytest.raises(CheckpointError, match="only .safetensors files are read"):
        import_model(pickle, tmp_path, settings)
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        import_model(garbage, tmp_path, settings)
    good = tmp_path / "w.safetensors"
    save_file(_bare(net), str(good))
    import_model(good, tmp_path / "models", settings)
    with pytest.raises(CheckpointError, match="exists already"):
        import_model(good, tmp_path / "models", settings)


def test_the_cli_stores_the_model_and_says_what_next(net, tmp_path: Path, capsys) -> None:
    weights = tmp_path / "w.safetensors"
    save_file(_bare(net), str(weights))
    argv = ["zoo", "import", str(weights), "--id", "mine", "--net", "small_cnn", "--dataset", "mnist", "--mean", "0.5",
            "--std", "0.25", "--check-images", "0", "--models-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stored mine" in out and "not checked" in out and "explainlab evaluate mine" in out
    assert load_model(tmp_path / "mine")[1].mean == [0.5]
    assert main([*argv[:4], "BAD", *argv[5:]]) == 2 and "pattern" in capsys.readouterr().err
    assert main([*argv[:10], "x", *argv[11:]]) == 2 and "could not convert" in capsys.readouterr().err
