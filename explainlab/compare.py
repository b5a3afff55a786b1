"""Models side by side: predictions and attribution maps of one input, before and after an attack (the lab's core).

Plain tensors in, plain dataclasses out; the web layer only renders them. Maps are per-pixel saliency
s_ij = sum_c |A_cij| (methods.md §1.3); similarity is top-k intersection (Ghorbani et al. 2019), Spearman's rho and
SSIM between the map before and the map after the perturbation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from explainlab.attacks.base import Attack
from explainlab.explain import Explainer, saliency_map
from explainlab.explain.base import as_target
from explainlab.metrics.functional import spearman_rho, ssim, topk_intersection

TOP_K_FRACTION = 0.1  # default k: 10 % of the pixels (RAR uses 100 of MNIST's 784)
SWEEP_FRACTIONS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # an ε sweep's default budgets, as multiples of the attack's ε
MOVED_BAD, MOVED_WARN = 0.5, 0.2  # share of top-k pixels moved for the "bad" / "warn" explanation verdicts


@dataclass
class Prediction:
    """The predicted class, its probability and the full softmax."""

    label: int
    confidence: float
    probabilities: list[float]


@dataclass
class View:
    """One model's look at one input: its prediction, the class explained and the attribution."""

    prediction: Prediction
    target: int
    attribution: Tensor  # (C, H, W) or (1, H, W) for layer methods
    saliency: Tensor  # (H, W), non-negative


@dataclass
class Similarity:
    """How much a map moved: top-k intersection (k pixels), Spearman's rho and SSIM, each in [-1, 1] or [0, 1]."""

    k: int
    topk_intersection: float
    spearman: float
    ssim: float


@dataclass
class Verdict:
    """A plain-language finding; severity is "good", "warn" or "bad"."""

    code: str
    severity: str
    text: str


@dataclass
class AttackOutcome:
    """One model under one attack: the adversarial input, both views, their similarity and the verdicts."""

    x_adv: Tensor  # (C, H, W)
    before: View
    after: View
    similarity: Similarity
    linf: float
    l2: float
    verdicts: list[Verdict] = field(default_factory=list)


def predict(model: nn.Module, x: Tensor) -> list[Prediction]:
    """Softmax predictions of a batch (N, C, H, W)."""
    with torch.no_grad():
        probs = torch.softmax(model(x).float(), dim=1)
    conf, labels = probs.max(1)
    return [
        Prediction(int(label), float(c), [float(p) for p in row])
        for label, c, row in zip(labels.tolist(), conf.tolist(), probs, strict=True)
    ]


def explain(model: nn.Module, x: Tensor, explainer: Explainer, target: Tensor | int | None = None) -> list[View]:
    """Predict and explain a batch; ``target`` None explains each input's predicted class."""
    predictions = predict(model, x)
    labels = torch.tensor([p.label for p in predictions], device=x.device)
    targets = labels if target is None else as_target(target, x.shape[0], x.device)
    attribution = explainer.explain(model, x, targets).float()
    maps = saliency_map(attribution)
    return [
        View(pred, int(t), a, s) for pred, t, a, s in zip(predictions, targets.tolist(), attribution, maps, strict=True)
    ]


def default_k(height: int, width: int) -> int:
    return max(1, round(TOP_K_FRACTION * height * width))


