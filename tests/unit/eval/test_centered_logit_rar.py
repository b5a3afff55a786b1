"""RAR on the centered logit: CenteredLogits keeps every prediction and cancels a component shared by every logit,
so a model that adds one gets the same maps, and the same top-k intersection, as the model without it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainlab.eval.attribution_robustness import RARProtocol, attribution_robustness
from explainlab.explain.integrated_gradients import IntegratedGradients
from explainlab.nets.centered_logits import CenteredLogits


class WithSharedLogit(nn.Module):
    """``model``'s logits plus 5 s(x) added to every class: the same softmax, other maps of f_y."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.model = model
        self.shared = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) + 5 * self.shared(x)


def images(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return torch.rand(n, 1, 8, 8, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def test_centered_logits_keep_the_softmax_and_cancel_a_shared_component(tiny_model: nn.Module) -> None:
    x, _ = images()
    shifted = WithSharedLogit(tiny_model).eval()
    torch.testing.assert_close(CenteredLogits(shifted)(x).softmax(1), tiny_model(x).softmax(1))
    torch.testing.assert_close(CenteredLogits(shifted)(x).sum(1), torch.zeros(len(x)), atol=1e-5, rtol=0)
    torch.testing.assert_close(CenteredLogits(shifted)(x), CenteredLogits(tiny_model)(x), atol=1e-5, rtol=1e-5)


def test_the_shared_component_moves_the_ig_maps_of_f_y_only(tiny_model: nn.Module) -> None:
    x, y = images()
    shifted = WithSharedLogit(tiny_model).eval()
    ig = IntegratedGradients(steps=16)
    assert float((ig.explain(shifted, x, y) - ig.explain(tiny_model, x, y)).abs().max()) > 1e-2
    torch.testing.assert_close(
        ig.explain(CenteredLogits(shifted), x, y), ig.explain(CenteredLogits(tiny_model), x, y), atol=1e-4, rtol=1e-4
    )


def test_rar_on_the_centered_logit_ignores_the_shared_component(tiny_model: nn.Module) -> None:
    x, y = images()
    protocol = RARProtocol(steps=3, restarts=1, attack_ig_steps=4, ig_steps=8, k_attack=10, k_eval=8,
                           centered_logit=True)  # fmt: skip
    plain = attribution_robustness(tiny_model, x, y, protocol)
    shifted = attribution_robustness(WithSharedLogit(tiny_model).eval(), x, y, protocol)
    torch.testing.assert_close(shifted.attacked, plain.attacked)
    assert int(plain.attacked.sum()) > 0
    assert float(shifted.topk_intersection.mean()) == pytest.approx(float(plain.topk_intersection.mean()), abs=0.05)


def test_rar_from_a_path_start_attacks_and_scores_the_segment_maps(tiny_model: nn.Module) -> None:
    """ig_path_start reaches both the evaluated maps and the attack; 0 is RAR's protocol unchanged."""
    x, y = images()
    settings = {"steps": 3, "restarts": 1, "attack_ig_steps": 4, "ig_steps": 8, "k_attack": 10, "k_eval": 8}
    plain = attribution_robustness(tiny_model, x, y, RARProtocol(**settings))
    zero = attribution_robustness(tiny_model, x, y, RARProtocol(**settings, ig_path_start=0.0))
    torch.testing.assert_close(zero.x_adv, plain.x_adv)
    near_x = attribution_robustness(tiny_model, x, y, RARProtocol(**settings, ig_path_start=0.9))
    assert float((near_x.x_adv - plain.x_adv).abs().max()) > 1e-4
    assert bool((near_x.x_adv - x[near_x.attacked]).abs().max() <= 0.3 + 1e-6)
