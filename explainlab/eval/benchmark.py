"""The benchmark behind ``explainlab evaluate``: clean and robust accuracy (PGD, APGD-CE, APGD-DLR, worst case),
attribution robustness under RAR's protocol, Gini sparsity of IG maps, corruption accuracy and gradient-masking
checks, written as ``report.json`` beside the stored model's card.

``evaluate(model_dir, data_dir, settings)`` loads the stored model and the first N test images (deterministic);
``benchmark(model, card, x, y, settings)`` does the measuring for any model in memory. Attacks, maps and metrics come
from the registries' classes; this module only chooses settings, batches, times and records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from explainlab.attacks.apgd import APGD
from explainlab.attacks.base import Attack
from explainlab.attacks.pgd import PGD
from explainlab.data import load_dataset
from explainlab.data.specs import canonical_name
from explainlab.errors import IncompatibleError
from explainlab.eval.attribution_robustness import PRESETS, RARProtocol, attribution_robustness
from explainlab.eval.checks import CheckSettings, run_checks, to_warnings
from explainlab.eval.corruptions import CORRUPTIONS, corrupt, resolution, severity_table
from explainlab.eval.per_example import encode_per_example
from explainlab.eval.report import (
    AttackScore,
    AttributionRobustnessBlock,
    CorruptionBlock,
    EvaluationInfo,
    GiniBlock,
    Report,
    RobustAccuracy,
    Score,
)
from explainlab.explain.integrated_gradients import IntegratedGradients
from explainlab.metrics.functional import gini
from explainlab.params import FloatOrFraction, Params
from explainlab.provenance import code_commit, hardware, resolve_device
from explainlab.zoo.card import ModelCard
from explainlab.zoo.store import REPORT, load_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThreatDefaults:
    """The dataset's evaluation convention (methods.md §3.5): budget and PGD steps / step size."""

    eps: float
    pgd_steps: int
    pgd_step_size: float


DATASET_DEFAULTS: dict[str, ThreatDefaults] = {
    "mnist": ThreatDefaults(0.3, 40, 0.01),
    "fashion_mnist": ThreatDefaults(0.1, 20, 0.01),
    "cifar10": ThreatDefaults(8 / 255, 20, 2 / 255),
}
_PROTOCOL_BOOKKEEPING = {"batch_size", "seed"}  # protocol fields that do not change what is measured


class EvalSettings(Params):
    """What ``evaluate`` runs; every field lands in the report. ``None`` means "the dataset's convention"."""

    n_eval: int = Field(1000, ge=1, le=100_000, description="first N test images for clean/robust/corruptions")
    n_attribution: int = Field(500, ge=0, le=100_000, description="first N test images for RAR (0: skip)")
    n_gini: int | None = Field(None, ge=0, le=100_000, description="images for the Gini of IG maps (None: n_eval)")
    batch_size: int = Field(250, ge=1, le=100_000, description="images per attack batch (memory)")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="auto: CUDA when present")
    eps: FloatOrFraction | None = Field(None, gt=0.0, le=1.0, description="L-inf budget (None: card, else dataset)")
    pgd_steps: int | None = Field(None, ge=1, le=1000, description="PGD steps (None: 40 MNIST, 20 CIFAR-10)")
    pgd_step_size: FloatOrFraction | None = Field(None, gt=0.0, le=1.0, description="None: 0.01 MNIST, 2/255 CIFAR")
    pgd_restarts: int = Field(2, ge=1, le=20, description="PGD random restarts")
    apgd_steps: int = Field(100, ge=1, le=1000, description="APGD-CE and APGD-DLR iterations")
    apgd_restarts: int = Field(1, ge=1, le=20, description="APGD restarts")
    rar: dict[str, Any] = Field(
        default_factory=dict, description="RARProtocol fields overriding the dataset preset (e.g. steps, restarts)"
    )
    gini_ig_steps: int = Field(100, ge=1, le=1024, description="IG path points of the Gini maps (Chalasani: 100)")
    ig_batch_size: int = Field(25, ge=1, le=10_000, description="images per IG batch (memory: x ig path points)")
    corruptions: tuple[str, ...] = Field(tuple(CORRUPTIONS), description="corruptions to run (empty: skip)")
    checks: CheckSettings = Field(default_factory=CheckSettings, description="gradient-masking checks")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of every random start and corruption")
    quick: bool = Field(False, description="a smoke-test setting (numbers are not comparable to full runs)")

    @model_validator(mode="after")
    def _known_names(self) -> Self:
        unknown = set(self.rar) - set(RARProtocol.model_fields)
        if unknown:
            raise ValueError(
                f"unknown RAR protocol fields {sorted(unknown)}; valid: {sorted(RARProtocol.model_fields)}"
            )
        bad = [c for c in self.corruptions if c not in CORRUPTIONS]
        if bad:
            raise ValueError(f"unknown corruptions {bad}; valid: {list(CORRUPTIONS)}")
        return self

    @classmethod
    def quick_settings(cls, **overrides: Any) -> EvalSettings:
        """A smoke test in well under a minute on CPU for MNIST-sized models; recorded as ``quick``."""
        base: dict[str, Any] = {
            "n_eval": 100, "n_attribution": 10, "n_gini": 20, "pgd_steps": 10, "pgd_restarts": 1,
            "apgd_steps": 20, "gini_ig_steps": 20,
            "rar": {"steps": 5, "restarts": 1, "attack_ig_steps": 5, "ig_steps": 20},
            "checks": CheckSettings(n=50, sweep_steps=10, blackbox_n=20, blackbox_queries=100), "quick": True,
        }  # fmt: skip
        return cls(**{**base, **overrides})


