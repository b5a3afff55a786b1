"""Attribution methods: our own differentiable ones (create_graph) and Captum adapters for display."""

from __future__ import annotations

from explainlab.explain.base import Explainer, normalize_map, saliency_map
from explainlab.explain.captum_methods import (
    CaptumDeepLift,
    CaptumGradCAM,
    CaptumGradientShap,
    CaptumGuidedBackprop,
    CaptumInputXGradient,
    CaptumIntegratedGradients,
    CaptumKernelShap,
    CaptumLime,
    CaptumOcclusion,
    CaptumSaliency,
    CaptumSmoothGrad,
)
from explainlab.explain.gradcam import GradCAM
from explainlab.explain.input_x_gradient import InputXGradient
from explainlab.explain.integrated_gradients import IntegratedGradients
from explainlab.explain.saliency import Saliency
from explainlab.explain.smoothgrad import SmoothGrad
from explainlab.registry import Registry

EXPLAINERS: Registry[Explainer] = Registry.of(
    "explainer",
    Saliency,
    InputXGradient,
    IntegratedGradients,
    SmoothGrad,
    GradCAM,
    CaptumIntegratedGradients,
    CaptumSaliency,
    CaptumSmoothGrad,
    CaptumGradCAM,
    CaptumDeepLift,
    CaptumGradientShap,
    CaptumGuidedBackprop,
    CaptumInputXGradient,
    CaptumOcclusion,
    CaptumLime,
    CaptumKernelShap,
)

__all__ = ["EXPLAINERS", "Explainer", "normalize_map", "saliency_map"]
