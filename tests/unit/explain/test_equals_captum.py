"""Our differentiable explainers equal Captum's on the same model and inputs (atol 1e-5, rtol 0).

Riemann rules use 32 steps: Captum builds their path points with float32 ``torch.linspace``, so with e.g. 50 steps
its alphas differ from the exact k/n by ~3e-8, enough to flip a ReLU on a deep piecewise-linear net (seen: ResNet-20,
riemann_middle, 50 steps, float32: 4.7e-5). With a power-of-two step count both sides use the same, exact points.
"""

from __future__ import annotations

import pytest
import torch
from captum.attr import InputXGradient as CaptumInputXGradient
from captum.attr import IntegratedGradients as CaptumIntegratedGradients
from captum.attr import LayerAttribution, LayerGradCam, NoiseTunnel
from captum.attr import Saliency as CaptumSaliency
from torch import Tensor, nn

from explainlab.explain import EXPLAINERS
from explainlab.explain.gradcam import gradcam
from explainlab.nets import build_model, cam_layer

pytestmark = pytest.mark.crosscheck

CASES = ["tiny", "tiny_rgb", "small_cnn", "small_cnn_f64", "resnet20", "resnet20_f64"]
RULES = ["gausslegendre", "riemann_right", "riemann_left", "riemann_middle"]
TOL = {"atol": 1e-5, "rtol": 0.0}


def real_model(arch: str) -> tuple[nn.Module, Tensor]:
    """A randomly initialised lab net in eval mode with non-trivial BatchNorm statistics, and 2 random images."""
    gen = torch.Generator().manual_seed(5)
    if arch == "small_cnn":
        model, shape = build_model("small_cnn", [0.1307], [0.3081]), (1, 28, 28)
    else:
        model, shape = build_model("resnet20", [0.5] * 3, [0.25] * 3), (3, 32, 32)
    with torch.no_grad():
        model.train()(torch.rand(32, *shape, generator=gen))  # move the running statistics off (0, 1)
    return model.eval(), torch.rand(2, *shape, generator=gen)


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> tuple[nn.Module, Tensor, Tensor]:
    """(model in eval mode, images in [0, 1], (N,) targets) for each model the comparison runs on."""
    name = request.param
    if name == "tiny":
        model, x = request.getfixturevalue("tiny_model"), request.getfixturevalue("tiny_images")
    elif name == "tiny_rgb":
        model, x = request.getfixturevalue("tiny_rgb_model"), torch.rand(4, 3, 8, 8)
    else:
        model, x = real_model(name.removesuffix("_f64"))
        if name.endswith("_f64"):
            model, x = model.double(), x.double()
    return model, x, torch.arange(x.shape[0]) % 3


def leaf(x: Tensor) -> Tensor:
    """What Captum gets: a copy that already requires grad (else it warns and flips the flag on our tensor)."""
    return x.clone().requires_grad_(True)


def ours(name: str, model: nn.Module, x: Tensor, target: Tensor, **params: object) -> Tensor:
    return EXPLAINERS.create(name, params).explain(model, x, target)


@pytest.mark.parametrize(("rule", "steps"), [("gausslegendre", 50)] + [(rule, 32) for rule in RULES])
def test_integrated_gradients(case: tuple, rule: str, steps: int) -> None:
    model, x, target = case
    mine = ours("integrated_gradients", model, x, target, steps=steps, rule=rule, chunk=16)
    theirs = CaptumIntegratedGradients(model).attribute(
        leaf(x), baselines=0.0, target=target, n_steps=steps, method=rule
    )
    torch.testing.assert_close(mine, theirs, **TOL)


def test_integrated_gradients_with_a_grey_baseline(case: tuple) -> None:
    model, x, target = case
    mine = ours("integrated_gradients", model, x, target, steps=32, baseline=0.5)
    theirs = CaptumIntegratedGradients(model).attribute(leaf(x), baselines=0.5, target=target, n_steps=32)
    torch.testing.assert_close(mine, theirs, **TOL)