def settings_from_cli(
    *, quick: bool = False, n_eval: int | None = None, n_attribution: int | None = None, overrides: list[str] = ()
) -> EvalSettings:
    """Settings from CLI flags: the quick or default base, explicit counts, then ``key=value`` overrides in TOML
    syntax (nested with dots: ``rar.steps=20``, ``checks.blackbox_queries=500``)."""
    from explainlab.training.config import apply_overrides

    base = EvalSettings.quick_settings() if quick else EvalSettings()
    counts = {k: v for k, v in {"n_eval": n_eval, "n_attribution": n_attribution}.items() if v is not None}
    data = apply_overrides({**base.model_dump(), **counts}, list(overrides))
    return EvalSettings(**data)


def threat_defaults(card: ModelCard, settings: EvalSettings) -> ThreatDefaults:
    """Budget and PGD settings: explicit settings, else the card's eps (if > 0) and the dataset's convention."""
    if card.threat_model.norm != "linf":
        raise IncompatibleError(f"evaluate supports the L-inf threat model; the card says {card.threat_model.norm!r}")
    dataset = DATASET_DEFAULTS.get(canonical_name(card.dataset))
    eps = settings.eps or card.threat_model.eps or (dataset.eps if dataset else 0.0)
    if eps <= 0:
        raise IncompatibleError(f"{card.id}: no eps in the card or settings, and no convention for {card.dataset!r}")
    steps = settings.pgd_steps or (dataset.pgd_steps if dataset else 20)
    step_size = settings.pgd_step_size or (dataset.pgd_step_size if dataset else 2.5 * eps / steps)
    return ThreatDefaults(float(eps), steps, float(step_size))


