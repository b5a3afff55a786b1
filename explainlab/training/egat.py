"""EGAT-lab: adversarial training with an explanation consistency constraint between clean and adversarial maps."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Literal, Self

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from explainlab.errors import IncompatibleError
from explainlab.explain.base import normalize_map
from explainlab.nets import cam_layer, softplus_relus
from explainlab.training.base import AdversarialParams, LossParts, TrainingMethod, eval_mode, unwrap


def class_score(logits: Tensor, y: Tensor, centered: bool = False) -> Tensor:
    """Sum over the batch of the explained score: the logit f_y, or (``centered``) f_y - mean_j f_j, the part of the
    logit that softmax sees. A component shared by every logit changes no prediction, yet it can dominate the maps
    of f_y (docs/zoo_findings.md, "The saliency term is met by a logit shared by every class")."""
    score = logits.gather(1, y[:, None])
    return (score - logits.mean(1, keepdim=True)).sum() if centered else score.sum()


def gradcam_with_logits(model: nn.Module, x: Tensor, y: Tensor, centered: bool = False) -> tuple[Tensor, Tensor]:
    """One forward pass: logits (N, K) and a differentiable, L2-normalized Grad-CAM map (N, h*w) for class y; the
    map's double backward runs only through the layers after the Grad-CAM layer."""
    captured: list[Tensor] = []
    handle = cam_layer(model).register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        logits = model(x)
    finally:
        handle.remove()
    act = captured[0]  # (N, K, h, w)
    (grad,) = torch.autograd.grad(class_score(logits, y, centered), act, create_graph=True)
    cam = F.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(1))  # (N, h, w)
    return logits, F.normalize(cam.flatten(1), dim=1, eps=1e-8)


def _input_gradient(model: nn.Module, x: Tensor, y: Tensor, centered: bool) -> tuple[Tensor, Tensor]:
    """Logits and d score / dx (N, C, H, W), differentiable in the weights (double back-propagation)."""
    if not x.requires_grad:  # a leaf of its own; an adversary's iterate keeps its graph
        x = x.detach().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(class_score(logits, y, centered), x, create_graph=True)
    return logits, grad


def raw_gradient_with_logits(model: nn.Module, x: Tensor, y: Tensor, centered: bool = False) -> tuple[Tensor, Tensor]:
    """Logits and the signed, unnormalized input gradient d f_y / dx (N, C*H*W), differentiable: with D = squared L2
    the term penalizes how much the gradient itself changes over the eps-ball, a curvature penalty (Moosavi-Dezfooli
    et al. 2019, CURE), which bounds how far a perturbation can move a gradient map (Dombrowski et al. 2019)."""
    logits, grad = _input_gradient(model, x, y, centered)
    return logits, grad.flatten(1)


def saliency_from_gradient(grad: Tensor) -> Tensor:
    """The saliency map of an input gradient (N, C, H, W): |grad| summed over channels, L2-normalized, (N, H*W)."""
    return F.normalize(grad.abs().sum(1).flatten(1), dim=1, eps=1e-8)


def saliency_with_logits(model: nn.Module, x: Tensor, y: Tensor, centered: bool = False) -> tuple[Tensor, Tensor]:
    """One forward pass: logits (N, K) and a differentiable, L2-normalized saliency map (N, H*W), |d f_y / dx| summed
    over channels (Simonyan et al. 2014); training through it is double back-propagation through the whole net."""
    logits, grad = _input_gradient(model, x, y, centered)
    return logits, saliency_from_gradient(grad)


def input_x_gradient_with_logits(
    model: nn.Module, x: Tensor, y: Tensor, centered: bool = False
) -> tuple[Tensor, Tensor]:
    """As saliency_with_logits with the map |x * d f_y / dx| (Shrikumar et al. 2016): IG's one-point Riemann sum at
    the zero baseline, so the term acts on the pixels whose ranking RAR's top-k attack moves."""
    logits, grad = _input_gradient(model, x, y, centered)
    return logits, F.normalize((x * grad).abs().sum(1).flatten(1), dim=1, eps=1e-8)


