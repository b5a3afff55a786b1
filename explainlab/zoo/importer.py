"""Bring your own model (design.md §1, "users can also bring their own trained models"): weights trained elsewhere,
as a safetensors file, become a stored model with a card, so the lab, ``explainlab evaluate`` and the leaderboard
treat them like the zoo's own.

Only safetensors is read (never a pickle: a ``.pt`` or ``.pth`` file is refused with how to convert it). The file may
hold the bare net's state dict (``conv1.weight``, ...) or the library's ``Normalized`` one (``net.conv1.weight`` plus
``mean`` and ``std``); ``prefix`` strips a wrapper's prefix such as DDP's ``module.``. Every tensor name and shape is
checked against the named architecture, and a short clean-accuracy check on the test set (when it is found) catches
the commonest mistake, a wrong input normalization (peers.md §5 item 1), before the model reaches the lab.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from explainlab.data.specs import DATASETS, canonical_name
from explainlab.errors import CheckpointError, DataIntegrityError, DataNotFoundError, IncompatibleError
from explainlab.import_settings import ImportSettings
from explainlab.nets import NETS, Normalized, build_model
from explainlab.provenance import code_commit
from explainlab.zoo.card import ModelCard, ThreatModel
from explainlab.zoo.store import save_model

log = logging.getLogger(__name__)

MAX_WEIGHTS_BYTES = 2**30  # 1 GiB: far above every net the lab builds
LOW_ACCURACY = 0.5  # a check below this is reported as a likely normalization or class-order mistake


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(
            f"{path}: only .safetensors files are read (a pickle is never loaded). Convert a trusted checkpoint with "
            "safetensors.torch.save_file(torch.load(path, weights_only=True), 'weights.safetensors')"
        )
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{path}: over {MAX_WEIGHTS_BYTES >> 20} MiB")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


def _normalized_state(
    state: dict[str, torch.Tensor], s: ImportSettings
) -> tuple[dict[str, torch.Tensor], list[float], list[float]]:
    """The state dict as ``Normalized`` names it, and the mean and std to use."""
    if s.prefix:
        state = {k.removeprefix(s.prefix): v for k, v in state.items()}
    wrapped = any(k.startswith("net.") for k in state)
    net_state = {k.removeprefix("net."): v for k, v in state.items() if not wrapped or k.startswith("net.")}
    channels = DATASETS[canonical_name(s.dataset)].input_shape[0]

    def stats(given: tuple[float, ...] | None, key: str, default: float) -> list[float]:
        if given is not None:
            values = list(given)
        elif wrapped and key in state:
            values = [round(float(v), 7) for v in state[key].flatten()]  # float32 buffers: 0.1307000070810318
        else:
            values = [default] * channels
        if len(values) != channels:
            raise IncompatibleError(f"{key}: {len(values)} values for {channels} input channel(s)")
        return values

    return net_state, stats(s.mean, "mean", 0.0), stats(s.std, "std", 1.0)


def _check_accuracy(model: Normalized, dataset: str, n: int, data_dir: str | Path | None) -> dict[str, Any]:
    """Clean accuracy on the first ``n`` test images, or why it was not measured."""
    from explainlab.data import load_dataset

    if n == 0:
        return {"measured": False, "why": "check_images = 0"}
    try:
        test = load_dataset(dataset, "test", data_dir)
    except (DataNotFoundError, DataIntegrityError) as error:
        return {"measured": False, "why": str(error).splitlines()[0]}
    part = test.subset(slice(0, n))
    pairs = zip(part.float_images().split(250), part.labels.split(250), strict=True)
    with torch.no_grad():
        correct = torch.cat([model(x).argmax(1) == y for x, y in pairs])
    return {"measured": True, "n": len(part), "clean_accuracy": float(correct.float().mean()), "source": test.source}


def import_model(
    weights: str | Path, models_dir: str | Path, settings: ImportSettings, data_dir: str | Path | None = None
) -> tuple[ModelCard, dict[str, Any]]:
    """Check ``weights`` against the architecture, measure a clean-accuracy check, and store the model with its card
    under ``models_dir/<id>``. Returns the card and the check; a low check is a warning, not a refusal."""
    s, path = settings, Path(weights)
    if s.net not in NETS:
        raise IncompatibleError(f"net: unknown {s.net!r}; known: {', '.join(NETS.names())}")
    dataset = canonical_name(s.dataset)
    if dataset not in DATASETS:
        raise IncompatibleError(f"dataset: {s.dataset!r} is not one of {', '.join(DATASETS)}")
    target = Path(models_dir) / s.id
    if target.exists():
        raise CheckpointError(f"{target}: exists already; pick another id or remove the folder")
    spec = DATASETS[dataset]
    net_state, mean, std = _normalized_state(_read_weights(path), s)
    model = build_model(s.net, mean, std)
    try:
        missing, unexpected = model.net.load_state_dict(net_state, strict=False)
    except RuntimeError as error:  # a shape mismatch names the tensor
        raise IncompatibleError(f"weights do not fit {s.net}: {error}") from None
    if missing or unexpected:
        hint = " (try prefix, e.g. 'module.')" if unexpected and all("." in k for k in unexpected) else ""
        raise IncompatibleError(f"weights do not fit {s.net}: missing {missing[:8]}, unexpected {unexpected[:8]}{hint}")
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, *spec.input_shape))
    if out.shape != (1, len(spec.classes)):
        raise IncompatibleError(f"{s.net} gives {tuple(out.shape[1:])} outputs; {spec.title} has {len(spec.classes)}")
    check = _check_accuracy(model, dataset, s.check_images, data_dir)
    if check.get("measured") and check["clean_accuracy"] < LOW_ACCURACY:
        check["warning"] = (
            f"clean accuracy {check['clean_accuracy']:.1%} on {check['n']} test images: check mean/std (the input "
            "normalization the net was trained with) and the class order"
        )
        log.warning(check["warning"])
    label = "imported" if s.method == "imported" else f"{s.method}, imported"
    card = ModelCard(
        id=s.id, title=s.title or f"{spec.title} {s.net} ({label})", dataset=dataset,
        dataset_provenance=s.provenance or "imported weights: training data not stated", net=s.net,
        classes=list(spec.classes), input_size=list(spec.input_shape), mean=mean, std=std, method=s.method,
        method_title=label, method_citation=s.citation,
        threat_model=ThreatModel(norm=s.norm, eps=s.eps),
        train_config={"imported_from": path.name, "source_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                      "import": s.model_dump(mode="json"), "check": check},
        torch_version=torch.__version__, commit=code_commit(), created=datetime.now(UTC).isoformat(timespec="seconds"),
        deviations=["imported: trained outside explainlab; its training settings are not known to the lab"],
    )  # fmt: skip
    return save_model(target, model, card), check
