"""Save and load stored models: safetensors weights + card.json; nothing is ever unpickled."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from safetensors.torch import load_file, save_file
from torch import nn

from explainlab.errors import CheckpointError
from explainlab.nets import NETS, Normalized, build_model
from explainlab.zoo.card import ModelCard

WEIGHTS, CARD, REPORT = "weights.safetensors", "card.json", "report.json"
MAP_CURVE = "map_curve.json"  # explainlab map-curve: the saliency map's top-k intersection against eps
CERTIFIED_MAP = "certified_map.json"  # explainlab certify --write: certified maps over test images (summary)
SANITY_CHECK = "sanity_check.json"  # explainlab sanity-check --write: the weight randomization test (summary)


def run_settings(run: dict, ignore: tuple[str, ...] = ("seed", "batch")) -> tuple:
    """What makes two stored runs (certified maps, sanity checks) the same measurement: method, its params, the
    images and the run's params but ``ignore`` (the seed and the batch size do not change what is measured)."""
    params = {k: v for k, v in (run.get("params") or {}).items() if k not in ignore}
    return (run.get("method"), json.dumps(run.get("method_params"), sort_keys=True), run.get("start"),
            run.get("images"), json.dumps(params, sort_keys=True))  # fmt: skip


def add_run(path: Path, record: dict, same: Callable[[dict], tuple], order: Callable[[dict], Any]) -> Path:
    """Add one run to the ``{"runs": [...]}`` file at ``path``: a run of the same measurement (equal ``same``)
    replaces the old one, and the runs stay sorted by ``order``. An unreadable file starts over."""
    runs = []
    if path.is_file():
        try:
            runs = json.loads(path.read_text()).get("runs", [])
        except (OSError, ValueError, AttributeError):
            runs = []
    runs = [r for r in runs if same(r) != same(record)] + [record]
    runs.sort(key=order)
    path.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    return path


def write_certified(directory: str | Path, record: dict) -> Path:
    """Add one certified-map run to ``<directory>/certified_map.json`` (a list of runs in σ order); a run of the same
    measurement (``run_settings``) replaces the old one."""
    order = lambda r: (r["params"]["sigma"], r.get("method", ""))  # noqa: E731
    return add_run(Path(directory) / CERTIFIED_MAP, record, run_settings, order)


def write_sanity_check(directory: str | Path, record: dict) -> Path:
    """Add one sanity-check run to ``<directory>/sanity_check.json`` (runs in method order, cascading first)."""
    order = lambda r: (r.get("method", ""), r["params"].get("order", ""))  # noqa: E731
    return add_run(Path(directory) / SANITY_CHECK, record, run_settings, order)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(directory: str | Path, model: nn.Module, card: ModelCard) -> ModelCard:
    """Write weights.safetensors and card.json (with the weights' sha256) into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS), metadata={"id": card.id})
    card = card.model_copy(update={"weights_sha256": _sha256(out / WEIGHTS)})
    (out / CARD).write_text(card.model_dump_json(indent=2) + "\n")
    return card


def read_card(directory: str | Path) -> ModelCard:
    path = Path(directory) / CARD
    if not path.is_file():
        raise CheckpointError(f"{directory}: no {CARD} (a checkpoint without a card is refused)")
    try:
        return ModelCard.model_validate_json(path.read_text())
    except (ValidationError, ValueError) as error:
        raise CheckpointError(f"{path}: invalid card: {error}") from None


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> tuple[Normalized, ModelCard]:
    """Rebuild the model from its card and load the weights, checking hash, names and shapes."""
    directory = Path(directory)
    card = read_card(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{directory}: no {WEIGHTS}")
    if card.weights_sha256 and _sha256(weights) != card.weights_sha256:
        raise CheckpointError(f"{weights}: sha256 does not match the card")
    if card.net not in NETS:
        raise CheckpointError(f"{directory}: unknown net {card.net!r}; known: {NETS.names()}")
    try:
        model = build_model(card.net, card.mean, card.std, **card.net_params)
        state = load_file(str(weights), device=str(device))
        missing, unexpected = model.load_state_dict(state, strict=False)
    except (RuntimeError, ValueError, ValidationError) as error:
        raise CheckpointError(f"{directory}: weights do not fit the card's net: {error}") from None
    if missing or unexpected:
        raise CheckpointError(f"{directory}: missing tensors {missing}, unexpected {unexpected}")
    return model.to(device).eval(), card


def read_report(directory: str | Path) -> dict | None:
    path = Path(directory) / REPORT
    return json.loads(path.read_text()) if path.is_file() else None
