"""fit(config): the only training loop -- data, optimizer, schedule, precision, progress, checkpoint/resume,
CUDA when present, DDP under torchrun; the method supplies the loss.

Determinism and resume: the data order of epoch e is ``randperm`` seeded by (seed, e), the augmentation of step s is
seeded by (seed, s), and the checkpoint holds the model, the optimizer state and every random state the methods
draw from (torch's global CPU/CUDA generators, each ``torch.Generator`` attribute of the method, Python's and
NumPy's), per rank. A run interrupted after any checkpoint and restarted with the same config therefore ends with
the same weights, bit for bit, as an uninterrupted run (same machine, same world size).
"""

from __future__ import annotations

import json
import logging
import math
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from explainlab.data import get_spec, load_dataset
from explainlab.errors import ExplainlabError, IncompatibleError
from explainlab.nets import build_model
from explainlab.provenance import code_commit, hardware, resolve_device
from explainlab.training import distributed
from explainlab.training.base import AdversarialParams
from explainlab.training.config import TrainConfig, filled_with_defaults
from explainlab.training.weight_average import WeightAverage
from explainlab.zoo import ModelCard, ThreatModel, load_model, save_model

log = logging.getLogger(__name__)
CHECKPOINT, STATE, HISTORY, SUMMARY = "checkpoint.safetensors", "checkpoint.json", "history.jsonl", "summary.json"
# Config fields that may change between an interrupted run and its resumption: where the run and the data live, how
# often it checkpoints, the card's words.
RESUME_IGNORES = frozenset({"out_dir", "data_dir", "checkpoint_every", "deviations", "provenance", "title"})


class TrainingDiverged(ExplainlabError, FloatingPointError):
    """The loss became NaN or infinite (lower the learning rate, or check the method's parameters)."""


def net_params_for(config: TrainConfig) -> dict[str, Any]:
    """The dataset fixes channels and classes (and SmallCNN's input size); the config may set the rest."""
    return config.resolved_net_params()


def lr_factor(config: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based) is ``lr * lr_factor``.

    Warm-up: ``(step + 1) / W`` for the first W = warmup_epochs * steps_per_epoch steps. After it, cosine decays
    from 1 towards 0 over the remaining steps; multistep multiplies by 0.1 at each milestone (a fraction of all
    ``total`` steps); constant stays 1.
    """
    warm = config.warmup_epochs * steps_per_epoch
    if warm and step < warm:
        return (step + 1) / warm
    if config.schedule == "cosine":
        progress = (step - warm) / max(total - warm, 1)
        return 0.5 * (1 + math.cos(math.pi * progress))
    if config.schedule == "multistep":
        return 0.1 ** sum(step / max(total, 1) >= m for m in config.milestones)
    return 1.0


def crop_flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """4-pixel reflect-pad random crop and horizontal flip, per image (the CIFAR-10 convention)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # (N, H)
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)  # (N, W)
    idx = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (N, C, H, W)
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The shuffled order of the ``n`` training images in ``epoch`` (0-based); the same on every rank."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def global_batch(order: Tensor, in_epoch: int, batch_size: int) -> Tensor:
    """Indices of the ``in_epoch``-th batch of an epoch; rank r of W trains on the r-th of W equal chunks."""
    return order[in_epoch * batch_size : (in_epoch + 1) * batch_size]


def augment_generator(seed: int, step: int) -> torch.Generator:
    """The generator of step ``step``'s augmentation (drawn for the whole global batch, then split over ranks)."""
    return torch.Generator().manual_seed(seed * 7919 + step)


