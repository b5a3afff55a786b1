"""One small adapter per Captum attribution method (the display menu); none of them is differentiable.

Captum is imported inside each call: it pulls in matplotlib (0.7 s), which training and the CLI never need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn
from torch.utils.data import DataLoader

from explainlab.errors import IncompatibleError
from explainlab.explain.base import ExplainerParams
from explainlab.explain.captum_adapter import CaptumExplainer
from explainlab.explain.integrated_gradients import PathRule
from explainlab.nets import cam_layer

if TYPE_CHECKING:
    from captum.attr import Lime

PER_EVAL = 64  # perturbed copies per forward pass (Occlusion 166 -> 45 ms, environment.md)
MAX_FEATURES = 1024  # LIME / KernelSHAP interpretable features (patches)


def seed_field() -> Any:
    return Field(0, ge=0, le=2**32 - 1, description="random seed (same seed, same map)")


def baseline_field() -> Any:
    return Field(0.0, ge=0.0, le=1.0, description="constant baseline pixel value (0 = black)")


class CaptumIntegratedGradients(CaptumExplainer):
    """Sundararajan, Taly, Yan 2017 (arXiv:1703.01365) via Captum's IntegratedGradients."""

    name = "captum_integrated_gradients"
    title = "Integrated Gradients (Captum)"
    citation = "Sundararajan, Taly, Yan 2017, arXiv:1703.01365"

    class Params(ExplainerParams):
        steps: int = Field(50, ge=2, le=1024, description="path points (Captum's n_steps)")
        rule: PathRule = Field("gausslegendre", description="quadrature rule (Captum's method)")
        baseline: float = baseline_field()
        batch: int = Field(256, ge=1, le=4096, description="path points x images per forward pass (memory)")

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import IntegratedGradients

        p = self.params
        ig = IntegratedGradients(model)
        return ig.attribute(
            x, baselines=p.baseline, target=target, n_steps=p.steps, method=p.rule, internal_batch_size=p.batch
        )


class CaptumSaliency(CaptumExplainer):
    """Simonyan, Vedaldi, Zisserman 2014 (arXiv:1312.6034) via Captum's Saliency."""

    name = "captum_saliency"
    title = "Saliency (Captum)"
    citation = "Simonyan, Vedaldi, Zisserman 2014, arXiv:1312.6034"

    class Params(ExplainerParams):
        abs: bool = Field(True, description="absolute value of the gradient (Captum's default)")

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import Saliency

        return Saliency(model).attribute(x, target=target, abs=self.params.abs)


class CaptumSmoothGrad(CaptumExplainer):
    """Smilkov et al. 2017 (arXiv:1706.03825) via Captum's NoiseTunnel(Saliency), nt_type smoothgrad."""

    name = "captum_smoothgrad"
    title = "SmoothGrad (Captum)"
    citation = "Smilkov, Thorat, Kim, Viegas, Wattenberg 2017, arXiv:1706.03825"

    class Params(ExplainerParams):
        samples: int = Field(25, ge=1, le=512, description="noisy copies averaged")
        stdev: float = Field(0.15, ge=0.0, le=1.0, description="noise standard deviation in pixel units")
        abs: bool = Field(False, description="average |gradient| instead of the signed gradient")
        seed: int = seed_field()

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import NoiseTunnel, Saliency

        p = self.params
        nt = NoiseTunnel(Saliency(model))
        return nt.attribute(
            x, nt_type="smoothgrad", nt_samples=p.samples, nt_samples_batch_size=PER_EVAL, stdevs=p.stdev,
            target=target, abs=p.abs,
        )  # fmt: skip


class CaptumGradCAM(CaptumExplainer):
    """Selvaraju et al. 2017 (arXiv:1610.02391) via Captum's LayerGradCam on ``cam_layer(model)``, upsampled."""

    name = "captum_gradcam"
    title = "Grad-CAM (Captum)"
    citation = "Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra 2017, arXiv:1610.02391"

    class Params(ExplainerParams):
        relu: bool = Field(True, description="keep only positive evidence (the paper's ReLU)")
        upsample: Literal["bilinear", "nearest"] = Field("bilinear", description="interpolation to the input size")

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import LayerAttribution, LayerGradCam

        cam = LayerGradCam(model, cam_layer(model)).attribute(x, target=target, relu_attributions=self.params.relu)
        return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), self.params.upsample)  # (N, 1, H, W)


