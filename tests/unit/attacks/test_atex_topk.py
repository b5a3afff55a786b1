"""ATEX's evaluation attack: label kept, budget kept, the map moves, max-abs step normalization, label-flip reset."""

from __future__ import annotations

import torch
from torch import nn

from explainlab.attacks import ATTACKS
from explainlab.attacks.atex_topk import ATEXTopKAttack
from explainlab.attacks.engine import iterate
from explainlab.attacks.explanation_base import AttackContext
from explainlab.attacks.threat import LinfMaxScaledStep
from explainlab.explain import saliency_map
from explainlab.metrics.functional import topk_intersection, topk_mask


def _clean_context(attack: ATEXTopKAttack, model: nn.Module, x: torch.Tensor) -> AttackContext:
    with torch.no_grad():
        y_hat = model(x).argmax(1)
    clean = attack.saliency(model, x, y_hat)
    return AttackContext(x, y_hat, clean, topk_mask(clean, attack.params.k), {})


def test_defaults_are_the_mnist_script() -> None:
    p = ATTACKS["atex_topk"].Params()
    assert (p.eps, p.step_size, p.steps, p.k, p.explainer) == (0.08, 0.02, 200, 50, "saliency")
    assert ATTACKS["atex_topk"].norms == ("linf",)


def test_keeps_label_budget_and_box(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    x = tiny_images
    y = tiny_model(x).argmax(1)
    # a large budget and step so that some iterates would flip the label without the reset
    attack = ATTACKS.create("atex_topk", {"eps": 0.5, "step_size": 0.1, "steps": 30, "k": 10})
    x_adv = attack.perturb(tiny_model, x, y)
    assert torch.equal(tiny_model(x_adv).argmax(1), y)
    assert float((x_adv - x).abs().max()) <= 0.5 + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0


def test_moves_the_map(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    x = tiny_images
    y = tiny_model(x).argmax(1)
    attack = ATTACKS.create("atex_topk", {"eps": 0.2, "step_size": 0.02, "steps": 30, "k": 10})
    x_adv = attack.perturb(tiny_model, x, y)
    clean, adv = (saliency_map(attack.explainer.explain(tiny_model, z, y)) for z in (x, x_adv))  # raw |grad|
    assert float(topk_intersection(clean, adv, 10).mean()) < 1.0
    normalized = [attack.saliency(tiny_model, z, y) for z in (x, x_adv)]
    mass = [(s.flatten(1) * topk_mask(s, 10)).sum(1) for s in normalized]  # mean-1 mass on each map's own top-k
    assert float(mass[1].mean()) < float(mass[0].mean())


def test_relu_net_without_surrogate_does_not_move(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    """Why the surrogate is on by default: the saliency map of a ReLU net is piecewise constant in x."""
    y = tiny_model(tiny_images).argmax(1)
    attack = ATTACKS.create("atex_topk", {"surrogate_beta": None, "steps": 5, "k": 10})
    assert torch.equal(attack.perturb(tiny_model, tiny_images, y), tiny_images)


def test_objective_reselects_the_current_top_k(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    attack = ATTACKS.create("atex_topk", {"k": 5})
    ctx = _clean_context(attack, tiny_model, tiny_images)
    s = torch.rand(4, 8, 8)
    expected = -s.flatten(1).sort(1, descending=True).values[:, :5].sum(1)
    assert torch.allclose(attack.dissimilarity(s, ctx), expected)  # ctx.topk (the clean set) plays no part


def test_max_abs_step_moves_the_largest_coordinate_by_the_step_size() -> None:
    grad = torch.tensor([[0.5, -2.0, 1.0, 0.0]]).view(1, 1, 2, 2)
    x = torch.full((1, 1, 2, 2), 0.5)
    moved = LinfMaxScaledStep(0.3).ascend(x, grad, 0.02) - x
    assert torch.allclose(moved.flatten(), torch.tensor([0.005, -0.02, 0.01, 0.0]))
    assert torch.equal(LinfMaxScaledStep(0.3).direction(torch.zeros(2, 1, 2, 2)), torch.zeros(2, 1, 2, 2))


def test_one_attack_step_is_the_normalized_gradient(tiny_model: nn.Module) -> None:
    x = 0.25 + 0.5 * torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))  # away from the box edges
    attack = ATTACKS.create("atex_topk", {"eps": 0.5, "step_size": 0.02, "steps": 1, "k": 10})
    ctx = _clean_context(attack, tiny_model, x)
    g = attack._direction(tiny_model, x, ctx, torch.Generator())
    x_adv = attack.perturb(tiny_model, x, ctx.y_hat)
    kept = tiny_model(x_adv).argmax(1) == ctx.y_hat
    assert kept.all()
    step = (x_adv - x).flatten(1)
    top = g.flatten(1).abs().argmax(1)
    assert torch.allclose(step.abs().amax(1), torch.full((3,), 0.02), atol=1e-6)
    assert torch.allclose(step.gather(1, top[:, None]).abs().squeeze(1), torch.full((3,), 0.02), atol=1e-6)
    assert torch.allclose(step, 0.02 * g.flatten(1) / g.flatten(1).abs().amax(1, keepdim=True), atol=1e-6)


def test_engine_resets_rejected_iterates_and_keeps_the_last_admissible() -> None:
    """A 1-D walk x <- x + 0.1 with iterates above 0.35 inadmissible: the run stalls at 0.3 (never 0.4)."""
    x = torch.zeros(2, 1, 1, 1)
    visited: list[torch.Tensor] = []

    def objective(x_adv: torch.Tensor, need_grad: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        visited.append(x_adv.clone())
        v = x_adv.flatten()
        score = torch.where(v > 0.35, torch.full_like(v, float("-inf")), v)
        score[1] = -v[1]  # second example: admissible everywhere, score decreasing along the walk
        return (torch.ones_like(x_adv) if need_grad else None), score

    x_adv, score = iterate(
        objective, x, LinfMaxScaledStep(1.0), steps=6, step_size=0.1, random_start=False, restarts=1,
        generator=torch.Generator(), keep="last", stop_score=None, reset_rejected=True,
    )  # fmt: skip
    assert torch.allclose(x_adv.flatten(), torch.tensor([0.3, 0.6]))
    assert torch.allclose(score, torch.tensor([0.3, -0.6]))
    assert max(float(v[0]) for v in visited) < 0.45  # every step after the flip starts again from 0.3