Distance = Literal["cosine", "l1", "squared_l2"]


def map_distance(a: Tensor, b: Tensor, distance: Distance = "cosine") -> Tensor:
    """D per pair of maps (N, P): ``cosine`` 1 - cos(a, b) in [0, 1] and ``l1`` the L1 distance between the maps
    scaled to sum 1, in [0, 2] (methods.md §5.1 lists both; both for non-negative, L2-normalized maps), or
    ``squared_l2`` ||a - b||^2, which keeps the maps' scale (for the raw gradient)."""
    if distance == "l1":
        return (normalize_map(a, "sum_one") - normalize_map(b, "sum_one")).abs().sum(1)
    if distance == "squared_l2":
        return (a - b).pow(2).sum(1)
    return 1 - (a * b).sum(1)


def projected_gradients(model: nn.Module, main: Tensor, term: Tensor) -> tuple[list[tuple[Tensor, Tensor]], float]:
    """(parameter, d main + d term') pairs, d term' = d term minus its projection on d main when the two conflict
    (d term . d main < 0): the auxiliary term never raises the main loss to first order (Yu et al. 2020, gradient
    surgery, kept one-sided since the cross-entropy has priority; Du et al. 2018). Also cos(d term, d main)."""
    if isinstance(model, nn.parallel.DistributedDataParallel):
        raise IncompatibleError("project_conflicts sets the gradients itself, which DDP does not reduce: run it "
                                "without torchrun")  # fmt: skip
    params = [q for q in model.parameters() if q.requires_grad]
    g_main = torch.autograd.grad(main, params, retain_graph=True, allow_unused=True)
    g_term = torch.autograd.grad(term, params, allow_unused=True)
    g_main = [torch.zeros_like(q) if g is None else g for q, g in zip(params, g_main, strict=True)]
    g_term = [torch.zeros_like(q) if g is None else g for q, g in zip(params, g_term, strict=True)]
    dot = sum((a * b).sum() for a, b in zip(g_main, g_term, strict=True))
    main_sq = sum(a.pow(2).sum() for a in g_main)
    term_sq = sum(b.pow(2).sum() for b in g_term)
    cos = float(dot / (main_sq.sqrt() * term_sq.sqrt()).clamp_min(1e-20))
    shrink = float(dot / main_sq.clamp_min(1e-20)) if dot < 0 else 0.0
    return [(q, a + b - shrink * a) for q, a, b in zip(params, g_main, g_term, strict=True)], cos


# E for the consistency term: name -> (map function, the loss part it is logged as)
EXPLANATIONS = {
    "gradcam": (gradcam_with_logits, "cam_dissimilarity"),
    "saliency": (saliency_with_logits, "saliency_dissimilarity"),
    "input_x_gradient": (input_x_gradient_with_logits, "ixg_dissimilarity"),
    "gradient": (raw_gradient_with_logits, "gradient_difference"),
}
ExplanationName = Literal["gradcam", "saliency", "input_x_gradient", "gradient"]


