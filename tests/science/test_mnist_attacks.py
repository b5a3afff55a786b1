"""Acceptance checks of the engine on a naturally trained MNIST SmallCNN and the real MNIST test set."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainlab.attacks import ATTACKS
from explainlab.eval.attribution_robustness import RARProtocol, attribution_robustness
from explainlab.metrics.functional import accuracy

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mnist_natural")]
N = 500  # first 500 test images


def robust_accuracy(model: nn.Module, name: str, params: dict, x: torch.Tensor, y: torch.Tensor) -> float:
    x_adv = ATTACKS.create(name, params).perturb(model, x, y)
    with torch.no_grad():
        return float(accuracy(model(x_adv), y))


def test_natural_model_is_accurate(natural_mnist: nn.Module, mnist_test: tuple) -> None:
    x, y = mnist_test
    with torch.no_grad():
        assert float(accuracy(natural_mnist(x), y)) > 0.97


def test_pgd40_at_eps_03_breaks_a_natural_model(natural_mnist: nn.Module, mnist_test: tuple) -> None:
    x, y = mnist_test[0][:N], mnist_test[1][:N]
    acc = robust_accuracy(natural_mnist, "pgd", {"eps": 0.3, "steps": 40, "step_size": 0.01}, x, y)
    assert acc < 0.02


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_apgd_is_at_least_as_strong_as_pgd(eps: float, natural_mnist: nn.Module, mnist_test: tuple) -> None:
    x, y = mnist_test[0][:N], mnist_test[1][:N]
    pgd = robust_accuracy(natural_mnist, "pgd", {"eps": eps, "steps": 40, "step_size": 0.01}, x, y)
    apgd_ce = robust_accuracy(natural_mnist, "apgd", {"eps": eps, "steps": 40}, x, y)
    apgd_dlr = robust_accuracy(natural_mnist, "apgd", {"eps": eps, "steps": 40, "loss": "dlr"}, x, y)
    assert apgd_ce <= pgd and apgd_dlr <= pgd + 0.01, (pgd, apgd_ce, apgd_dlr)


@pytest.mark.crosscheck
@pytest.mark.parametrize("keep", ["last", "best"])
def test_pgd_agrees_with_torchattacks(keep: str, natural_mnist: nn.Module, mnist_test: tuple) -> None:
    torchattacks = pytest.importorskip(
        "torchattacks", reason="dev-only cross-check: pip install --no-deps torchattacks"
    )
    x, y = mnist_test[0][:N], mnist_test[1][:N]
    params = {"eps": 0.1, "steps": 40, "step_size": 0.01, "keep": keep}
    ours = robust_accuracy(natural_mnist, "pgd", params, x, y)
    x_theirs = torchattacks.PGD(natural_mnist, eps=0.1, alpha=0.01, steps=40, random_start=True)(x, y)
    with torch.no_grad():
        theirs = float(accuracy(natural_mnist(x_theirs), y))
    assert 0.05 < theirs < 0.95, "pick an eps where robust accuracy is informative"
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


@pytest.mark.parametrize("name", [n for n in ATTACKS.names() if ATTACKS[n].kind == "explanation"])
def test_explanation_attacks_keep_every_label(name: str, natural_mnist: nn.Module, mnist_test: tuple) -> None:
    x, y = mnist_test[0][:32], mnist_test[1][:32]
    params = {"eps": 0.3, "steps": 15, "k": 100, "explainer": "saliency"}
    x_adv = ATTACKS.create(name, params).perturb(natural_mnist, x, y)
    with torch.no_grad():
        assert torch.equal(natural_mnist(x_adv).argmax(1), natural_mnist(x).argmax(1))


def test_rar_protocol_breaks_ig_maps_of_a_natural_model(natural_mnist: nn.Module, mnist_test: tuple) -> None:
    """RAR's protocol with 3 restarts and 100-step IG maps, but 24 images, 40 steps of 0.02 (same reach of 0.3 as
    100 x 0.01) and 10 path points inside the attack; bench/science_checks.py runs the paper's iteration count."""
    x, y = mnist_test[0][:24], mnist_test[1][:24]
    protocol = RARProtocol(steps=40, step_size=0.02, restarts=3, attack_ig_steps=10)
    result = attribution_robustness(natural_mnist, x, y, protocol).summary()
    assert result["label_preserved"] == 1.0
    assert result["topk_intersection"] < 0.5, result