def rar_protocol(
    card: ModelCard, settings: EvalSettings, eps: float, shape: tuple[int, ...]
) -> tuple[str, RARProtocol]:
    """The dataset's RAR preset (a generic one scaled to ``eps`` and the image size otherwise) with the overrides."""
    name = canonical_name(card.dataset)
    if name in PRESETS:
        preset = PRESETS[name]
    else:
        pixels = shape[-1] * shape[-2]
        k = max(1, min(100, pixels // 10))
        preset, name = RARProtocol(eps=eps, step_size=eps / 8, k_attack=k, k_eval=k), "generic"
    return name, RARProtocol(**{**preset.model_dump(), **settings.rar})


def batches(n: int, size: int) -> list[slice]:
    """Slices of ``size`` covering 0..n (the last one shorter)."""
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    """argmax f(x) in batches: (N,)."""
    return torch.cat([model(x[s]).argmax(1) for s in batches(len(x), batch_size)]) if len(x) else x.new_zeros(0)


def _score(values: Tensor) -> Score:
    v = values.double()
    v = v[~v.isnan()]
    n = int(v.numel())
    return Score(value=float(v.mean()) if n else None, n_eval=n, std=float(v.std()) if n > 1 else None)


def _outcomes(correct: Tensor) -> Score:
    """An accuracy with its per-image outcomes (for paired comparisons between models on the same images)."""
    return Score(value=float(correct.float().mean()), n_eval=len(correct),
                 per_example=encode_per_example(correct.int().tolist()))  # fmt: skip


def _scattered(values: Tensor, mask: Tensor) -> Score:
    """The mean over the scored images, with the per-image values placed at their index among all (NaN, encoded
    ``-``, elsewhere)."""
    full = torch.full((len(mask),), float("nan"), dtype=torch.float64)
    full[mask] = values.double()
    return _score(values).model_copy(update={"per_example": encode_per_example(full.tolist())})


def robust_under(attack: Attack, model: nn.Module, x: Tensor, y: Tensor, correct: Tensor, batch_size: int) -> Tensor:
    """Per example: still correct after the attack (clean mistakes count as broken and are not attacked): (N,)."""
    robust = correct.clone()
    idx = correct.nonzero().squeeze(1)
    for s in batches(len(idx), batch_size):
        i = idx[s]
        x_adv = attack.perturb(model, x[i], y[i])
        robust[i] = predict(model, x_adv, batch_size) == y[i]
    return robust


def robust_accuracy(
    model: nn.Module, x: Tensor, y: Tensor, correct: Tensor, threat: ThreatDefaults, settings: EvalSettings
) -> tuple[RobustAccuracy, Tensor]:
    """PGD, APGD-CE and APGD-DLR on the same images; returns the block and the per-example worst case (N,)."""
    attacks: dict[str, Attack] = {
        "pgd": PGD(eps=threat.eps, steps=threat.pgd_steps, step_size=threat.pgd_step_size,
                   restarts=settings.pgd_restarts, random_start=True, seed=settings.seed),
        "apgd_ce": APGD(eps=threat.eps, steps=settings.apgd_steps, restarts=settings.apgd_restarts, loss="ce",
                        seed=settings.seed),
    }  # fmt: skip
    with torch.no_grad():
        n_classes = int(model(x[:1]).shape[1])
    if n_classes >= 3:
        attacks["apgd_dlr"] = APGD(
            eps=threat.eps, steps=settings.apgd_steps, restarts=settings.apgd_restarts, loss="dlr", seed=settings.seed
        )
    worst = correct.clone()
    scores: dict[str, AttackScore | None] = {"apgd_dlr": None}
    for key, attack in attacks.items():
        start = time.perf_counter()
        robust = robust_under(attack, model, x, y, correct, settings.batch_size)
        worst &= robust
        seconds = time.perf_counter() - start
        scores[key] = AttackScore(
            value=float(robust.float().mean()), n_eval=len(x), attack=attack.name,
            params=attack.params.model_dump(), seconds=round(seconds, 2),
        )  # fmt: skip
        log.info("%s: robust accuracy %.4f on %d images (%.1f s)", key, float(robust.float().mean()), len(x), seconds)
    block = RobustAccuracy(
        n_eval=len(x), norm="linf", eps=threat.eps, pgd=scores["pgd"], apgd_ce=scores["apgd_ce"],
        apgd_dlr=scores["apgd_dlr"], worst=_outcomes(worst),
    )  # fmt: skip
    return block, worst


def _estimate_rar_seconds(model: nn.Module, x: Tensor, y: Tensor, p: RARProtocol, n_attacked: int) -> float:
    """Rough a-priori cost: one forward+backward per image and path point, ~3.5 of them per attack path point
    (criterion map + double-backprop direction), plus the clean and final maps."""
    xs = x[:16].detach().requires_grad_(True)
    start = time.perf_counter()
    with torch.enable_grad():
        torch.autograd.grad(model(xs).logsumexp(1).sum(), xs)
    per_image = (time.perf_counter() - start) / len(xs)
    units = p.restarts * (p.steps * p.attack_ig_steps * 3.5 + p.ig_steps) + p.ig_steps
    return n_attacked * units * per_image


def attribution_block(
    model: nn.Module, x: Tensor, y: Tensor, correct: Tensor, preset: str, protocol: RARProtocol
) -> AttributionRobustnessBlock:
    """RAR's protocol on (x, y) in chunks of ``protocol.batch_size`` images, logging progress and an ETA."""
    start = time.perf_counter()
    n_attacked = int(correct.sum())
    estimate = _estimate_rar_seconds(model, x, y, protocol, n_attacked)
    log.info(
        "RAR protocol on %d images (%d correct, attacked): steps=%d restarts=%d attack_ig_steps=%d ig_steps=%d; "
        "rough estimate %.0f s (%.1f min)", len(x), n_attacked, protocol.steps, protocol.restarts,
        protocol.attack_ig_steps, protocol.ig_steps, estimate, estimate / 60,
    )  # fmt: skip
    parts = []
    done = 0
    for s in batches(len(x), protocol.batch_size):
        parts.append(attribution_robustness(model, x[s], y[s], protocol))
        done += s.stop - s.start
        elapsed = time.perf_counter() - start
        log.info(
            "RAR %d/%d images, %.0f s elapsed, ETA %.0f s", done, len(x), elapsed, elapsed / done * (len(x) - done)
        )
    cat = lambda attr: torch.cat([getattr(p, attr) for p in parts]) if parts else torch.empty(0)  # noqa: E731
    attacked = cat("attacked").bool()
    defaults = PRESETS.get(preset, protocol).model_dump()
    used = protocol.model_dump()
    overrides = {k: v for k, v in used.items() if v != defaults.get(k)}
    return AttributionRobustnessBlock(
        n_eval=len(x), n_attacked=int(attacked.sum()),
        topk_intersection=_scattered(cat("topk_intersection"), attacked),
        kendall=_scattered(cat("kendall"), attacked),
        spearman=_score(cat("spearman")), label_preserved=_score(cat("label_preserved").float()),
        preset=preset, protocol=used, overrides=overrides,
        paper_settings=preset in PRESETS and not set(overrides) - _PROTOCOL_BOOKKEEPING,
        seconds=round(time.perf_counter() - start, 2),
    )  # fmt: skip


def gini_block(model: nn.Module, x: Tensor, y: Tensor, steps: int, batch_size: int) -> GiniBlock:
    """Mean Gini of IG maps (zero baseline, right Riemann sum, target = true label) over all input entries, with the
    value per image (two models' Gini then compare paired, on the same images)."""
    start = time.perf_counter()
    explainer = IntegratedGradients(steps=steps, rule="riemann_right", baseline=0.0)
    values = [gini(explainer.explain(model, x[s], y[s])) for s in batches(len(x), batch_size)]
    per_image = torch.cat(values) if values else torch.empty(0)
    score = _score(per_image).model_copy(update={"per_example": encode_per_example(per_image.tolist())})
    log.info("gini of IG maps: %s on %d images", score.value, score.n_eval)
    return GiniBlock(
        **score.model_dump(), explainer=explainer.name, params=explainer.params.model_dump(),
        seconds=round(time.perf_counter() - start, 2),
    )  # fmt: skip


def corruption_block(
    model: nn.Module, x: Tensor, y: Tensor, clean: float, names: tuple[str, ...], batch_size: int, seed: int
) -> CorruptionBlock:
    start = time.perf_counter()
    table = severity_table(x.shape)
    accuracy: dict[str, dict[str, float]] = {}
    for i, name in enumerate(names):
        row = {}
        for severity in (1, 2, 3):
            xc = corrupt(x, name, severity, seed=seed + 10 * i + severity)
            row[str(severity)] = float((predict(model, xc, batch_size) == y).float().mean())
        row["mean"] = sum(row.values()) / 3
        accuracy[name] = row
    means = [row["mean"] for row in accuracy.values()]
    block = CorruptionBlock(
        n_eval=len(x), clean=clean, mean=sum(means) / len(means) if means else None, accuracy=accuracy,
        params={name: list(table[name]) for name in names}, resolution=resolution(x.shape),
        seconds=round(time.perf_counter() - start, 2),
    )  # fmt: skip
    log.info("corruption accuracy: mean %s on %d images", block.mean, len(x))
    return block


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = fn()
    log.info("%s done in %.1f s", label, time.perf_counter() - start)
    return out


def benchmark(
    model: nn.Module,
    card: ModelCard,
    x: Tensor,
    y: Tensor,
    settings: EvalSettings | None = None,
    *,
    data_source: str = "",
    surrogate: nn.Module | None = None,
    emit_warnings: bool = True,
) -> Report:
    """Measure ``model`` (eval mode, logits out) on images x (N, C, H, W) in [0, 1] with labels y.

    Uses the first ``n_eval`` images for clean, robust and corruption accuracy and the checks, the first
    ``n_attribution`` for RAR and the first ``n_gini`` for the Gini index (fewer if x is shorter).
    """
    s = settings or EvalSettings()
    start = time.perf_counter()
    device = resolve_device(s.device)
    model = model.to(device).eval()
    if surrogate is not None:
        surrogate = surrogate.to(device).eval()
    threat = threat_defaults(card, s)
    n = min(s.n_eval, len(x))
    xe, ye = x[:n].to(device), y[:n].to(device)
    correct = predict(model, xe, s.batch_size) == ye
    clean = float(correct.float().mean())
    log.info("%s: clean accuracy %.4f on %d images; eps=%.4g", card.id, clean, n, threat.eps)
    robust, worst = _timed("robust accuracy", lambda: robust_accuracy(model, xe, ye, correct, threat, s))

    attribution = None
    n_attr = min(s.n_attribution, len(x))
    if n_attr:
        preset, protocol = rar_protocol(card, s, threat.eps, tuple(x.shape))
        xa, ya = x[:n_attr].to(device), y[:n_attr].to(device)
        attribution = attribution_block(model, xa, ya, predict(model, xa, s.batch_size) == ya, preset, protocol)

    n_gini = min(s.n_eval if s.n_gini is None else s.n_gini, len(x))
    gini_scores = gini_block(model, x[:n_gini].to(device), y[:n_gini].to(device), s.gini_ig_steps, s.ig_batch_size)
    corruptions = corruption_block(model, xe, ye, clean, s.corruptions, s.batch_size, s.seed) if s.corruptions else None

    checks = {}
    if s.checks.enabled:
        transfer = None
        if surrogate is not None:
            transfer = PGD(eps=threat.eps, steps=threat.pgd_steps, step_size=threat.pgd_step_size, seed=s.seed)
        checks = _timed(
            "checks",
            lambda: run_checks(model, xe, ye, eps=threat.eps, clean_correct=correct, white_box_robust=worst,
                               settings=s.checks, surrogate=surrogate, transfer_attack=transfer),
        )  # fmt: skip
    seconds = time.perf_counter() - start
    return Report(
        id=card.id, title=card.title, dataset=card.dataset, net=card.net, method=card.method,
        threat_model=card.threat_model.model_copy(update={"eps": threat.eps}), n_eval=n,
        clean_accuracy=_outcomes(correct), robust_accuracy=robust, attribution_robustness=attribution,
        gini=gini_scores, corruption_accuracy=corruptions, checks=checks,
        warnings=to_warnings(checks, emit=emit_warnings), train_seconds=card.train_seconds, hardware=card.hardware,
        evaluation=EvaluationInfo(
            **run_provenance(device), seconds=round(seconds, 2), data_source=data_source,
            class_counts=class_counts(ye), settings=s.model_dump(mode="json"), quick=s.quick,
        ),
    )  # fmt: skip


def run_provenance(device: torch.device) -> dict[str, Any]:
    """Where and when a measurement ran: hardware, torch threads and version, code commit, UTC time."""
    return {"hardware": hardware(device), "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
            "commit": code_commit(), "created": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip


def class_counts(labels: Tensor) -> dict[str, int]:
    """How many of ``labels`` fall in each class (keys: the class index as text, for JSON)."""
    classes, counts = torch.unique(labels.cpu(), return_counts=True)
    return {str(int(c)): int(k) for c, k in zip(classes, counts, strict=True)}


def evaluate(
    model_dir: str | Path,
    data_dir: str | Path | None = None,
    settings: EvalSettings | None = None,
    *,
    out: str | Path | None = None,
    emit_warnings: bool = True,
) -> Report:
    """Evaluate a stored model on the first test images of its card's dataset; write ``report.json`` beside the card
    (or to ``out``) and return the report."""
    s = settings or EvalSettings()
    model, card = load_model(model_dir)
    data = load_dataset(card.dataset, "test", data_dir=data_dir)
    if list(data.shape) != list(card.input_size):
        raise IncompatibleError(f"{card.id} expects images {card.input_size}, the test data has {list(data.shape)}")
    n = min(len(data), max(s.n_eval, s.n_attribution, s.n_gini or 0))
    if n < s.n_eval:
        log.warning("only %d test images available (asked for %d)", len(data), s.n_eval)
    x, y = data.images[:n].float().div_(255.0), data.labels[:n]
    surrogate = load_model(s.checks.surrogate)[0] if s.checks.surrogate else None
    report = benchmark(model, card, x, y, s, data_source=data.source, surrogate=surrogate, emit_warnings=emit_warnings)
    path = report.write(Path(out) if out else Path(model_dir) / REPORT)
    log.info("wrote %s (%.0f s)", path, report.evaluation.seconds)
    return report


__all__ = ["DATASET_DEFAULTS", "EvalSettings", "benchmark", "evaluate", "settings_from_cli"]
