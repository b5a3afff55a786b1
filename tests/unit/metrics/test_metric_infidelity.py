"""Infidelity against Captum's infidelity with the same perturbations, and its closed form on a linear model."""

from __future__ import annotations

import pytest
import torch
from captum.metrics import infidelity as captum_infidelity
from torch import nn

from explainlab.explain import EXPLAINERS
from explainlab.explain.base import class_scores
from explainlab.metrics import METRICS, infidelity

SAMPLES = 5


def _captum(model: nn.Module, x: torch.Tensor, attr: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, **kw):
    flat_noise = noise.reshape(-1, *x.shape[1:])  # (N, S, C, H, W) -> (N*S, ...), Captum's repeat_interleave order

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return flat_noise, inputs - flat_noise

    return captum_infidelity(model, perturb, x, attr, target=t, n_perturb_samples=noise.shape[1], **kw)


@pytest.mark.crosscheck
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("name", ["saliency", "integrated_gradients", "input_x_gradient"])
def test_functional_equals_captum(name: str, normalize: bool, tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    t = tiny_model(tiny_images).argmax(1)
    attr = EXPLAINERS.create(name).explain(tiny_model, tiny_images, t)
    noise = torch.randn(tiny_images.shape[0], SAMPLES, *tiny_images.shape[1:]) * 0.1
    ours = infidelity(
        lambda z: class_scores(tiny_model(z), t),
        tiny_images,
        attr,
        lambda s: noise[:, s],
        SAMPLES,
        normalize=normalize,
    )
    expected = _captum(tiny_model, tiny_images, attr, t, noise, normalize=normalize)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.crosscheck
def test_metric_class_equals_captum_on_its_own_noise(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    metric = METRICS.create("infidelity", {"stdev": 0.05, "samples": SAMPLES, "seed": 7})
    explainer = EXPLAINERS.create("saliency", {"abs": False})
    t = tiny_model(tiny_images).argmax(1)
    gen = torch.Generator().manual_seed(7)  # the class draws one N(0, stdev^2) tensor per sample from this seed
    noise = torch.stack([torch.randn(tiny_images.shape, generator=gen) * 0.05 for _ in range(SAMPLES)], 1)
    expected = _captum(tiny_model, tiny_images, explainer.explain(tiny_model, tiny_images, t), t, noise)
    torch.testing.assert_close(metric(tiny_model, explainer, tiny_images, t), expected, atol=1e-5, rtol=1e-5)


def test_signed_gradient_of_a_linear_model_is_perfectly_faithful() -> None:
    """f(x) - f(x - I) = w_t . I exactly, and the signed gradient is w_t, so the infidelity is 0."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5)).eval()
    x = torch.rand(3, 3, 4, 4)
    exact = METRICS.create("infidelity", {"stdev": 0.5})(model, EXPLAINERS.create("saliency", {"abs": False}), x)
    torch.testing.assert_close(exact, torch.zeros(3), atol=1e-9, rtol=0)
    wrong = METRICS.create("infidelity", {"stdev": 0.5})(model, EXPLAINERS.create("saliency"), x)  # |w| is not w
    assert (wrong > 1e-3).all()


def test_layer_maps_broadcast_over_channels(tiny_rgb_model: nn.Module) -> None:
    x = torch.rand(2, 3, 8, 8)
    value = METRICS.create("infidelity")(tiny_rgb_model, EXPLAINERS.create("gradcam"), x)
    assert value.shape == (2,) and torch.isfinite(value).all()
