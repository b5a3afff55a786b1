"""EGAT-lab: the three explanation maps (closed form for a linear model), the loss's parts and weights, and the
explanation-aware adversary's constraint."""

from __future__ import annotations

import copy
from typing import get_args

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explainlab.training import METHODS
from explainlab.training.egat import (
    EGAT,
    EXPLANATIONS,
    ExplanationName,
    input_x_gradient_with_logits,
    map_distance,
    projected_gradients,
    raw_gradient_with_logits,
    saliency_with_logits,
)

ADV = {"eps": 0.1, "steps": 2, "step_size": 0.05}
MAPS = get_args(ExplanationName)
DISTANCE = {"gradient": "squared_l2"}  # the raw gradient has no cosine / L1 distance; the maps default to 1 - cos


def map_params(explanation: str) -> dict[str, str]:
    return {"explanation": explanation, "distance": DISTANCE.get(explanation, "cosine")}


def test_every_map_the_params_accept_has_a_function_and_a_loss_part_name() -> None:
    assert set(MAPS) == set(EXPLANATIONS)
    assert len({part for _, part in EXPLANATIONS.values()}) == len(EXPLANATIONS)


def batch(n: int = 6, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def test_saliency_of_a_linear_model_is_its_normalized_weight_row() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x, y = torch.rand(5, 2, 4, 4), torch.tensor([0, 1, 2, 1, 0])
    logits, maps = saliency_with_logits(model, x, y)
    expected = F.normalize(model[1].weight.view(3, 2, 16).abs().sum(1)[y], dim=1)
    torch.testing.assert_close(maps, expected)
    torch.testing.assert_close(logits, model(x))
    # the map is differentiable in the weights (double back-propagation), which is what the consistency term trains
    (grad,) = torch.autograd.grad(maps[:, 0].sum(), model[1].weight)
    assert float(grad.abs().sum()) > 0


def test_input_x_gradient_of_a_linear_model_is_the_normalized_input_times_weight_row() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x, y = torch.rand(5, 2, 4, 4), torch.tensor([0, 1, 2, 1, 0])
    x[:, :, 0] = 0.0  # a blank row: no attribution there, whatever the weights
    _, maps = input_x_gradient_with_logits(model, x, y)
    expected = F.normalize((x.flatten(2) * model[1].weight.view(3, 2, 16)[y]).abs().sum(1), dim=1)
    torch.testing.assert_close(maps, expected)
    assert float(maps.detach().view(5, 4, 4)[:, 0].abs().max()) == 0.0


def test_saliency_keeps_the_graph_of_an_input_that_requires_grad(tiny_model: nn.Module) -> None:
    x, y = batch(3)
    x = x.requires_grad_(True)
    _, maps = saliency_with_logits(tiny_model, x, y)
    (grad,) = torch.autograd.grad(maps.square().sum(1).sum() + maps[:, 5].sum(), x)
    assert grad.shape == x.shape and torch.isfinite(grad).all()


@pytest.mark.parametrize("explanation", MAPS)
def test_without_the_map_term_and_the_clean_loss_egat_is_pgd_at(tiny_model: nn.Module, explanation: str) -> None:
    model = tiny_model.train()
    x, y = batch(8)
    egat = METHODS.create("egat", {**ADV, **map_params(explanation), "explanation_weight": 0.0, "clean_weight": 0.0})
    madry = METHODS.create("pgd_at", ADV)
    egat.prepare(model, seed=3)
    madry.prepare(model, seed=3)
    torch.testing.assert_close(egat.loss(model, x, y).total, madry.loss(model, x, y).total, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("explanation", MAPS)
def test_total_is_the_weighted_sum_of_the_parts(tiny_model: nn.Module, explanation: str) -> None:
    model = tiny_model.train()
    x, y = batch(8)
    method = METHODS.create("egat", {**ADV, **map_params(explanation), "explanation_weight": 2.5, "clean_weight": 0.5})
    method.prepare(model, seed=0)
    out = method.loss(model, x, y)
    key = EXPLANATIONS[explanation][1]
    assert set(out.parts) == {"clean_ce", "adv_ce", key}
    assert 0.0 <= out.parts[key] <= (1.0 + 1e-6 if explanation != "gradient" else float("inf"))
    expected = 0.5 * out.parts["clean_ce"] + out.parts["adv_ce"] + 2.5 * out.parts[key]
    assert float(out.total.detach()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("explanation", MAPS)
def test_explanation_aware_adversary_stays_in_the_ball(tiny_model: nn.Module, explanation: str) -> None:
    x, y = batch(6)
    method = EGAT(eps=0.1, steps=3, step_size=0.05, adversary_weight=5.0, **map_params(explanation))
    method.prepare(tiny_model, seed=0)
    x_adv = method._explanation_aware_adversary(tiny_model, x, y)
    assert not x_adv.requires_grad
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    assert float((x_adv - x).abs().max()) > 0.05  # it moved


def perturbed(x: torch.Tensor) -> torch.Tensor:
    """A fixed stand-in for x_adv, so that a test looks at the term alone."""
    return (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)


def egat_with_fixed_adversary(model: nn.Module, x_adv: torch.Tensor, **params: object) -> EGAT:
    """Saliency EGAT-lab on Madry's objective whose adversary returns ``x_adv``."""
    method = EGAT(**{**ADV, "explanation": "saliency", "clean_weight": 0.0, **params})
    method.prepare(model, seed=0)
    method.adversarial = lambda *_args: x_adv  # type: ignore[method-assign]
    return method


def test_label_kept_only_counts_the_pairs_whose_adversarial_image_keeps_its_label(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, _ = batch(8)
    x_adv = perturbed(x)
    predicted = model(x_adv).argmax(1)
    y = torch.cat([predicted[:4], (predicted[4:] + 1) % 3])  # the first half keeps its label, the second does not
    parts = {}
    for kept_only in (False, True):
        method = egat_with_fixed_adversary(model, x_adv, explanation_weight=1.0, label_kept_only=kept_only)
        parts[kept_only] = method.loss(model, x, y).parts["saliency_dissimilarity"]
    _, clean_maps = saliency_with_logits(model, x, y)
    _, adv_maps = saliency_with_logits(model, x_adv, y)
    dissimilarity = (1 - (clean_maps * adv_maps).sum(1)).detach()
    assert float(dissimilarity[4:].min()) > 0  # the dropped pairs would have counted
    assert parts[False] == pytest.approx(float(dissimilarity.mean()), rel=1e-5)
    assert parts[True] == pytest.approx(float(dissimilarity[:4].sum() / 8), rel=1e-5)


def test_fixed_clean_map_trains_only_through_the_adversarial_map(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x)
    weights = list(model.parameters())

    def gradients(fixed: bool) -> list[torch.Tensor]:
        method = egat_with_fixed_adversary(model, x_adv, explanation_weight=3.0, fixed_clean_map=fixed)
        return list(torch.autograd.grad(method.loss(model, x, y).total, weights))

    _, clean_maps = saliency_with_logits(model, x, y)
    adv_logits, adv_maps = saliency_with_logits(model, x_adv, y)
    expected = F.cross_entropy(adv_logits, y) + 3.0 * (1 - (clean_maps.detach() * adv_maps).sum(1)).mean()
    for got, want in zip(gradients(True), torch.autograd.grad(expected, weights), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    both = gradients(False)  # the default also pulls the clean map: other gradients
    assert any(not torch.allclose(a, b, rtol=1e-3) for a, b in zip(both, gradients(True), strict=True))


def test_raw_gradient_of_a_linear_model_is_its_weight_row_and_the_curvature_term_is_zero() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x, y = torch.rand(5, 2, 4, 4), torch.tensor([0, 1, 2, 1, 0])
    _, grads = raw_gradient_with_logits(model, x, y)
    torch.testing.assert_close(grads, model[1].weight[y])  # signed and unnormalized
    _, moved = raw_gradient_with_logits(model, (x + 0.3).clamp(0, 1), y)
    assert float(map_distance(grads, moved, "squared_l2").detach().abs().max()) == 0.0  # a linear model: no curvature


def test_the_raw_gradient_term_is_the_squared_gradient_change(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x)
    method = egat_with_fixed_adversary(model, x_adv, explanation="gradient", distance="squared_l2")
    _, clean = raw_gradient_with_logits(model, x, y)
    _, adv = raw_gradient_with_logits(model, x_adv, y)
    expected = float((clean - adv).detach().pow(2).sum(1).mean())
    assert expected > 0
    assert method.loss(model, x, y).parts["gradient_difference"] == pytest.approx(expected, rel=1e-5)


class SharedLogit(nn.Module):
    """A conv trunk with a class head; ``shared`` adds 5 s(h) to every logit: the same softmax, other logit maps."""

    def __init__(self, shared: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.trunk = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten())
        self.classes, self.common, self.shared = nn.Linear(4 * 8 * 8, 3), nn.Linear(4 * 8 * 8, 1), shared

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)
        return self.classes(h) + (5 * self.common(h) if self.shared else 0)


@pytest.mark.parametrize("explanation", MAPS)
def test_a_component_shared_by_every_logit_moves_the_maps_of_f_y_but_not_the_centered_ones(explanation: str) -> None:
    x, y = batch(4)
    function = EXPLANATIONS[explanation][0]
    plain, shared = SharedLogit(shared=False), SharedLogit(shared=True)
    assert float((function(plain, x, y)[1] - function(shared, x, y)[1]).detach().abs().max()) > 1e-3
    torch.testing.assert_close(
        function(plain, x, y, centered=True)[1], function(shared, x, y, centered=True)[1], rtol=1e-4, atol=1e-5
    )


def test_centered_logit_reaches_the_term(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x)
    method = egat_with_fixed_adversary(model, x_adv, centered_logit=True)
    _, clean = saliency_with_logits(model, x, y, centered=True)
    _, adv = saliency_with_logits(model, x_adv, y, centered=True)
    expected = float((1 - (clean * adv).sum(1)).detach().mean())
    assert method.loss(model, x, y).parts["saliency_dissimilarity"] == pytest.approx(expected, rel=1e-5)
    plain = egat_with_fixed_adversary(model, x_adv).loss(model, x, y).parts["saliency_dissimilarity"]
    assert plain != pytest.approx(expected, rel=1e-3)


def test_the_raw_gradient_refuses_distances_for_normalized_maps() -> None:
    for distance in ("cosine", "l1"):
        with pytest.raises(ValueError, match="squared_l2"):
            EGAT.Params(explanation="gradient", distance=distance)


def test_map_distances_closed_forms() -> None:
    same = F.normalize(torch.tensor([[1.0, 2.0, 0.0, 0.0]]), dim=1)
    disjoint = F.normalize(torch.tensor([[0.0, 0.0, 3.0, 1.0]]), dim=1)
    half = F.normalize(torch.tensor([[1.0, 0.0, 1.0, 0.0]]), dim=1)  # sum-normalized (1/2, 0, 1/2, 0)
    for distance in ("cosine", "l1"):
        assert float(map_distance(same, same, distance)) == pytest.approx(0.0, abs=1e-6)
    assert float(map_distance(same, disjoint, "cosine")) == pytest.approx(1.0)
    assert float(map_distance(same, disjoint, "l1")) == pytest.approx(2.0)
    # (1/3, 2/3, 0, 0) against (1/2, 0, 1/2, 0): |1/3 - 1/2| + 2/3 + 1/2 = 4/3
    assert float(map_distance(same, half, "l1")) == pytest.approx(4 / 3)
    assert float(map_distance(same, half, "cosine")) == pytest.approx(1 - 1 / (5**0.5 * 2**0.5))
    # on L2-normalized maps the squared L2 distance is 2 (1 - cos); on raw ones it keeps the scale
    assert float(map_distance(same, half, "squared_l2")) == pytest.approx(2 * (1 - 1 / (5**0.5 * 2**0.5)))
    assert float(map_distance(3 * same, 3 * half, "squared_l2")) == pytest.approx(18 * (1 - 1 / (5**0.5 * 2**0.5)))


def test_the_l1_distance_reaches_the_loss(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x)
    method = egat_with_fixed_adversary(model, x_adv, explanation_weight=1.0, distance="l1")
    _, clean_maps = saliency_with_logits(model, x, y)
    _, adv_maps = saliency_with_logits(model, x_adv, y)
    expected = (clean_maps / clean_maps.sum(1, keepdim=True) - adv_maps / adv_maps.sum(1, keepdim=True)).abs().sum(1)
    assert method.loss(model, x, y).parts["saliency_dissimilarity"] == pytest.approx(
        float(expected.detach().mean()), rel=1e-5
    )


def test_map_attack_steps_raise_the_map_distance_inside_the_ball(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x).clamp(x - 0.1, x + 0.1)
    method = egat_with_fixed_adversary(model, x_adv, eps=0.1, step_size=0.05, map_attack_steps=3)
    moved = method._map_adversarial(model, x, x_adv, y)
    assert not moved.requires_grad
    assert float((moved - x).abs().max()) <= 0.1 + 1e-6
    assert float(moved.min()) >= 0.0 and float(moved.max()) <= 1.0
    _, clean_maps = saliency_with_logits(model, x, y)
    before = map_distance(clean_maps, saliency_with_logits(model, x_adv, y)[1]).detach()
    after = map_distance(clean_maps, saliency_with_logits(model, moved, y)[1]).detach()
    assert float(after.mean()) > float(before.mean())  # sign ascent on D moves the maps apart
    # without the Softplus surrogate there is no direction: a ReLU net's saliency map is piecewise constant in x
    method.params = method.params.model_copy(update={"map_surrogate_beta": None})
    torch.testing.assert_close(method._map_adversarial(model, x, x_adv, y), x_adv)


def test_map_attack_steps_feed_the_term_on_the_explained_pairs_only(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(8)
    x_adv = perturbed(x)
    method = egat_with_fixed_adversary(model, x_adv, explanation_weight=1.0, explanation_fraction=0.5)
    plain = method.loss(model, x, y).parts
    method.params = method.params.model_copy(update={"map_attack_steps": 2})
    moved = method._map_adversarial(model, x[:4], x_adv[:4], y[:4])
    parts = method.loss(model, x, y).parts
    _, clean_maps = saliency_with_logits(model, x[:4], y[:4])
    adv_logits, adv_maps = saliency_with_logits(model, moved, y[:4])
    expected = float(map_distance(clean_maps, adv_maps).mean().detach())
    assert parts["saliency_dissimilarity"] == pytest.approx(expected, rel=1e-5)
    assert parts["saliency_dissimilarity"] > plain["saliency_dissimilarity"]
    rest = model(x_adv[4:])  # the other half keeps its CE-PGD points
    expected_ce = F.cross_entropy(torch.cat([adv_logits, rest]), y)
    assert parts["adv_ce"] == pytest.approx(float(expected_ce.detach()), rel=1e-5)


def test_projected_gradients_closed_form() -> None:
    """main = a . w and term = b . w: the gradients are a and b; b loses its part along a only when a . b < 0."""
    w = nn.Parameter(torch.zeros(3))
    a = torch.tensor([1.0, 0.0, 0.0])
    for b, expected in ((torch.tensor([-2.0, 1.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])),
                        (torch.tensor([2.0, 1.0, 0.0]), torch.tensor([3.0, 1.0, 0.0]))):  # fmt: skip
        model = nn.Module()
        model.w = w
        (pairs, cos) = projected_gradients(model, (a * w).sum(), (b * w).sum())
        ((param, grad),) = pairs
        assert param is w
        torch.testing.assert_close(grad, expected)
        assert cos == pytest.approx(float(F.cosine_similarity(a, b, dim=0)))


def test_project_conflicts_never_lets_the_term_raise_the_cross_entropy(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(8)
    x_adv = perturbed(x)
    weights = list(model.parameters())
    plain = egat_with_fixed_adversary(model, x_adv, explanation_weight=5.0).loss(model, x, y)
    projected = egat_with_fixed_adversary(model, x_adv, explanation_weight=5.0, project_conflicts=True).loss(
        model, x, y
    )
    assert plain.gradients is None and projected.gradients is not None
    assert projected.total.item() == pytest.approx(plain.total.item(), rel=1e-6) and not projected.total.requires_grad
    assert projected.parts["conflict"] == float(projected.parts["term_ce_cos"] < 0)
    adv_logits, _ = saliency_with_logits(model, x_adv, y)
    g_ce = torch.autograd.grad(F.cross_entropy(adv_logits, y), weights)
    g_total = torch.autograd.grad(plain.total, weights)
    term_part = [g - c for (_, g), c in zip(projected.gradients, g_ce, strict=True)]
    raw_term = [g - c for g, c in zip(g_total, g_ce, strict=True)]
    dot = sum(float((t * c).sum()) for t, c in zip(term_part, g_ce, strict=True))
    raw_dot = sum(float((t * c).sum()) for t, c in zip(raw_term, g_ce, strict=True))
    assert dot >= -1e-6 * sum(float(c.pow(2).sum()) for c in g_ce)  # never against the cross-entropy
    if raw_dot >= 0:  # no conflict: the plain gradient
        for (_, got), want in zip(projected.gradients, g_total, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    for param in weights:
        param.grad = None
    projected.backward()  # LossParts.backward fills .grad from the pairs
    for param, grad in projected.gradients:
        torch.testing.assert_close(param.grad, grad)


def test_project_conflicts_finds_a_conflict_on_some_batch(tiny_model: nn.Module) -> None:
    """Not a test that cannot fail: over a few batches the term's gradient opposes the cross-entropy's at least once,
    so the projection branch runs (and is checked above for any batch)."""
    model = tiny_model.eval()
    seen = []
    for seed in range(12):
        x, y = batch(8, seed=seed)
        method = egat_with_fixed_adversary(model, perturbed(x), explanation_weight=5.0, project_conflicts=True)
        seen.append(method.loss(model, x, y).parts["term_ce_cos"])
    assert min(seen) < 0 < max(seen)


def softplus_copy_term(
    model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, beta: float
) -> tuple[nn.Module, torch.Tensor]:
    """A copy of the tiny model with Softplus(beta) for its ReLU, and the saliency term 1 - cos on that copy."""
    softplus_copy = copy.deepcopy(model)
    softplus_copy.net.relu1 = nn.Softplus(beta=beta)
    _, clean_maps = saliency_with_logits(softplus_copy, x, y)
    _, adv_maps = saliency_with_logits(softplus_copy, x_adv, y)
    return softplus_copy, (1 - (clean_maps * adv_maps).sum(1)).mean()


def test_term_surrogate_beta_takes_the_maps_from_the_softplus_net_and_the_losses_from_the_relu_net(
    tiny_model: nn.Module,
) -> None:
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x)
    relu_parts = egat_with_fixed_adversary(model, x_adv).loss(model, x, y).parts
    smoothed = egat_with_fixed_adversary(model, x_adv, term_surrogate_beta=2.0).loss(model, x, y).parts
    assert isinstance(model.net.relu1, nn.ReLU)  # the ReLU is back
    _, term = softplus_copy_term(model, x, x_adv, y, beta=2.0)
    expected = float(term.detach())
    assert smoothed["saliency_dissimilarity"] == pytest.approx(expected, rel=1e-5)
    assert smoothed["saliency_dissimilarity"] != pytest.approx(relu_parts["saliency_dissimilarity"], rel=1e-3)
    assert smoothed["adv_ce"] == pytest.approx(relu_parts["adv_ce"], rel=1e-6)
    assert smoothed["clean_ce"] == pytest.approx(relu_parts["clean_ce"], rel=1e-6)  # logged, from the ReLU net
    with torch.no_grad():
        relu_adv_ce, relu_clean_ce = float(F.cross_entropy(model(x_adv), y)), float(F.cross_entropy(model(x), y))
    assert smoothed["adv_ce"] == pytest.approx(relu_adv_ce, rel=1e-6)
    with_clean = egat_with_fixed_adversary(model, x_adv, term_surrogate_beta=2.0, clean_weight=0.5)
    assert with_clean.loss(model, x, y).parts["clean_ce"] == pytest.approx(relu_clean_ce, rel=1e-6)


def test_term_surrogate_beta_trains_the_relu_cross_entropy_plus_the_softplus_term(tiny_model: nn.Module) -> None:
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x)
    weights = list(model.parameters())
    method = egat_with_fixed_adversary(model, x_adv, explanation_weight=1.5, term_surrogate_beta=2.0)
    got = torch.autograd.grad(method.loss(model, x, y).total, weights)
    softplus_copy, term = softplus_copy_term(model, x, x_adv, y, beta=2.0)
    want_ce = torch.autograd.grad(F.cross_entropy(model(x_adv), y), weights)
    want_term = torch.autograd.grad(term, list(softplus_copy.parameters()), allow_unused=True)  # not the last bias
    for g, ce, t in zip(got, want_ce, want_term, strict=True):
        torch.testing.assert_close(g, ce if t is None else ce + 1.5 * t, rtol=1e-4, atol=1e-6)


def test_term_path_low_compares_the_maps_at_points_on_igs_path(tiny_model: nn.Module) -> None:
    """a ~ U(low, 1) per pair from the method's generator; the maps at a x and a x_adv, the CE at x_adv itself."""
    model = tiny_model.eval()
    x, y = batch(6)
    x_adv = perturbed(x)
    parts = egat_with_fixed_adversary(model, x_adv, term_path_low=0.5).loss(model, x, y).parts
    u = torch.rand(6, generator=torch.Generator().manual_seed(1))  # prepare(seed=0) seeds the generator with 1
    alpha = (0.5 + 0.5 * u).view(-1, 1, 1, 1)
    _, clean_maps = saliency_with_logits(model, alpha * x, y)
    _, adv_maps = saliency_with_logits(model, alpha * x_adv, y)
    term = float((1 - (clean_maps * adv_maps).sum(1)).mean().detach())
    assert parts["saliency_dissimilarity"] == pytest.approx(term, rel=1e-5)
    with torch.no_grad():
        assert parts["adv_ce"] == pytest.approx(float(F.cross_entropy(model(x_adv), y)), rel=1e-6)
    plain = egat_with_fixed_adversary(model, x_adv).loss(model, x, y).parts
    assert parts["saliency_dissimilarity"] != pytest.approx(plain["saliency_dissimilarity"], rel=1e-3)
    at_x = egat_with_fixed_adversary(model, x_adv, term_path_low=1.0).loss(model, x, y).parts
    assert at_x == plain


def test_term_path_low_keeps_scaled_images_out_of_batch_norm_statistics() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3)).train()
    reference = copy.deepcopy(model)
    x, y = batch(6)
    x_adv = perturbed(x)
    egat_with_fixed_adversary(model, x_adv, term_path_low=0.2).loss(model, x, y)
    reference(x_adv)  # the one train-mode pass on Madry's objective: the CE at x_adv
    assert model.training
    torch.testing.assert_close(model[1].running_mean, reference[1].running_mean)
    torch.testing.assert_close(model[1].running_var, reference[1].running_var)
