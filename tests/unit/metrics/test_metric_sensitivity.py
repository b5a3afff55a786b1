"""Max-sensitivity against Captum's sensitivity_max, and the worst-case (PGD) variant."""

from __future__ import annotations

import pytest
import torch
from captum.metrics import sensitivity_max as captum_sensitivity_max
from torch import nn

from explainlab.errors import IncompatibleError
from explainlab.explain import EXPLAINERS, Explainer
from explainlab.metrics import METRICS, relative_change, sensitivity_max, worst_case_sensitivity

SAMPLES = 6


def _explain_fn(model: nn.Module, explainer: Explainer):
    def explain(inputs: torch.Tensor | tuple[torch.Tensor, ...], target: torch.Tensor):  # type: ignore[no-untyped-def]
        if isinstance(inputs, tuple):  # Captum passes the clean input as a tuple and expects a tuple back
            return (explainer.explain(model, inputs[0], target),)
        return explainer.explain(model, inputs, target)

    return explain


def _captum(model: nn.Module, explainer: Explainer, x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor):
    """Captum with a fixed perturbation: it sees the batch repeat_interleaved (example i, sample s at row i*S + s)."""
    flat_noise = noise.reshape(-1, *x.shape[1:])  # (N, S, C, H, W) -> (N*S, C, H, W)
    return captum_sensitivity_max(
        _explain_fn(model, explainer),
        x,
        perturb_func=lambda inp: inp + flat_noise,
        n_perturb_samples=noise.shape[1],
        target=t,
    )


@pytest.mark.crosscheck
@pytest.mark.parametrize("name", ["saliency", "integrated_gradients", "gradcam"])
def test_functional_equals_captum_with_the_same_perturbations(
    name: str, tiny_rgb_model: nn.Module, tiny_images: torch.Tensor
) -> None:
    x = tiny_images.expand(-1, 3, -1, -1).contiguous()
    explainer = EXPLAINERS.create(name)
    t = tiny_rgb_model(x).argmax(1)
    noise = (torch.rand(x.shape[0], SAMPLES, *x.shape[1:]) * 2 - 1) * 0.05  # (N, S, C, H, W)
    ours = sensitivity_max(lambda z: explainer.explain(tiny_rgb_model, z, t), x, lambda z, s: z + noise[:, s], SAMPLES)
    torch.testing.assert_close(ours, _captum(tiny_rgb_model, explainer, x, t, noise), atol=1e-5, rtol=1e-5)


@pytest.mark.crosscheck
def test_metric_class_equals_captum_on_its_own_noise(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    metric = METRICS.create("max_sensitivity", {"radius": 0.05, "samples": SAMPLES, "seed": 3})
    explainer = EXPLAINERS.create("saliency")
    t = tiny_model(tiny_images).argmax(1)
    gen = torch.Generator().manual_seed(3)  # the class draws one U(-r, r) tensor per sample from this seed
    draws = [torch.rand(tiny_images.shape, generator=gen) * 0.1 - 0.05 for _ in range(SAMPLES)]
    noise = torch.stack(draws, 1)  # (N, S, 1, H, W)
    expected = _captum(tiny_model, explainer, tiny_images, t, noise)
    torch.testing.assert_close(metric(tiny_model, explainer, tiny_images), expected, atol=1e-5, rtol=1e-5)


def test_zero_reference_counts_as_norm_one() -> None:
    ref, phi = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    torch.testing.assert_close(relative_change(phi, ref), torch.full((2,), 2.0))
    torch.testing.assert_close(relative_change(2 * phi, phi), torch.ones(2))


@pytest.mark.parametrize("radius", [0.05, 0.1])
def test_worst_case_is_at_least_the_random_estimate(
    radius: float, tiny_model: nn.Module, tiny_images: torch.Tensor
) -> None:
    explainer = EXPLAINERS.create("saliency")
    random = METRICS.create("max_sensitivity", {"radius": radius, "samples": 40})(tiny_model, explainer, tiny_images)
    worst = METRICS.create("worst_case_sensitivity", {"radius": radius, "steps": 10})(
        tiny_model, explainer, tiny_images
    )
    assert (worst >= random).all(), (worst, random)


def test_worst_case_ascent_beats_its_own_random_start(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    explainer = EXPLAINERS.create("saliency")
    t = tiny_model(tiny_images).argmax(1)
    kwargs = {"radius": 0.05, "step_size": 0.0125, "seed": 0}
    start = worst_case_sensitivity(tiny_model, explainer, tiny_images, t, steps=0, **kwargs)
    ascended = worst_case_sensitivity(tiny_model, explainer, tiny_images, t, steps=10, **kwargs)
    assert (ascended > start).all()


def test_worst_case_stays_in_the_ball(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    seen: list[torch.Tensor] = []

    class Recording(Explainer):
        name, title, citation = "recording", "recording", "test"

        def _attribute(self, model, x, target, create_graph):  # type: ignore[no-untyped-def]
            seen.append(x.detach().clone())
            return EXPLAINERS.create("saliency")._attribute(model, x, target, create_graph)

    t = tiny_model(tiny_images).argmax(1)
    worst_case_sensitivity(
        tiny_model, Recording(), tiny_images, t, radius=0.03, steps=4, step_size=0.02, clip=True, restarts=2
    )
    for z in seen:
        assert (z - tiny_images).abs().max() <= 0.03 + 1e-6 and z.min() >= 0 and z.max() <= 1


def test_input_independent_map_has_zero_sensitivity() -> None:
    """Saliency of a linear model is |w| everywhere: both estimates are 0, and the ascent finds no direction."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(2, 1, 4, 4)
    explainer = EXPLAINERS.create("saliency")
    for name in ("max_sensitivity", "worst_case_sensitivity"):
        torch.testing.assert_close(METRICS.create(name)(model, explainer, x), torch.zeros(2))


def test_worst_case_refuses_display_only_explainers(tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    class DisplayOnly(Explainer):
        name, title, citation, differentiable = "display_only", "display only", "test", False

        def _attribute(self, model, x, target, create_graph):  # type: ignore[no-untyped-def]
            return x.clone()

    with pytest.raises(IncompatibleError, match="create_graph"):
        METRICS.create("worst_case_sensitivity")(tiny_model, DisplayOnly(), tiny_images)
