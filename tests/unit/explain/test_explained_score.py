"""``score = "centered_logit"``: every explainer explains f_y - mean_j f_j, so a component added to every logit (which
changes no prediction) moves the maps of the logit and leaves the centered maps as they were."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainlab.explain import EXPLAINERS
from explainlab.explain.base import scored_model
from explainlab.nets import Normalized, cam_layer
from explainlab.nets.centered_logits import CenteredLogits
from tests.conftest import TinyCNN

# small settings so every method runs in a second; the seeded ones draw the same samples for both models
FAST: dict[str, dict] = {
    "integrated_gradients": {"steps": 8},
    "smoothgrad": {"samples": 4, "seed": 0},
    "captum_integrated_gradients": {"steps": 8},
    "captum_smoothgrad": {"samples": 4, "seed": 0},
    "captum_gradient_shap": {"samples": 4, "seed": 0},
    "captum_lime": {"samples": 32, "seed": 0},
    "captum_kernel_shap": {"samples": 32, "seed": 0},
}
NAMES = [cls.name for cls in EXPLAINERS]


class SharedLogitCNN(TinyCNN):
    """TinyCNN plus 5 x (mean of the cam layer's activations) added to every logit: the same softmax and
    prediction, a component every map of f_y sees, Grad-CAM's included (it passes through the cam layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu1(self.conv1(x))
        return self.fc(self.pool(h).flatten(1)) + 5 * h.mean((1, 2, 3))[:, None]


def pair() -> tuple[nn.Module, nn.Module]:
    """The same weights with and without the shared component, both Normalized and in eval mode."""
    torch.manual_seed(0)
    plain = TinyCNN()
    shared = SharedLogitCNN()
    shared.load_state_dict(plain.state_dict())
    return Normalized(plain, [0.5], [0.5]).eval(), Normalized(shared, [0.5], [0.5]).eval()


def images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    return torch.rand(4, 1, 8, 8, generator=gen), torch.tensor([0, 1, 2, 1])


def explain(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, score: str) -> torch.Tensor:
    return EXPLAINERS.create(name, {**FAST.get(name, {}), "score": score}).explain(model, x, y)


def test_every_explainer_has_the_score_param_defaulting_to_the_logit() -> None:
    for cls in EXPLAINERS:
        field = cls.Params.model_fields["score"]
        assert field.default == "logit", cls.name


@pytest.mark.parametrize("name", NAMES)
def test_the_centered_map_ignores_a_component_shared_by_every_logit(name: str) -> None:
    plain, shared = pair()
    x, y = images()
    torch.testing.assert_close(shared(x).softmax(1), plain(x).softmax(1), atol=1e-5, rtol=1e-5)
    centered_plain = explain(name, plain, x, y, "centered_logit")
    centered_shared = explain(name, shared, x, y, "centered_logit")
    torch.testing.assert_close(centered_shared, centered_plain, atol=1e-4, rtol=1e-3)
    assert float(centered_plain.abs().max()) > 0, "a map of zeros would pass trivially"


@pytest.mark.parametrize("name", ["saliency", "integrated_gradients", "gradcam", "captum_deeplift", "captum_occlusion"])
def test_the_logit_map_sees_the_shared_component(name: str) -> None:
    plain, shared = pair()
    x, y = images()
    assert float((explain(name, shared, x, y, "logit") - explain(name, plain, x, y, "logit")).abs().max()) > 1e-3


def test_integrated_gradients_of_the_centered_logit_are_complete() -> None:
    """Completeness on the explained score: the IG map sums to (f_y - mean f)(x) - (f_y - mean f)(baseline)."""
    _, shared = pair()
    x, y = images()
    attr = EXPLAINERS.create("integrated_gradients", {"steps": 256, "score": "centered_logit"}).explain(shared, x, y)
    centered = CenteredLogits(shared)
    with torch.no_grad():
        rise = centered(x).gather(1, y[:, None])[:, 0] - centered(torch.zeros_like(x)).gather(1, y[:, None])[:, 0]
    torch.testing.assert_close(attr.flatten(1).sum(1), rise, atol=2e-3, rtol=2e-2)


def test_the_wrapper_keeps_the_net_s_mode_and_grad_cam_layer(tiny_model: nn.Module) -> None:
    assert scored_model(tiny_model, "logit") is tiny_model
    centered = scored_model(tiny_model, "centered_logit")
    assert isinstance(centered, CenteredLogits) and not centered.training and not tiny_model.training
    assert cam_layer(centered) is cam_layer(tiny_model) is tiny_model.net.relu1
    tiny_model.train()
    assert scored_model(tiny_model, "centered_logit").training and tiny_model.training