class Progress:
    """A progress bar with the loss parts: one line rewritten in place on a terminal, else a log line every
    ``every`` steps (and at the last)."""

    def __init__(self, total: int, epochs: int, *, start_step: int = 0, every: int = 50, enabled: bool = True,
                 stream: TextIO | None = None) -> None:  # fmt: skip
        self.total, self.epochs, self.start_step, self.every, self.enabled = total, epochs, start_step, every, enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.perf_counter()

    def line(self, step: int, epoch: int, parts: dict[str, float]) -> str:
        done = step / max(self.total, 1)
        bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
        rate = (step - self.start_step) / max(time.perf_counter() - self.start, 1e-9)
        eta = int((self.total - step) / rate) if rate > 0 else 0
        text = " ".join(f"{k} {v:.4f}" for k, v in parts.items())
        eta_text = f"{eta // 3600}:{eta % 3600 // 60:02d}:{eta % 60:02d}"
        return f"epoch {epoch}/{self.epochs} [{bar}] {step}/{self.total} {text} | {rate:.2f} it/s, eta {eta_text}"

    def update(self, step: int, epoch: int, parts: dict[str, float], *, end_of_epoch: bool = False) -> None:
        if not self.enabled or not (self.tty or step % self.every == 0 or step == self.total):
            return
        line = self.line(step, epoch, parts)
        if self.tty:  # the bar of a finished epoch stays, above the epoch's log lines
            self.stream.write("\r" + line[:200] + ("\n" if end_of_epoch or step == self.total else ""))
            self.stream.flush()
        else:
            log.info(line)


# ---------------------------------------------------------------- random state (saved per rank in the checkpoint)


def _method_generators(method: Any) -> dict[str, torch.Generator]:
    return {name: value for name, value in vars(method).items() if isinstance(value, torch.Generator)}


def capture_rng(method: Any, device: torch.device) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """This process's random state: tensors (torch CPU/CUDA, the method's generators) and JSON (Python, NumPy)."""
    tensors = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        tensors["cuda"] = torch.cuda.get_rng_state(device)
    for name, gen in _method_generators(method).items():
        tensors[f"method.{name}"] = gen.get_state()
    py_version, py_state, py_gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    extra = {"python": [py_version, list(py_state), py_gauss],
             "numpy": [np_kind, np_keys.tolist(), np_pos, np_has_gauss, np_gauss]}  # fmt: skip
    return tensors, extra