class EGAT(TrainingMethod):
    """Explanation-guided adversarial training, lab version of Chen et al. 2026 (arXiv:2603.01938, whose exact
    objective is unpublished; methods.md §5.1): x_adv = PGD(x, y); L = CE(f(x), y) + CE(f(x_adv), y) +
    lambda_e * D(E(x), E(x_adv)), D = 1 - cos, E = Grad-CAM of the true class (or, ``explanation="saliency"``, the input
    gradient: the paper's loss is "saliency-based"; or ``"input_x_gradient"``, x times it); optional mixup of the
    clean pair, an explanation-aware adversary that also ascends mu * D(E(x), E(x')), and a clean-CE weight
    (1 in EGAT-lab, 0 = Madry's objective), and variants of the term: D as L1 between sum-normalized maps, E(x)
    as a fixed target, only the pairs whose x_adv keeps the label, the term's gradient projected off the CE's, the
    maps taken through a Softplus copy of the net, and the maps at points a x, a x_adv of IG's path."""

    name = "egat"
    title = "EGAT (lab version: AT + explanation consistency)"
    citation = "Chen, Chen, Lin, Hong, Wu, Liao, Liu 2026, Explanation-Guided Adversarial Training, arXiv:2603.01938"

    class Params(AdversarialParams):
        explanation_weight: float = Field(1.0, ge=0.0, le=100.0, description="lambda_e on 1 - cos(E(x), E(x_adv))")
        adversary_weight: float = Field(
            0.0, ge=0.0, le=100.0, description="mu: the adversary also ascends the map dissimilarity (0 = CE-PGD)"
        )
        mixup_alpha: float = Field(0.0, ge=0.0, le=10.0, description="mixup Beta(a, a) on clean pairs (0 = off)")
        explanation: ExplanationName = Field(
            "gradcam",
            description="E: Grad-CAM of the last conv block, the input-gradient saliency map, input x gradient, or the "
            "raw signed gradient d f_y / dx (only with distance squared_l2: a curvature penalty)",
        )
        clean_weight: float = Field(1.0, ge=0.0, le=10.0, description="weight of CE(f(x), y) (0 = adversarial CE only)")
        explanation_fraction: float = Field(
            1.0, gt=0.0, le=1.0, description="share of the batch whose map pair enters the consistency mean (cost)"
        )
        distance: Distance = Field(
            "cosine",
            description="D: 1 - cos of the maps, L1 between the maps scaled to sum 1, or the squared L2 distance",
        )
        fixed_clean_map: bool = Field(
            False, description="E(x) as a fixed target (no gradient): the term pulls only the adversarial map"
        )
        map_attack_steps: int = Field(
            0,
            ge=0,
            le=20,
            description="extra sign steps, on the explained pairs only, that move x_adv to raise D(E(x), E(x_adv)) "
            "inside the eps-ball: the term then sees map-adversarial points, as RAR's attack makes (0 = CE-PGD points)",
        )
        map_surrogate_beta: float | None = Field(
            10.0,
            gt=0.0,
            le=1e4,
            description="Softplus beta of the surrogate net that directs the explanation-aware steps (a ReLU net's "
            "saliency map is piecewise constant in x, so its own gradient there is 0); None = the ReLU net",
        )
        term_surrogate_beta: float | None = Field(
            None,
            gt=0.0,
            le=1e4,
            description="Softplus beta of the net the consistency term's maps are taken through (beta-smoothing, "
            "Dombrowski et al. 2019): a ReLU net's map is piecewise constant in x, so the term cannot see how a "
            "perturbation flips the ReLU pattern; the cross-entropies stay on the ReLU net. None = the ReLU net",
        )
        term_path_low: float = Field(
            1.0,
            ge=0.0,
            le=1.0,
            description="the term compares the maps at a x and a x_adv, a ~ U(term_path_low, 1) drawn per pair: points "
            "on IG's straight path from the black image, whose gradients IG averages, with the net in eval mode "
            "(no batch-norm update from scaled images); 1 = the maps at x and x_adv (the plain term)",
        )
        centered_logit: bool = Field(
            False,
            description="maps explain f_y - mean_j f_j (what softmax sees) instead of the logit f_y: a component "
            "shared by every logit then cannot make the maps agree",
        )
        label_kept_only: bool = Field(
            False,
            description="count only the map pairs whose adversarial image keeps its label (RAR's label-preserving "
            "regime); the others add 0 to the consistency mean",
        )
        project_conflicts: bool = Field(
            False,
            description="when the term's weight gradient conflicts with the cross-entropy's (negative dot product), "
            "drop its component along the cross-entropy's, so no step trades CE for the term to first order "
            "(gradient surgery, Yu et al. 2020; Du et al. 2018); not under torchrun",
        )

        @model_validator(mode="after")
        def _raw_gradient_needs_squared_l2(self) -> Self:
            if self.explanation == "gradient" and self.distance != "squared_l2":
                raise ValueError(
                    "explanation 'gradient' (the raw, signed gradient) needs distance 'squared_l2': 'cosine' and 'l1' "
                    "compare non-negative, normalized maps"
                )
            return self

    params: Params

    def _explain(self, model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Logits and the term's map E of ``x`` for class ``y`` (of f_y, or of the centered logit)."""
        return EXPLANATIONS[self.params.explanation][0](model, x, y, centered=self.params.centered_logit)

    def _sign_step(self, x: Tensor, x_adv: Tensor, grad: Tensor) -> Tensor:
        """One PGD-L-inf ascent step, projected on the eps-ball around the clean x and on [0, 1]."""
        p = self.params
        return (x + (x_adv.detach() + p.step_size * grad.sign() - x).clamp(-p.eps, p.eps)).clamp(0, 1)

    def _ascend(
        self, model: nn.Module, x: Tensor, start: Tensor, y: Tensor, steps: int, ce_weight: float, map_weight: float
    ) -> Tensor:
        """``steps`` sign steps from ``start`` that ascend ce_weight * CE(f(x'), y) + map_weight * D(E(x), E(x')),
        directions from the Softplus surrogate, each projected on the eps-ball around x and on [0, 1]."""
        p = self.params
        model, explain = unwrap(model), self._explain
        x_adv = start
        with eval_mode(model), torch.enable_grad(), softplus_relus(model, p.map_surrogate_beta):
            clean_map = explain(model, x, y)[1].detach()
            for _ in range(steps):
                x_adv = x_adv.detach().requires_grad_(True)
                logits, adv_map = explain(model, x_adv, y)
                objective = map_weight * map_distance(clean_map, adv_map, p.distance).sum()
                if ce_weight:
                    objective = ce_weight * F.cross_entropy(logits, y, reduction="sum") + objective
                (grad,) = torch.autograd.grad(objective, x_adv)
                x_adv = self._sign_step(x, x_adv, grad)
        return x_adv.detach()

    def _explanation_aware_adversary(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """PGD from a uniform random start on CE + mu * D: the explanation-guided attack of methods.md §5.1."""
        p = self.params
        noise = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) * 2 - 1
        start = (x + p.eps * noise).clamp(0, 1)
        return self._ascend(model, x, start, y, p.steps, ce_weight=1.0, map_weight=p.adversary_weight)

    def _map_adversarial(self, model: nn.Module, x: Tensor, x_adv: Tensor, y: Tensor) -> Tensor:
        """x_adv moved by ``map_attack_steps`` sign steps that ascend D(E(x), E(x')) alone (directions from the Softplus
        surrogate, as RAR's and Ghorbani's attacks take them): the explanation-aware adversary of methods.md §5.1, run
        only on the pairs the term explains."""
        return self._ascend(model, x, x_adv, y, self.params.map_attack_steps, ce_weight=0.0, map_weight=1.0)

    def _path_maps(self, model: nn.Module, pairs: Tensor, labels: Tensor) -> Tensor:
        """The term's maps of the pairs (clean half, then adversarial half) at a x and a x_adv, one a ~ U(low, 1) per
        pair, through the Softplus copy when ``term_surrogate_beta`` is set; scaled pairs go through the net in eval
        mode, so no batch-norm statistic sees them."""
        p, net = self.params, unwrap(model)
        scaled = p.term_path_low < 1.0
        if scaled:
            u = torch.rand(len(pairs) // 2, generator=self.generator, device=pairs.device, dtype=pairs.dtype)
            pairs = (p.term_path_low + (1 - p.term_path_low) * u).repeat(2).view(-1, *[1] * (pairs.ndim - 1)) * pairs
        with eval_mode(net) if scaled else nullcontext(), softplus_relus(net, p.term_surrogate_beta):
            return self._explain(model, pairs, labels)[1]

    def _maps_and_logits(
        self, model: nn.Module, clean: Tensor, adv: Tensor, y: Tensor, rest: list[Tensor]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The term's maps of the explained pairs (``clean``, then ``adv``), the pairs' logits and the logits of the
        ``rest`` of the batch. With ``term_surrogate_beta`` or ``term_path_low`` the maps come from their own pass
        (the Softplus copy, the scaled pairs) and every logit from the ReLU net at the pairs themselves; on Madry's
        objective the clean pairs' logits only feed the logged clean CE, so they are taken without a graph (in eval
        mode: no batch-norm update)."""
        p, k = self.params, len(clean)
        pairs, labels = torch.cat([clean, adv]), torch.cat([y, y])
        if p.term_surrogate_beta is None and p.term_path_low >= 1.0:
            explained, maps = self._explain(model, pairs, labels)
            plain = model(torch.cat(rest)) if len(rest[0]) else explained[:0]  # rest[0]: the unexplained x_adv
            return explained, plain, maps
        maps = self._path_maps(model, pairs, labels)
        if p.clean_weight > 0:
            logits = model(torch.cat([pairs, *rest]))
            return logits[: 2 * k], logits[2 * k :], maps
        with torch.no_grad(), eval_mode(unwrap(model)):
            logged = model(clean)
        logits = model(torch.cat([adv, *rest]))
        return torch.cat([logged, logits[:k]]), logits[k:], maps

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> LossParts:
        p = self.params
        lam, y_a, y_b = 1.0, y, y
        if p.mixup_alpha > 0:
            lam = float(torch.distributions.Beta(p.mixup_alpha, p.mixup_alpha).sample())
            perm = torch.randperm(len(x), generator=self.generator, device=x.device)
            x, y_b = lam * x + (1 - lam) * x[perm], y[perm]
            y = y_a if lam >= 0.5 else y_b  # the class Grad-CAM explains and the adversary attacks
        if p.adversary_weight > 0:
            x_adv = self._explanation_aware_adversary(model, x, y)
        else:
            x_adv = self.adversarial(model, x, y, p.eps, p.steps, p.step_size)
        n = len(x)
        k = max(1, round(p.explanation_fraction * n))  # the first k pairs are explained (an unbiased subsample)
        part_name = EXPLANATIONS[p.explanation][1]
        map_adv = self._map_adversarial(model, x[:k], x_adv[:k], y[:k]) if p.map_attack_steps else x_adv[:k]
        rest = [x_adv[k:]] + ([x[k:]] if p.clean_weight > 0 else [])
        explained, plain, maps = self._maps_and_logits(model, x[:k], map_adv, y[:k], rest)
        adv_logits = torch.cat([explained[k:], plain[: n - k]])
        clean_logits = torch.cat([explained[:k], plain[n - k :]]) if p.clean_weight > 0 else explained[:k]
        m = len(clean_logits)
        clean_ce = lam * F.cross_entropy(clean_logits, y_a[:m]) + (1 - lam) * F.cross_entropy(clean_logits, y_b[:m])
        adv_ce = F.cross_entropy(adv_logits, y)
        clean_maps = maps[:k].detach() if p.fixed_clean_map else maps[:k]
        dissimilarity = map_distance(clean_maps, maps[k:], p.distance)
        if p.label_kept_only:
            dissimilarity = dissimilarity * (explained[k:].detach().argmax(1) == y[:k])
        consistency = dissimilarity.mean()
        main = p.clean_weight * clean_ce + adv_ce
        total = main + p.explanation_weight * consistency
        parts = {"clean_ce": float(clean_ce.detach()), "adv_ce": float(adv_ce.detach()),
                 part_name: float(consistency.detach())}  # fmt: skip
        if not p.project_conflicts:
            return LossParts(total, parts)
        gradients, cos = projected_gradients(model, main, p.explanation_weight * consistency)
        return LossParts(total.detach(), {**parts, "term_ce_cos": cos, "conflict": float(cos < 0)}, gradients)
