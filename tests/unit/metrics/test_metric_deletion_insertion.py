"""Deletion and insertion AUC (Petsiuk et al. 2018) on models whose answer is known."""

from __future__ import annotations

import torch
from torch import nn

from explainlab.explain import EXPLAINERS, Explainer
from explainlab.metrics import METRICS, curve_auc, gaussian_blur, perturbation_curve

SIDE = 8
KEY = torch.tensor([3, 10, 17, 28, 36, 45, 51, 60])  # the only pixels the class-0 score reads


class KeyPixels(nn.Module):
    """logit_0 = 6 (sum of the key pixels - 5), logit_1 = 0: p_0 is ~1 with all 8 key pixels lit, ~0 with 4 or fewer."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(SIDE * SIDE, 2)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.weight[0, KEY] = 6.0
            self.linear.bias.copy_(torch.tensor([-30.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


class RandomMap(Explainer):
    """A map that ignores the model: the 'random ordering' baseline."""

    name, title, citation = "random_map", "random map", "test"

    def _attribute(self, model, x, target, create_graph):  # type: ignore[no-untyped-def]
        return torch.rand(x.shape, generator=torch.Generator().manual_seed(5))


def _images() -> torch.Tensor:
    x = torch.zeros(3, 1, SIDE, SIDE)
    x.view(3, -1)[:, KEY] = 1.0
    return x + 0.05 * torch.rand(x.shape, generator=torch.Generator().manual_seed(2))


def test_true_ordering_deletes_faster_and_inserts_faster_than_random() -> None:
    model, x = KeyPixels().eval(), _images()
    true, random = EXPLAINERS.create("saliency"), RandomMap()  # saliency = |w_0|: exactly the key pixels
    deletion = METRICS.create("deletion", {"pixels_per_step": 4})
    insertion = METRICS.create("insertion", {"pixels_per_step": 4})
    assert (deletion(model, true, x, 0) < 0.1).all()
    assert (deletion(model, true, x, 0) + 0.1 < deletion(model, random, x, 0)).all()
    assert (insertion(model, true, x, 0) > 0.9).all()
    assert (insertion(model, true, x, 0) > insertion(model, random, x, 0) + 0.1).all()


def test_curve_shape_endpoints_and_a_constant_model() -> None:
    x = _images()
    model = KeyPixels().eval()
    s = torch.rand(3, SIDE, SIDE)
    zeros, first, second = torch.zeros_like(x), torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    fractions, probs = perturbation_curve(model, x, zeros, s, first, pixels_per_step=5, batch_size=7)
    assert fractions.shape == (14,) and probs.shape == (3, 14)  # ceil(64 / 5) + 1 points; the last step is partial
    assert fractions[0] == 0 and fractions[-1] == 1 and fractions[-2] == 60 / 64
    torch.testing.assert_close(probs[:, 0], model(x).softmax(1)[:, 0])
    torch.testing.assert_close(probs[:, -1], model(torch.zeros_like(x)).softmax(1)[:, 0])
    constant = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 4)).eval()
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.zero_()
    auc = curve_auc(*perturbation_curve(constant, x, zeros, s, second, pixels_per_step=5))
    torch.testing.assert_close(auc, torch.full((3,), 0.25))  # a flat curve at 1/K integrates to 1/K


def test_batch_size_does_not_change_the_score(tiny_rgb_model: nn.Module) -> None:
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    explainer = EXPLAINERS.create("saliency")
    for name in ("deletion", "insertion"):
        small = METRICS.create(name, {"pixels_per_step": 3, "batch_size": 1})(tiny_rgb_model, explainer, x)
        large = METRICS.create(name, {"pixels_per_step": 3, "batch_size": 4096})(tiny_rgb_model, explainer, x)
        torch.testing.assert_close(small, large)


def test_gaussian_blur_preserves_constants_and_mass() -> None:
    flat = torch.full((1, 3, 8, 8), 0.4)
    torch.testing.assert_close(gaussian_blur(flat, 2.0), flat)
    spot = torch.zeros(1, 1, 28, 28)
    spot[0, 0, 14, 14] = 1.0
    blurred = gaussian_blur(spot, 2.0)
    assert blurred.shape == spot.shape and blurred.max() < 0.05
    torch.testing.assert_close(blurred.sum(), torch.tensor(1.0))  # far from the border: no mass lost
