"""Dombrowski target-map manipulation: drive the explanation towards a chosen map with Adam and beta growth."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.attacks.explanation_base import LABEL_MARGIN, AttackContext, ExplanationAttack, ExplanationAttackParams
from explainlab.attacks.objectives import margin
from explainlab.explain.base import normalize_map
from explainlab.metrics.functional import topk_mask
from explainlab.nets.smoothing import softplus_relus


def default_target_map(clean: Tensor, how: Literal["shifted", "flipped", "other_image"]) -> Tensor:
    """A target for each clean map (N, H, W): the map moved by a quarter of the image, mirrored, or the next image's."""
    h, w = clean.shape[-2:]
    if how == "shifted":
        return torch.roll(clean, shifts=(h // 4, w // 4), dims=(-2, -1))
    if how == "flipped":
        return torch.flip(clean, dims=(-2,))
    return torch.roll(clean, shifts=1, dims=0)


class TargetMapAttack(ExplanationAttack):
    """Dombrowski et al. 2019 (arXiv:1906.07983): minimize a*||h(x') - h_t||^2 + b*||g(x') - g(x)||^2 over x' with
    Adam, ReLU -> Softplus(beta_i), beta_i = beta_0 (beta_1/beta_0)^(i/N); h = mean-1 map, g = softmax output.
    Kept inside the eps-ball (the paper bounds nothing; set eps=1 for that); returns the label-preserving iterate
    closest to the target on the ReLU net."""

    name = "target_map"
    title = "Target-map manipulation"
    citation = "Dombrowski, Alber, Anders, Ackermann, Mueller, Kessel 2019, arXiv:1906.07983"

    class Params(ExplanationAttackParams):
        steps: int = Field(300, ge=1, le=2000, description="Adam iterations (the paper: 1500)")
        step_size: float = Field(1e-3, gt=0.0, le=0.1, description="Adam learning rate in pixel units")
        beta_start: float = Field(10.0, gt=0.0, le=1e4, description="Softplus beta at the first iteration")
        beta_end: float = Field(100.0, gt=0.0, le=1e4, description="Softplus beta at the last iteration")
        map_weight: float = Field(40.0, ge=0.0, le=1e6, description="weight of the map term (per mean-1 pixel)")
        output_weight: float = Field(1e3, ge=0.0, le=1e8, description="weight of the softmax-output term")
        target: Literal["shifted", "flipped", "other_image"] = Field(
            "shifted", description="target map when none is given: shifted, flipped, or the next image's map"
        )

    params: Params

    def __init__(self, params: Params | None = None, *, target_map: Tensor | None = None, **overrides: object) -> None:
        super().__init__(params, **overrides)
        self.target_map = target_map

    def dissimilarity(self, s: Tensor, ctx: AttackContext) -> Tensor:
        p = self.params
        return -p.map_weight * (s - ctx.extra["target"]).pow(2).flatten(1).mean(1)

    def criterion(self, s: Tensor, ctx: AttackContext) -> Tensor:
        return -(s - ctx.extra["target"]).pow(2).flatten(1).mean(1)

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None, gen: torch.Generator) -> Tensor:
        p, threat = self.params, self.threat
        with torch.no_grad():
            logits0 = model(x)
        y_hat, probs0 = logits0.argmax(1), logits0.softmax(1)
        clean = self.saliency(model, x, y_hat)
        goal = default_target_map(clean, p.target) if self.target_map is None else self.target_map.to(x)
        if goal.shape != clean.shape:
            raise ValueError(f"target_map must have shape {tuple(clean.shape)}, got {tuple(goal.shape)}")
        ctx = AttackContext(x, y_hat, clean, topk_mask(clean, 1), {"target": normalize_map(goal.clamp_min(0))})
        x_var = (threat.random_init(x, gen) if p.random_start else x.clone()).requires_grad_(True)
        optimizer = torch.optim.Adam([x_var], lr=p.step_size)
        best_x, best = x.clone(), torch.full((x.shape[0],), float("-inf"), device=x.device)
        for i in range(p.steps + 1):
            candidate = x_var.detach()
            with torch.no_grad():
                keeps = margin(model(candidate), y_hat) < -LABEL_MARGIN
            score = torch.where(
                keeps, self.criterion(self.saliency(model, candidate, y_hat), ctx), best.new_tensor(-1e30)
            )
            better = score > best
            best_x[better], best[better] = candidate[better], score[better]
            if i == p.steps:
                break
            beta = p.beta_start * (p.beta_end / p.beta_start) ** (i / max(p.steps - 1, 1))
            with softplus_relus(model, beta):
                s = self.saliency(model, x_var, y_hat, create_graph=True)
                out = p.output_weight * (model(x_var).softmax(1) - probs0).pow(2).sum(1)
                loss = -self.dissimilarity(s, ctx) + out
            (x_var.grad,) = torch.autograd.grad(loss.sum(), x_var)
            optimizer.step()
            with torch.no_grad():
                x_var.copy_(threat.project(x_var, x))
        return best_x
