"""Closed forms and axioms of our differentiable explainers, and the explainer contract."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainlab.errors import IncompatibleError
from explainlab.explain import EXPLAINERS, saliency_map
from explainlab.explain.base import class_scores
from explainlab.explain.integrated_gradients import path_points

OWN = [e.name for e in EXPLAINERS if e.backend == "explainlab"]
FAST = {"integrated_gradients": {"steps": 8}, "smoothgrad": {"samples": 4}}


def hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


@pytest.mark.parametrize("name", OWN)
def test_explainer_contract(name: str, tiny_rgb_model: nn.Module) -> None:
    x = torch.rand(3, 3, 8, 8)
    x0 = x.clone()
    explainer = EXPLAINERS.create(name, FAST.get(name, {}))
    grads_before = [p.requires_grad for p in tiny_rgb_model.parameters()]
    attr = explainer.explain(tiny_rgb_model, x, torch.tensor([0, 1, 2]))
    assert torch.equal(x, x0)
    assert attr.shape in {(3, 3, 8, 8), (3, 1, 8, 8)} and torch.isfinite(attr).all() and not attr.requires_grad
    assert hooks(tiny_rgb_model) == 0 and not tiny_rgb_model.training
    assert [p.requires_grad for p in tiny_rgb_model.parameters()] == grads_before
    assert torch.equal(attr, explainer.explain(tiny_rgb_model, x, torch.tensor([0, 1, 2])))
    assert saliency_map(attr).shape == (3, 8, 8)


@pytest.mark.parametrize("name", OWN)
def test_create_graph_is_differentiable_in_input_and_weights(name: str, tiny_rgb_model: nn.Module) -> None:
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    attr = EXPLAINERS.create(name, FAST.get(name, {})).explain(tiny_rgb_model, x, 1, create_graph=True)
    loss = attr.pow(2).sum()
    gx, gw = torch.autograd.grad(loss, [x, tiny_rgb_model.net.conv1.weight], allow_unused=True)
    assert gx is not None and gw is not None and torch.isfinite(gx).all() and gw.abs().sum() > 0


@pytest.mark.parametrize("name", OWN)
def test_beta_smoothing_changes_the_map_and_restores_relus(name: str, tiny_rgb_model: nn.Module) -> None:
    x = torch.rand(2, 3, 8, 8)
    plain = EXPLAINERS.create(name, FAST.get(name, {})).explain(tiny_rgb_model, x, 0)
    smooth = EXPLAINERS.create(name, {**FAST.get(name, {}), "softplus_beta": 2.0}).explain(tiny_rgb_model, x, 0)
    assert not torch.allclose(plain, smooth)
    assert sum(isinstance(m, nn.ReLU) for m in tiny_rgb_model.modules()) == 1


def test_saliency_of_a_linear_model_is_abs_w() -> None:
    w = torch.randn(2, 1 * 4 * 4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(w)
    attr = EXPLAINERS.create("saliency").explain(model, torch.rand(3, 1, 4, 4), 1)
    assert torch.allclose(attr, w[1].abs().view(1, 1, 4, 4).expand(3, 1, 4, 4))


def test_input_x_gradient_of_a_linear_model_is_x_times_w() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    x = torch.rand(3, 1, 4, 4)
    attr = EXPLAINERS.create("input_x_gradient").explain(model, x, 0)
    assert torch.allclose(attr, x * model[1].weight[0].view(1, 1, 4, 4), atol=1e-6)


def ig_completeness_error(model: nn.Module, steps: int, rule: str, beta: float | None) -> torch.Tensor:
    """Relative completeness error |sum IG - (f(x) - f(0))| / |f(x) - f(0)| per example (float64)."""
    from explainlab.nets import softplus_relus

    model = model.double()
    x = torch.rand(16, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    target = torch.arange(16) % 3
    params = {"steps": steps, "rule": rule, "softplus_beta": beta}
    attr = EXPLAINERS.create("integrated_gradients", params).explain(model, x, target)
    with softplus_relus(model, beta), torch.no_grad():
        gap = class_scores(model(x), target) - class_scores(model(torch.zeros_like(x)), target)
    return (attr.flatten(1).sum(1) - gap).abs() / gap.abs()


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_trapezoid", "riemann_middle"])
def test_ig_completeness_on_a_tiny_smooth_net(rule: str, tiny_model: nn.Module) -> None:
    """Acceptance: |sum IG - (f(x) - f(0))| <= 1e-3 |f(x) - f(0)| at 256 steps, on the tiny CNN with Softplus(10)
    activations (beta-smoothed IG). Gauss-Legendre (the default) is exact to ~1e-15 here."""
    assert float(ig_completeness_error(tiny_model, 256, rule, 10.0).max()) <= 1e-3


def test_ig_completeness_converges_on_a_relu_net(tiny_model: nn.Module) -> None:
    """On a ReLU net the path gradient jumps at every kink, so every rule converges only as O(1/steps)."""
    coarse = ig_completeness_error(tiny_model, 32, "riemann_middle", None).mean()
    fine = ig_completeness_error(tiny_model, 1024, "riemann_middle", None).mean()
    assert fine < coarse / 4 and fine < 1e-2


def test_ig_on_a_linear_model_is_exact() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    x = torch.rand(2, 1, 4, 4)
    attr = EXPLAINERS.create("integrated_gradients", {"steps": 3, "baseline": 0.0}).explain(model, x, 1)
    assert torch.allclose(attr, x * model[1].weight[1].view(1, 1, 4, 4), atol=1e-6)


@pytest.mark.parametrize("start", [0.5, 0.9])
def test_ig_from_a_path_start_is_the_segment_of_the_same_path(start: float, tiny_model: nn.Module) -> None:
    """Linear model: (1 - c)(x - b) w exactly; smooth tiny net: completeness over the segment, f(x) - f(c x)."""
    linear = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    x = torch.rand(2, 1, 4, 4)
    params = {"steps": 3, "baseline": 0.2, "path_start": start}
    attr = EXPLAINERS.create("integrated_gradients", params).explain(linear, x, 1)
    expected = (1 - start) * (x - 0.2) * linear[1].weight[1].view(1, 1, 4, 4)
    assert torch.allclose(attr, expected, atol=1e-6)
    from explainlab.nets import softplus_relus

    model = tiny_model.double()
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    target = torch.arange(4) % 3
    params = {"steps": 64, "path_start": start, "softplus_beta": 10.0}
    attr = EXPLAINERS.create("integrated_gradients", params).explain(model, x, target)
    with softplus_relus(model, 10.0), torch.no_grad():
        gap = class_scores(model(x), target) - class_scores(model(start * x), target)
    assert torch.allclose(attr.flatten(1).sum(1), gap, atol=1e-6)


@pytest.mark.parametrize(
    "rule", ["gausslegendre", "riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid"]
)
def test_path_weights_sum_to_one(rule: str) -> None:
    alphas, weights = path_points(16, rule)
    assert sum(weights) == pytest.approx(1.0) and all(0 <= a <= 1 for a in alphas)


def test_gradcam_needs_a_conv_layer() -> None:
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with pytest.raises(IncompatibleError):
        EXPLAINERS.create("gradcam").explain(mlp, torch.rand(1, 1, 4, 4), 0)


def test_target_out_of_range_is_a_clear_error(tiny_model: nn.Module) -> None:
    with pytest.raises(IncompatibleError, match="out of range"):
        EXPLAINERS.create("saliency").explain(tiny_model, torch.rand(1, 1, 8, 8), 7)


@pytest.mark.parametrize("name", OWN)
def test_works_on_a_frozen_model(name: str, tiny_rgb_model: nn.Module) -> None:
    """Served models have requires_grad=False on every parameter; explainers must still work."""
    tiny_rgb_model.requires_grad_(False)
    attr = EXPLAINERS.create(name, FAST.get(name, {})).explain(tiny_rgb_model, torch.rand(2, 3, 8, 8), 0)
    assert torch.isfinite(attr).all() and attr.abs().sum() > 0
    assert not any(p.requires_grad for p in tiny_rgb_model.parameters())


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("smoothgrad", {"seed": 2**64}),
        ("integrated_gradients", {"steps": 1, "rule": "riemann_trapezoid"}),
        ("integrated_gradients", {"steps": 10**9}),
    ],
)
def test_bad_params_fail_at_validation(name: str, bad: dict) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        EXPLAINERS[name].Params(**bad)
