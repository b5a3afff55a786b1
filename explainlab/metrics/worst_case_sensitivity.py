"""Worst-case max-sensitivity: PGD on the explanation distance instead of random sampling."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from explainlab.errors import IncompatibleError
from explainlab.explain.base import Explainer
from explainlab.metrics.base import Metric, MetricParams, eval_mode, explained_class
from explainlab.metrics.max_sensitivity import relative_change
from explainlab.nets.smoothing import count_relus, softplus_relus
from explainlab.params import FloatOrFraction


def worst_case_sensitivity(
    model: nn.Module,
    explainer: Explainer,
    x: Tensor,
    target: Tensor,
    *,
    radius: float,
    steps: int,
    step_size: float,
    restarts: int = 1,
    softplus_beta: float | None = 10.0,
    clip: bool = False,
    seed: int = 0,
) -> Tensor:
    """Largest ||Phi(x~) - Phi(x)||_F / ||Phi(x)||_F found by sign-gradient ascent in B_inf(x, radius): (N,).

    Each restart starts from uniform noise; directions come from ``create_graph`` explanations of the
    Softplus(``softplus_beta``) copy of the net (skipped when the explainer smooths itself or the net has no ReLU);
    every iterate, the start included, is scored on the ReLU net and the per-example maximum is returned.
    """
    if not explainer.differentiable:
        raise IncompatibleError(f"{explainer.name} is display-only: worst-case sensitivity needs create_graph")
    own_beta = getattr(explainer.params, "softplus_beta", None)
    beta = softplus_beta if own_beta is None and count_relus(model) > 0 else None
    gen = torch.Generator(device=x.device).manual_seed(seed)

    def project(z: Tensor) -> Tensor:
        z = x + (z - x).clamp(-radius, radius)
        return z.clamp(0.0, 1.0) if clip else z

    ref = explainer.explain(model, x, target)
    if beta is None:
        ref_smooth = ref
    else:
        with softplus_relus(model, beta):
            ref_smooth = explainer.explain(model, x, target)
    best = torch.zeros(x.shape[0], dtype=ref.dtype, device=x.device)
    for _ in range(restarts):
        noise = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) * (2 * radius) - radius
        x_t = project(x + noise)
        best = torch.maximum(best, relative_change(explainer.explain(model, x_t, target), ref))
        for _ in range(steps):
            z = x_t.detach().requires_grad_(True)
            with torch.enable_grad(), softplus_relus(model, beta):
                loss = (explainer.explain(model, z, target, create_graph=True) - ref_smooth).pow(2).sum()
                # a map that does not depend on x (e.g. saliency of a linear net) gives no direction
                grad = torch.autograd.grad(loss, z, allow_unused=True)[0] if loss.requires_grad else None
            if grad is None:
                grad = torch.zeros_like(z)
            x_t = project(x_t.detach() + step_size * grad.sign())
            best = torch.maximum(best, relative_change(explainer.explain(model, x_t, target), ref))
    return best


class WorstCaseSensitivity(Metric):
    """Max-sensitivity with the max found by PGD rather than sampling (lab variant of Yeh et al. 2019, 1901.09392).

    max_{||x~ - x||_inf <= r} ||Phi(x~) - Phi(x)||_F / ||Phi(x)||_F, ascended with x~ <- proj(x~ + a sign(grad)) on a
    softplus surrogate and scored on the ReLU net; a lower bound on the true max, usually above the random estimate.
    Needs a differentiable explainer.
    """

    name = "worst_case_sensitivity"
    title = "Max-sensitivity (worst case, PGD)"
    citation = "Yeh, Hsieh, Suggala, Inouye, Ravikumar 2019, arXiv:1901.09392; Madry et al. 2018, arXiv:1706.06083"
    category = "robustness"
    higher_is_better = False

    class Params(MetricParams):
        radius: FloatOrFraction = Field(0.02, ge=0.0, le=1.0, description="L-inf radius of the search, pixel units")
        steps: int = Field(10, ge=0, le=1000, description="sign-gradient ascent steps per restart")
        step_size: FloatOrFraction | None = Field(
            None, gt=0.0, le=1.0, description="ascent step in pixel units (None = 2.5 * radius / steps)"
        )
        restarts: int = Field(1, ge=1, le=100, description="random starts in the ball; the best one counts")
        softplus_beta: float | None = Field(
            10.0, gt=0.0, le=1e4, description="ascend on the Softplus(beta) copy of the net (None = the ReLU net)"
        )
        clip: bool = Field(False, description="also keep x~ in [0, 1] (the random variant's default does not)")
        seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the random starts")

    def __call__(self, model: nn.Module, explainer: Explainer, x: Tensor, target: Tensor | int | None = None) -> Tensor:
        p: WorstCaseSensitivity.Params = self.params  # type: ignore[assignment]
        t = explained_class(model, x, target)
        step = p.step_size if p.step_size is not None else 2.5 * p.radius / max(p.steps, 1)
        with eval_mode(model):
            return worst_case_sensitivity(
                model,
                explainer,
                x,
                t,
                radius=p.radius,
                steps=p.steps,
                step_size=step,
                restarts=p.restarts,
                softplus_beta=p.softplus_beta,
                clip=p.clip,
                seed=p.seed,
            )
