"""Attacks on models whose answer is known in closed form, and properties of the threat steps."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from explainlab.attacks import ATTACKS
from explainlab.attacks.apgd import checkpoints
from explainlab.attacks.objectives import dlr_loss
from explainlab.attacks.threat import L2Step, LinfStep


def linear_model(w: torch.Tensor) -> nn.Module:
    """Two-class model with logits (w.x, -w.x): the CE gradient of class 0 points along -w."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(w.numel(), 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([w.flatten(), -w.flatten()]))
    return model.eval()


def test_fgsm_on_linear_model_is_x_minus_eps_sign_w() -> None:
    w = torch.randn(1, 4, 4)
    x = torch.rand(3, 1, 4, 4)
    x_adv = ATTACKS.create("fgsm", {"eps": 0.1}).perturb(linear_model(w), x, 0)
    assert torch.allclose(x_adv, (x - 0.1 * w.sign()).clamp(0, 1), atol=1e-7)


def test_fgsm_l2_step_is_along_minus_w() -> None:
    w = torch.randn(1, 4, 4)
    x = torch.full((1, 1, 4, 4), 0.5)
    x_adv = ATTACKS.create("fgsm", {"eps": 0.2, "norm": "l2"}).perturb(linear_model(w), x, 0)
    assert torch.allclose(x_adv, x - 0.2 * w / w.norm(), atol=1e-6)


def test_pgd_reaches_the_box_corner_on_a_linear_model() -> None:
    w = torch.randn(1, 4, 4)
    x = torch.full((2, 1, 4, 4), 0.5)
    x_adv = ATTACKS.create("pgd", {"eps": 0.1, "steps": 20, "step_size": 0.02}).perturb(linear_model(w), x, 0)
    assert torch.allclose(x_adv, x - 0.1 * w.sign(), atol=1e-6)


def test_apgd_reaches_the_box_corner_on_a_linear_model() -> None:
    w = torch.randn(1, 4, 4)
    x = torch.full((2, 1, 4, 4), 0.5)
    x_adv = ATTACKS.create("apgd", {"eps": 0.1, "steps": 20}).perturb(linear_model(w), x, 0)
    assert torch.allclose(x_adv, x - 0.1 * w.sign(), atol=1e-6)


def test_apgd_checkpoints_follow_the_paper() -> None:
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (Croce & Hein 2020, §3.2)
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]


def test_dlr_is_shift_and_scale_invariant() -> None:
    z = torch.randn(5, 10)
    y = torch.randint(0, 10, (5,))
    assert torch.allclose(dlr_loss(z, y), dlr_loss(3.0 * z + 7.0, y), atol=1e-5)
    t = (y + 1) % 10
    assert torch.allclose(dlr_loss(z, y, t), dlr_loss(2.0 * z - 1.0, y, t), atol=1e-5)


images = st.integers(0, 2**16).map(lambda s: torch.rand(2, 1, 5, 5, generator=torch.Generator().manual_seed(s)))


@settings(max_examples=30, deadline=None)
@given(x=images, seed=st.integers(0, 2**16), eps=st.floats(0.01, 1.0))
def test_projection_is_idempotent_and_inside_both_sets(x: torch.Tensor, seed: int, eps: float) -> None:
    far = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) * 4 - 2
    for step in (LinfStep(eps), L2Step(eps)):
        p = step.project(far, x)
        assert torch.allclose(step.project(p, x), p, atol=1e-6)
        assert float(p.min()) >= 0 and float(p.max()) <= 1
        assert float(step.distance(p, x).max()) <= eps + 1e-5


@settings(max_examples=20, deadline=None)
@given(x=images, seed=st.integers(0, 2**16), eps=st.floats(0.01, 2.0))
def test_random_init_stays_in_the_ball(x: torch.Tensor, seed: int, eps: float) -> None:
    for step in (LinfStep(eps), L2Step(eps)):
        x0 = step.random_init(x, torch.Generator().manual_seed(seed))
        assert float(step.distance(x0, x).max()) <= eps + 1e-5
        assert float(x0.min()) >= 0 and float(x0.max()) <= 1