def restore_rng(method: Any, device: torch.device, tensors: dict[str, Tensor], extra: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    if device.type == "cuda" and "cuda" in tensors:
        torch.cuda.set_rng_state(tensors["cuda"], device)
    for name, gen in _method_generators(method).items():
        if f"method.{name}" in tensors:
            gen.set_state(tensors[f"method.{name}"])
    if "python" in extra:
        version, state, gauss = extra["python"]
        random.setstate((version, tuple(state), gauss))
    if "numpy" in extra:
        kind, keys, pos, has_gauss, gauss = extra["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))


# ---------------------------------------------------------------- checkpoint


def _save_checkpoint(
    run: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    meta: dict[str, Any],
    rng: list[tuple[dict[str, Tensor], dict[str, Any]]] | None = None,
    averaged: WeightAverage | None = None,
) -> None:
    """Model, optimizer, the weight average (if kept) and per-rank RNG tensors to safetensors, the rest (step, param
    groups, Python/NumPy RNG) to JSON; both written to temporary files and renamed, the JSON last (it names the step
    both must share)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for idx, state in opt["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"opt.{idx}.{key}"] = value.detach().cpu().contiguous()
            elif value is not None:
                scalars[f"{idx}.{key}"] = value
    if averaged is not None:
        tensors.update(averaged.tensors())
    rng_extra: dict[str, Any] = {}
    for r, (rng_tensors, extra) in enumerate(rng or []):
        tensors.update({f"rng.{r}.{k}": v.cpu().contiguous() for k, v in rng_tensors.items()})
        rng_extra[str(r)] = extra
    state_json = {**meta, "param_groups": opt["param_groups"], "opt_scalars": scalars, "rng": rng_extra}
    save_file(tensors, str(run / (CHECKPOINT + ".tmp")), metadata={"step": str(meta["step"])})
    (run / (STATE + ".tmp")).write_text(json.dumps(state_json))
    (run / (CHECKPOINT + ".tmp")).replace(run / CHECKPOINT)
    (run / (STATE + ".tmp")).replace(run / STATE)


def _with_prefix(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The checkpoint tensors stored under ``prefix``, keyed without it."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def checkpoint_weights(run: Path) -> dict[str, Tensor]:
    """The trained model's state dict in a run's checkpoint: the live weights when the run keeps a weight average."""
    return _with_prefix(load_file(str(run / CHECKPOINT)), "model.")


def _checkpoint_step(run: Path) -> int | None:
    """The step recorded inside the tensor file (None for checkpoints written before it was recorded)."""
    with safe_open(str(run / CHECKPOINT), "pt") as f:
        step = (f.metadata() or {}).get("step")
    return int(step) if step is not None else None


def _load_checkpoint(
    run: Path, model: nn.Module, optimizer: torch.optim.Optimizer, rank: int = 0, averaged: WeightAverage | None = None
) -> tuple[dict[str, Any], tuple[dict[str, Tensor], dict[str, Any]] | None]:
    """Load model, optimizer and the weight average (if kept); returns the JSON meta and this rank's saved random
    state (None if absent)."""
    meta = json.loads((run / STATE).read_text())
    tensors = load_file(str(run / CHECKPOINT))
    model.load_state_dict(_with_prefix(tensors, "model."))
    if averaged is not None:
        averaged.load_tensors(tensors)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    for key, value in meta.pop("opt_scalars", {}).items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    rng_tensors = _with_prefix(tensors, f"rng.{rank}.")
    rng_extra = meta.pop("rng", {}).get(str(rank))
    return meta, ((rng_tensors, rng_extra or {}) if rng_tensors else None)


def segment(from_step: int | None, to_step: int, elapsed: float, before: float, hardware: str) -> dict[str, Any]:
    """One stretch of a run on one machine: steps from_step..to_step, its own seconds, the machine in words."""
    return {"steps": [from_step or 0, to_step], "seconds": round(elapsed - before, 1), "hardware": hardware}


def earlier_segments(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The stretches a checkpoint has behind it; one of unrecorded hardware for checkpoints older than the record."""
    if "segments" in meta:
        return list(meta["segments"])
    step = int(meta["step"])
    return [segment(0, step, float(meta["seconds"]), 0.0, "hardware not recorded")] if step else []


def describe_segments(segments: list[dict[str, Any]]) -> str:
    """The card's hardware: the one machine, or each stretch of a run resumed elsewhere ("steps 0-1300: CPU ...;
    steps 1300-3744: CPU ..."), since train_seconds then sums machines of different speeds."""
    machines = {s["hardware"] for s in segments}
    if len(machines) <= 1:
        return next(iter(machines), "")
    return "; ".join(f"steps {s['steps'][0]}-{s['steps'][1]}: {s['hardware']}" for s in segments)


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in config.model_dump(mode="json").items() if k not in RESUME_IGNORES}


def resumable(run: Path, config: TrainConfig) -> bool:
    """Whether ``run`` holds a complete checkpoint of this config (fields in RESUME_IGNORES may differ)."""
    if not ((run / STATE).is_file() and (run / CHECKPOINT).is_file()):
        return False
    try:
        meta = json.loads((run / STATE).read_text())
        saved = json.loads(meta["config"])
        tensor_step = _checkpoint_step(run)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if tensor_step is not None and tensor_step != meta.get("step"):
        return False
    saved = {k: v for k, v in filled_with_defaults(saved).items() if k not in RESUME_IGNORES}
    return saved == _config_dict(config)


def _open_history(run: Path, resume_step: int | None) -> TextIO:
    """history.jsonl: truncated on a fresh start; on resume only the records up to the checkpoint are kept."""
    path = run / HISTORY
    kept: list[str] = []
    if resume_step is not None and path.is_file():
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= resume_step:
                    kept.append(line + "\n")
            except (ValueError, KeyError, TypeError):
                continue
    path.write_text("".join(kept))
    return path.open("a")


# ---------------------------------------------------------------- the loop


def fit(config: TrainConfig, *, models_dir: str | Path | None = None) -> dict[str, Any]:
    """Train per ``config``; resumes from run_dir/checkpoint when the config matches. Returns the summary.

    With ``models_dir`` the final model is stored as ``models_dir/<id>/{weights.safetensors, card.json}``.
    Under torchrun (WORLD_SIZE > 1) each process trains on its share of every batch through DDP.
    """
    from explainlab.training import METHODS

    device = resolve_device(config.device)
    distributed.setup(device.type)
    try:
        return _fit(config, device, models_dir, METHODS)
    finally:
        distributed.teardown()


def _fit(config: TrainConfig, device: torch.device, models_dir: str | Path | None, methods: Any) -> dict[str, Any]:
    rank, world = distributed.rank(), distributed.world_size()
    lead = rank == 0
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed)
    run = config.run_dir()
    run.mkdir(parents=True, exist_ok=True)

    spec = get_spec(config.dataset)
    train = load_dataset(config.dataset, "train", data_dir=config.data_dir)
    test = load_dataset(config.dataset, "test", data_dir=config.data_dir)
    x_train, y_train = train.float_images(), train.labels
    if config.train_limit:
        x_train, y_train = x_train[: config.train_limit], y_train[: config.train_limit]
    x_val, y_val = test.float_images()[: config.val_size].to(device), test.labels[: config.val_size].to(device)
    if config.batch_size % world:
        raise IncompatibleError(f"batch_size {config.batch_size} does not split over {world} processes")
    if len(y_train) < config.batch_size:
        raise IncompatibleError(f"batch_size {config.batch_size} exceeds the {len(y_train)} training images")
    per_rank = config.batch_size // world
    steps_per_epoch = len(y_train) // config.batch_size  # the last partial batch of an epoch is dropped
    total = steps_per_epoch * config.epochs

    net_params = net_params_for(config)
    model: nn.Module = build_model(config.net, spec.mean, spec.std, **net_params).to(device)
    if config.init_from:
        base, _ = load_model(config.init_from, device)
        model.load_state_dict(base.state_dict())
    method_cls = methods[config.method]
    method = method_cls(method_cls.Params(**config.method_params))
    method.bf16_attacks = config.bf16
    # before any checkpoint is loaded: state taken from the model here (ATEX's teacher) is the initial model's
    method.prepare(model, seed=config.seed + 1_000_003 * rank)  # distinct attack noise per rank
    # the L-inf budget of adversarial methods (other methods' ``eps`` mean something else, e.g. ATEX's sigma)
    target_eps = method.params.eps if isinstance(method.params, AdversarialParams) else None

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer: torch.optim.Optimizer
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    else:
        optimizer = torch.optim.Adam(groups, lr=config.lr)
    averaged = WeightAverage(model, config.ema_decay) if config.ema_decay else None

    step, seconds, resumed_from, segments = 0, 0.0, None, []
    if resumable(run, config):
        meta, saved_rng = _load_checkpoint(run, model, optimizer, rank, averaged)
        step, seconds, resumed_from = int(meta["step"]), float(meta["seconds"]), int(meta["step"])
        segments = earlier_segments(meta)
        if saved_rng is not None and meta.get("world_size", world) == world:
            restore_rng(method, device, *saved_rng)
        elif lead:
            log.warning("%s: no random state for %d processes in the checkpoint; resuming with fresh seeds", run, world)
        if lead:
            log.info("resumed %s at step %d/%d", run, step, total)
    elif (run / STATE).is_file() and lead:
        log.warning("%s holds a checkpoint of another config; starting over", run)
    train_model = distributed.wrap(model, device, **getattr(method, "ddp_options", {}))

    progress = Progress(total, config.epochs, start_step=step, enabled=lead)
    history = _open_history(run, resumed_from) if lead else None
    sums: dict[str, float] = {}
    count = 0
    start = time.perf_counter() - seconds
    here, recorded = hardware(device, world), segments
    order, order_epoch = None, -1
    model.train()
    try:
        while step < total:
            epoch, in_epoch = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                order, order_epoch = epoch_order(len(y_train), config.seed, epoch), epoch
            idx = global_batch(order, in_epoch, config.batch_size)
            x, y = x_train[idx], y_train[idx]
            if config.augment == "crop_flip":  # on the global batch, so that the result is independent of world
                x = crop_flip(x, augment_generator(config.seed, step))
            mine = slice(rank * per_rank, (rank + 1) * per_rank)
            x, y = x[mine].to(device, non_blocking=True), y[mine].to(device, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(config, step, total, steps_per_epoch)
            if target_eps is not None and config.eps_warmup_epochs > 0:
                ramp = min(1.0, (step + 1) / (config.eps_warmup_epochs * steps_per_epoch))
                method.params = method.params.model_copy(update={"eps": target_eps * ramp})
            parts = method.loss(train_model, x, y)
            if not torch.isfinite(parts.total):
                raise TrainingDiverged(f"non-finite loss at step {step}: {parts.parts}")
            optimizer.zero_grad(set_to_none=True)
            parts.backward()
            optimizer.step()
            if averaged is not None:
                averaged.update(model, step)
            step += 1
            for key, value in parts.parts.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            end_of_epoch = step % steps_per_epoch == 0
            progress.update(step, epoch + 1, parts.parts, end_of_epoch=end_of_epoch)
            if end_of_epoch or step % config.checkpoint_every == 0 or step == total:
                means = distributed.mean_over_ranks({k: v / count for k, v in sums.items()})
                sums, count = {}, 0
                record: dict[str, Any] = {"step": step, "epoch": step / steps_per_epoch, **means,
                                          "lr": optimizer.param_groups[0]["lr"]}  # fmt: skip
                if end_of_epoch and len(y_val):
                    record["val_clean_accuracy"] = _accuracy(shipped(model, averaged), x_val, y_val)
                    if averaged is not None:  # the weights being trained, beside their average (the shipped model)
                        record["val_clean_accuracy_live"] = _accuracy(model, x_val, y_val)
                    model.train()
                    if lead:
                        log.info("epoch %d: val clean accuracy %.4f", step // steps_per_epoch,
                                 record["val_clean_accuracy"])  # fmt: skip
                rng = distributed.all_gather_objects(capture_rng(method, device))
                elapsed = time.perf_counter() - start
                recorded = [*segments, segment(resumed_from, step, elapsed, seconds, here)]
                if history is not None:
                    history.write(json.dumps(record) + "\n")
                    history.flush()
                    meta = {"config": config.model_dump_json(), "step": step, "world_size": world,
                            "seconds": elapsed, "segments": recorded}  # fmt: skip
                    _save_checkpoint(run, model, optimizer, meta, rng, averaged)
    finally:
        if history is not None:
            history.close()
    model.eval()
    model = shipped(model, averaged)
    seconds = time.perf_counter() - start
    segments = recorded  # the last step always checkpoints; a rerun of a finished run adds no stretch
    summary = {"id": config.model_id(), "steps": step, "train_seconds": round(seconds, 1),
               "val_clean_accuracy": _accuracy(model, x_val, y_val) if len(y_val) else None,
               "world_size": world, "batch_per_process": per_rank, "resumed_from": resumed_from,
               "segments": segments}  # fmt: skip
    if lead:
        card = ModelCard(
            id=config.model_id(), title=config.title or f"{spec.title} {config.net} {method.title}",
            dataset=config.dataset,
            dataset_provenance=config.provenance or train.source, net=config.net, net_params=net_params,
            classes=list(train.classes),
            input_size=list(train.shape), mean=list(spec.mean), std=list(spec.std), method=config.method,
            method_title=method.title, method_citation=method.citation,
            method_params=method_cls.Params(**config.method_params).model_dump(),
            threat_model=ThreatModel(eps=float(target_eps) if target_eps is not None else 0.0),
            seed=config.seed, train_config=config.model_dump(), train_seconds=round(seconds, 1),
            hardware=describe_segments(segments) or here, torch_version=torch.__version__, commit=code_commit(),
            created=datetime.now(UTC).isoformat(timespec="seconds"), deviations=list(config.deviations),
        )  # fmt: skip
        save_model(run, model, card)
        if models_dir is not None:
            save_model(Path(models_dir) / card.id, model, card)
        (run / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def shipped(model: nn.Module, averaged: WeightAverage | None) -> nn.Module:
    """The model a run validates and stores: the weight average when the config keeps one, else the model."""
    return averaged.model if averaged is not None else model


@torch.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(y), batch))
    return correct / len(y)