class CaptumDeepLift(CaptumExplainer):
    """Shrikumar, Greenside, Kundaje 2017 (arXiv:1704.02685) via Captum's DeepLift (Rescale rule)."""

    name = "captum_deeplift"
    title = "DeepLIFT (Captum)"
    citation = "Shrikumar, Greenside, Kundaje 2017, arXiv:1704.02685"

    class Params(ExplainerParams):
        baseline: float = baseline_field()

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import DeepLift

        try:
            return DeepLift(model).attribute(x, baselines=self.params.baseline, target=target)
        except RuntimeError as e:  # Captum's way of saying that a ReLU module ran twice in one forward pass
            if "more than once" not in str(e):
                raise
            raise IncompatibleError("DeepLIFT needs each nn.ReLU module used once per forward pass") from e


class CaptumGradientShap(CaptumExplainer):
    """Lundberg, Lee 2017 (arXiv:1705.07874) via Captum's GradientShap: expected gradients over random baselines."""

    name = "captum_gradient_shap"
    title = "GradientSHAP (Captum)"
    citation = "Lundberg, Lee 2017, arXiv:1705.07874"

    class Params(ExplainerParams):
        samples: int = Field(25, ge=1, le=512, description="random (baseline, path point) draws per image")
        stdev: float = Field(0.0, ge=0.0, le=1.0, description="input noise standard deviation in pixel units")
        baselines: Literal["black", "black_white", "uniform"] = Field(
            "black_white", description="baseline distribution: all-black, black or white, or 8 uniform-noise images"
        )
        seed: int = seed_field()

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import GradientShap

        p, like = self.params, {"dtype": x.dtype, "device": x.device}
        if p.baselines == "uniform":
            dist = torch.rand(8, *x.shape[1:], **like)
        else:
            dist = torch.zeros(1 + (p.baselines == "black_white"), *x.shape[1:], **like)
            dist[1:] = 1.0
        gs = GradientShap(model)
        return gs.attribute(x, baselines=dist, n_samples=p.samples, stdevs=p.stdev, target=target)


class CaptumGuidedBackprop(CaptumExplainer):
    """Springenberg, Dosovitskiy, Brox, Riedmiller 2015 (arXiv:1412.6806) via Captum's GuidedBackprop."""

    name = "captum_guided_backprop"
    title = "Guided Backpropagation (Captum)"
    citation = "Springenberg, Dosovitskiy, Brox, Riedmiller 2015, arXiv:1412.6806"

    class Params(ExplainerParams):
        """No hyperparameters."""

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import GuidedBackprop

        return GuidedBackprop(model).attribute(x, target=target)


class CaptumInputXGradient(CaptumExplainer):
    """Shrikumar, Greenside, Shcherbina, Kundaje 2016 (arXiv:1605.01713) via Captum's InputXGradient."""

    name = "captum_input_x_gradient"
    title = "Input x Gradient (Captum)"
    citation = "Shrikumar, Greenside, Shcherbina, Kundaje 2016, arXiv:1605.01713"

    class Params(ExplainerParams):
        """No hyperparameters."""

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import InputXGradient

        return InputXGradient(model).attribute(x, target=target)


class CaptumOcclusion(CaptumExplainer):
    """Zeiler, Fergus 2014 (arXiv:1311.2901) via Captum's Occlusion: score drop when a square window is blanked."""

    name = "captum_occlusion"
    title = "Occlusion (Captum)"
    citation = "Zeiler, Fergus 2014, arXiv:1311.2901"
    uses_gradients = False

    class Params(ExplainerParams):
        window: int = Field(4, ge=1, le=256, description="side of the square occluding window in pixels (<= image)")
        stride: int = Field(2, ge=1, le=256, description="window stride in pixels (<= window)")
        baseline: float = baseline_field()

        @model_validator(mode="after")
        def _stride_within_window(self) -> CaptumOcclusion.Params:
            if self.stride > self.window:
                raise ValueError(f"stride {self.stride} exceeds window {self.window}: pixels would be skipped")
            return self

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import Occlusion

        p, c = self.params, x.shape[1]
        if p.window > min(x.shape[-2:]):
            raise IncompatibleError(f"occlusion window {p.window} exceeds the {tuple(x.shape[-2:])} image")
        return Occlusion(model).attribute(
            x, sliding_window_shapes=(c, p.window, p.window), strides=(c, p.stride, p.stride),
            baselines=p.baseline, target=target, perturbations_per_eval=PER_EVAL,
        )  # fmt: skip


