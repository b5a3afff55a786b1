"""Promises every registered attack keeps, checked for each registry entry and both norms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainlab.attacks import ATTACKS
from explainlab.attacks.objectives import margin

# small settings per attack so the contract runs in seconds
FAST = {"steps": 3}
FAST_EXPLANATION = {"steps": 3, "k": 10, "explainer": "saliency"}


def fast_params(name: str, norm: str) -> dict:
    cls = ATTACKS[name]
    extra = {} if name == "fgsm" else (FAST_EXPLANATION if cls.kind == "explanation" else FAST)
    eps = 0.1 if norm == "linf" else 0.5
    return {"eps": eps, "norm": norm, **extra}


def state(model: nn.Module) -> tuple:
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())
    return (
        model.training,
        tuple(p.requires_grad for p in model.parameters()),
        hooks,
        tuple(type(m) for m in model.modules()),
    )


CASES = [(name, norm) for name in ATTACKS.names() for norm in ATTACKS[name].norms]


@pytest.mark.parametrize(("name", "norm"), CASES)
def test_attack_contract(name: str, norm: str, tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    attack = ATTACKS.create(name, fast_params(name, norm))
    x = tiny_images.clone()
    y = tiny_model(x).argmax(1)
    before = state(tiny_model)
    x_adv = attack.perturb(tiny_model, x, y)
    assert torch.equal(x, tiny_images), "input modified"
    assert state(tiny_model) == before, "model mode, requires_grad, hooks or modules changed"
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert not x_adv.requires_grad
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    delta = (x_adv - x).flatten(1)
    dist = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert float(dist.max()) <= attack.params.eps + 1e-6
    again = ATTACKS.create(name, fast_params(name, norm)).perturb(tiny_model, x, y)
    assert torch.equal(x_adv, again), "same seed must give the same result"
    if attack.kind == "explanation":
        assert torch.equal(tiny_model(x_adv).argmax(1), y), "explanation attacks must keep the label"


@pytest.mark.parametrize("name", [n for n in ATTACKS.names() if ATTACKS[n].targeted])
def test_targeted_mode_moves_towards_target(name: str, tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    x = tiny_images
    y = tiny_model(x).argmax(1)
    target = (y + 1) % 3
    params = {"eps": 0.5} if name == "fgsm" else {"eps": 0.5, "steps": 20}
    x_adv = ATTACKS.create(name, params).perturb(tiny_model, x, y, target=target)
    with torch.no_grad():
        assert (margin(tiny_model(x_adv), y, target) > margin(tiny_model(x), y, target)).all()


def test_untargeted_attack_refuses_target(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    from explainlab.errors import IncompatibleError

    with pytest.raises(IncompatibleError):
        ATTACKS.create("topk", {"k": 5}).perturb(tiny_model, tiny_images, 0, target=1)


def test_rejects_unnormalized_images(tiny_model: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ATTACKS.create("pgd").perturb(tiny_model, torch.full((1, 1, 8, 8), 2.0), 0)


@pytest.mark.parametrize("bad", [{"eps": 0}, {"eps": 2}, {"steps": 10**9}, {"norm": "l7"}, {"unknown": 1}])
def test_params_are_bounded(bad: dict) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ATTACKS["pgd"].Params(**bad)


def test_l2_eps_may_exceed_one_but_linf_may_not() -> None:
    from pydantic import ValidationError

    assert ATTACKS["pgd"].Params(eps=2.0, norm="l2").eps == 2.0
    with pytest.raises(ValidationError, match="L-inf"):
        ATTACKS["pgd"].Params(eps=2.0, norm="linf")


def test_eps_accepts_fractions() -> None:
    assert ATTACKS["pgd"].Params(eps="8/255").eps == pytest.approx(8 / 255)


@pytest.mark.parametrize("name", ATTACKS.names())
def test_attacks_work_on_a_frozen_model(name: str, tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    """Served models have requires_grad=False on every parameter; attacks differentiate w.r.t. the input only."""
    tiny_model.requires_grad_(False)
    x_adv = ATTACKS.create(name, fast_params(name, "linf")).perturb(tiny_model, tiny_images, 0)
    assert not torch.equal(x_adv, tiny_images) or ATTACKS[name].kind == "explanation"
    assert not any(p.requires_grad for p in tiny_model.parameters())


@pytest.mark.parametrize(
    "bad",
    [{"explainer": "captum_occlusion"}, {"explainer": "nope"}, {"explainer_params": {"steps": 10**9}},
     {"explainer": "saliency", "explainer_params": {"bogus": 1}}],
)  # fmt: skip
def test_explanation_attack_params_are_validated(bad: dict) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ATTACKS["topk"].Params(**{"explainer": "integrated_gradients", **bad})


@pytest.mark.parametrize("name", ["topk", "mass_center", "targeted_region"])
def test_an_input_independent_map_is_left_alone(name: str) -> None:
    """A linear model's gradient map is the same at every input: no direction moves it, so the attack returns x
    (it used to fail in autograd on a map with no path to the input)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
    x = torch.rand(4, 1, 8, 8)
    attack = ATTACKS.create(name, {"eps": 0.1, "steps": 3, "k": 10, "explainer": "saliency", "surrogate_beta": None})
    assert torch.equal(attack.perturb(model, x, model(x).argmax(1)), x)