def similarity(before: Tensor, after: Tensor, k: int | None = None) -> Similarity:
    """Top-k intersection, Spearman and SSIM between two (H, W) maps."""
    k = default_k(*before.shape) if k is None else min(k, before.numel())
    a, b = before[None].double(), after[None].double()
    rho = float(spearman_rho(a, b)[0])
    return Similarity(
        k=k,
        topk_intersection=float(topk_intersection(a, b, k)[0]),
        spearman=0.0 if rho != rho else rho,  # NaN for a constant map: no rank information
        ssim=float(ssim(a, b)[0]),
    )


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def verdicts(before: View, after: View, sim: Similarity, attack_kind: str, class_names: list[str]) -> list[Verdict]:
    """Plain-language findings: did the prediction flip, how much of the explanation moved."""
    name = lambda label: class_names[label] if 0 <= label < len(class_names) else str(label)  # noqa: E731
    out = []
    b, a = before.prediction, after.prediction
    if a.label != b.label:
        out.append(Verdict("prediction_flipped", "bad", f"prediction flipped: {name(b.label)} → {name(a.label)}"))
    else:
        out.append(
            Verdict(
                "prediction_kept",
                "good" if attack_kind == "prediction" else "warn",
                f"prediction kept: {name(b.label)} ({_pct(b.confidence)} → {_pct(a.confidence)})",
            )
        )
    moved = 1.0 - sim.topk_intersection
    severity = "bad" if moved >= MOVED_BAD else "warn" if moved >= MOVED_WARN else "good"
    text = (
        f"explanation moved {_pct(moved)} of its top-{sim.k} pixels"
        if moved >= MOVED_WARN
        else f"explanation stable: {_pct(sim.topk_intersection)} of its top-{sim.k} pixels stayed"
    )
    out.append(Verdict("explanation_moved" if moved >= MOVED_WARN else "explanation_stable", severity, text))
    if attack_kind == "explanation" and a.label == b.label and moved >= MOVED_WARN:
        text = "same answer, different reasons: the label held, the map moved"
        out.append(Verdict("label_kept_map_moved", "bad", text))
    return out


def attack(
    models: list[nn.Module],
    inputs: list[Tensor],
    attacker: Attack,
    explainer: Explainer,
    *,
    class_names: list[list[str]],
    transfer_from: int | None = None,
    k: int | None = None,
    target: int | None = None,
) -> list[AttackOutcome]:
    """Attack each model on its own input (1, C, H, W), or craft on ``models[transfer_from]`` and evaluate the same
    adversarial input on every model (transfer). Each model explains its own prediction before and after (or the
    class ``target`` in both)."""
    if transfer_from is not None:
        source = models[transfer_from]
        x = inputs[transfer_from]
        y = torch.tensor([predict(source, x)[0].label], device=x.device)
        crafted = attacker.perturb(source, x, y)
        adversarial = [crafted for _ in models]
    else:
        adversarial = []
        for model, x in zip(models, inputs, strict=True):
            y = torch.tensor([predict(model, x)[0].label], device=x.device)
            adversarial.append(attacker.perturb(model, x, y))
    outcomes = []
    for i, (model, x, x_adv) in enumerate(zip(models, inputs, adversarial, strict=True)):
        before = explain(model, x, explainer, target)[0]
        after = explain(model, x_adv, explainer, target)[0]
        sim = similarity(before.saliency, after.saliency, k)
        delta = (x_adv - x)[0]
        outcomes.append(
            AttackOutcome(
                x_adv=x_adv[0],
                before=before,
                after=after,
                similarity=sim,
                linf=float(delta.abs().max()),
                l2=float(delta.norm()),
                verdicts=verdicts(before, after, sim, attacker.kind, class_names[i]),
            )
        )
    return outcomes


def sweep_reference_eps(attack_params: dict, attack_eps: float, threat_eps: list[float]) -> float:
    """The ε a sweep's budgets are fractions of: the one given in ``attack_params``, else the models' largest
    threat-model ε, else the attack's default ``attack_eps`` (natural models have ε 0 in their cards)."""
    return attack_eps if "eps" in attack_params else max(threat_eps, default=0.0) or attack_eps


def sweep_budgets(eps: float, norm: str, fractions: tuple[float, ...] = SWEEP_FRACTIONS) -> list[float]:
    """An ε sweep's default budgets: ``fractions`` of ``eps``, an L-inf budget clamped to the full pixel range."""
    return sorted({round(min(eps * f, 1.0) if norm == "linf" else eps * f, 6) for f in fractions})


def sweep(
    models: list[nn.Module],
    inputs: list[Tensor],
    attack_name: str,
    attack_params: dict,
    explainer: Explainer,
    eps_values: list[float],
    *,
    class_names: list[list[str]],
    k: int | None = None,
) -> list[tuple[float, list[AttackOutcome]]]:
    """``attack`` at each budget of ``eps_values`` (``attack_params`` with its ``eps`` replaced): where the prediction
    and where the map give way, per model."""
    from explainlab.attacks import ATTACKS  # the registry imports every attack; only a sweep needs it

    return [
        (
            e,
            attack(
                models,
                inputs,
                ATTACKS.create(attack_name, {**attack_params, "eps": e}),
                explainer,
                class_names=class_names,
                k=k,
            ),
        )  # fmt: skip
        for e in eps_values
    ]