class WeightedLeastSquares:
    """Captum's interpretable model without scikit-learn: closed-form weighted ridge, intercept unpenalized."""

    def __init__(self, alpha: float = 0.0) -> None:
        self.alpha, self.coef = alpha, torch.empty(0)

    def fit(self, train_data: DataLoader, **kwargs: object) -> None:
        z, y, w = (torch.cat(t).double().cpu() for t in zip(*train_data, strict=True))
        z, y, sw = z.flatten(1), y.reshape(-1, 1), w.reshape(-1, 1).sqrt()  # (S, F), (S, 1), (S, 1)
        d = z.shape[1]
        rows = torch.cat([z, torch.ones_like(y)], 1) * sw
        ridge = torch.cat([torch.eye(d, dtype=z.dtype) * self.alpha**0.5, torch.zeros(d, 1, dtype=z.dtype)], 1)
        rhs = torch.cat([y * sw, torch.zeros(d, 1, dtype=z.dtype)])
        self.coef = torch.linalg.lstsq(torch.cat([rows, ridge]), rhs, driver="gelsd").solution[:d, 0]

    def representation(self) -> Tensor:
        return self.coef

    def __call__(self, x: Tensor) -> Tensor:
        return x.double().cpu() @ self.coef


def patch_features(method: Lime, x: Tensor, target: Tensor, patch: int, samples: int, baseline: float) -> Tensor:
    """LIME / KernelSHAP over a grid of square patches (no superpixels), one surrogate per image: like x."""
    h, w = x.shape[-2:]
    cols = -(-w // patch)
    if -(-h // patch) * cols > MAX_FEATURES:
        raise IncompatibleError(f"{patch}px patches give more than {MAX_FEATURES} features on a {h}x{w} image")
    ar = torch.arange(max(h, w), device=x.device) // patch
    mask = (ar[:h, None] * cols + ar[None, :w])[None, None]  # (1, 1, H, W) patch ids
    return torch.cat([
        method.attribute(
            x[i : i + 1], baselines=baseline, target=int(target[i]), feature_mask=mask, n_samples=samples,
            perturbations_per_eval=min(PER_EVAL, samples),
        )
        for i in range(x.shape[0])
    ])  # fmt: skip


class CaptumLime(CaptumExplainer):
    """Ribeiro, Singh, Guestrin 2016 (arXiv:1602.04938) via Captum's Lime on square patches, ridge surrogate."""

    name = "captum_lime"
    title = "LIME (Captum, patches)"
    citation = "Ribeiro, Singh, Guestrin 2016, arXiv:1602.04938"
    uses_gradients = False

    class Params(ExplainerParams):
        samples: int = Field(256, ge=2, le=2048, description="perturbed images scored per input image")
        patch: int = Field(4, ge=1, le=64, description="side of the square patches switched on/off, in pixels")
        baseline: float = baseline_field()
        alpha: float = Field(1.0, ge=0.0, le=1e4, description="ridge penalty of the linear surrogate")
        seed: int = seed_field()

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import Lime

        p = self.params
        lime = Lime(model, interpretable_model=WeightedLeastSquares(p.alpha))
        return patch_features(lime, x, target, p.patch, p.samples, p.baseline)


class CaptumKernelShap(CaptumExplainer):
    """Lundberg, Lee 2017 (arXiv:1705.07874) via Captum's KernelShap on square patches, least-squares surrogate."""

    name = "captum_kernel_shap"
    title = "KernelSHAP (Captum, patches)"
    citation = "Lundberg, Lee 2017, arXiv:1705.07874"
    uses_gradients = False

    class Params(ExplainerParams):
        samples: int = Field(256, ge=2, le=2048, description="coalitions scored per input image")
        patch: int = Field(4, ge=1, le=64, description="side of the square patches (players), in pixels")
        baseline: float = baseline_field()
        seed: int = seed_field()

    params: Params

    def _captum(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import KernelShap

        p = self.params
        shap = KernelShap(model)
        shap.interpretable_model = WeightedLeastSquares()  # Captum's default needs scikit-learn
        return patch_features(shap, x, target, p.patch, p.samples, p.baseline)