def test_trapezoid_differs_from_captum_by_n_over_n_minus_1(tiny_model: nn.Module, tiny_images: Tensor) -> None:
    """Known discrepancy: Captum's riemann_trapezoid weights are 1/n (halved at the ends), summing to (n-1)/n; ours
    are 1/(n-1) (the trapezoid rule on n points), summing to 1. Same points, so the maps differ by exactly n/(n-1)."""
    target, n = torch.tensor([0, 1, 2, 0]), 65  # 65 points: spacing 1/64, exact in float32 too
    mine = ours("integrated_gradients", tiny_model, tiny_images, target, steps=n, rule="riemann_trapezoid")
    theirs = CaptumIntegratedGradients(tiny_model).attribute(
        leaf(tiny_images), target=target, n_steps=n, method="riemann_trapezoid"
    )
    assert (mine - theirs).abs().max() > 1e-4
    torch.testing.assert_close(mine * (n - 1) / n, theirs, **TOL)


@pytest.mark.parametrize("absolute", [True, False])
def test_saliency(case: tuple, absolute: bool) -> None:
    model, x, target = case
    mine = ours("saliency", model, x, target, abs=absolute)
    torch.testing.assert_close(mine, CaptumSaliency(model).attribute(leaf(x), target=target, abs=absolute), **TOL)


def test_input_x_gradient(case: tuple) -> None:
    model, x, target = case
    mine = ours("input_x_gradient", model, x, target)
    torch.testing.assert_close(mine, CaptumInputXGradient(model).attribute(leaf(x), target=target), **TOL)


@pytest.mark.parametrize("relu", [True, False])
def test_gradcam_layer_map(case: tuple, relu: bool) -> None:
    model, x, target = case
    mine = gradcam(model, x, target, relu=relu, create_graph=False)
    theirs = LayerGradCam(model, cam_layer(model)).attribute(leaf(x), target=target, relu_attributions=relu)
    assert mine.shape == theirs.shape and mine.shape[1] == 1
    torch.testing.assert_close(mine.detach(), theirs, **TOL)


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
@pytest.mark.parametrize("relu", [True, False])
def test_gradcam_upsampled(case: tuple, relu: bool, upsample: str) -> None:
    model, x, target = case
    mine = ours("gradcam", model, x, target, relu=relu, upsample=upsample)
    layer_map = LayerGradCam(model, cam_layer(model)).attribute(leaf(x), target=target, relu_attributions=relu)
    theirs = LayerAttribution.interpolate(layer_map, tuple(x.shape[-2:]), upsample)
    assert mine.shape == (x.shape[0], 1, *x.shape[-2:])
    torch.testing.assert_close(mine, theirs, **TOL)


def test_smoothgrad_without_noise_is_the_signed_gradient(case: tuple) -> None:
    """The noise streams differ (ours: a torch.Generator, clipped to [0, 1]), so compare the noiseless limit."""
    model, x, target = case
    mine = ours("smoothgrad", model, x, target, samples=3, stdev=0.0)
    theirs = NoiseTunnel(CaptumSaliency(model)).attribute(
        leaf(x), nt_type="smoothgrad", nt_samples=3, stdevs=0.0, target=target, abs=False
    )
    torch.testing.assert_close(mine, theirs, **TOL)


@pytest.mark.parametrize(
    ("own", "adapter", "params"),
    [
        ("saliency", "captum_saliency", {"abs": False}),
        ("input_x_gradient", "captum_input_x_gradient", {}),
        ("integrated_gradients", "captum_integrated_gradients", {"steps": 32, "rule": "riemann_right"}),
        ("gradcam", "captum_gradcam", {"relu": False, "upsample": "bilinear"}),
    ],
)
def test_adapters_equal_our_explainers(case: tuple, own: str, adapter: str, params: dict) -> None:
    model, x, target = case
    torch.testing.assert_close(ours(adapter, model, x, target, **params), ours(own, model, x, target, **params), **TOL)
