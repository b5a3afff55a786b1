"""Grad-CAM on the net's declared layer, upsampled to the input; differentiable when asked (EGAT needs it)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import Explainer, GradientParams, class_scores
from explainlab.nets import cam_layer


def gradcam(
    model: nn.Module, x: Tensor, target: Tensor, *, relu: bool, create_graph: bool, layer: nn.Module | None = None
) -> Tensor:
    """Layer map sum_k alpha_k A_k with alpha_k = mean_ij d f_t / dA_k: (N, 1, h, w) at the layer's resolution."""
    layer = layer if layer is not None else cam_layer(model)
    x = x if x.requires_grad else x.detach().requires_grad_(True)  # frozen weights still need a graph to the layer
    captured: list[Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        logits = model(x)
    finally:
        handle.remove()
    if len(captured) != 1:
        raise RuntimeError(f"Grad-CAM layer ran {len(captured)} times in one forward pass; expected once")
    act = captured[0]  # (N, K, h, w)
    (grad,) = torch.autograd.grad(class_scores(logits, target).sum(), act, create_graph=create_graph)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    cam = (weights * act).sum(1, keepdim=True)  # (N, 1, h, w)
    return F.relu(cam) if relu else cam


class GradCAM(Explainer):
    """Selvaraju et al. 2017 (arXiv:1610.02391): ReLU(sum_k alpha_k A_k), alpha_k = mean_ij d f_t/dA_k, upsampled."""

    name = "gradcam"
    title = "Grad-CAM"
    citation = "Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra 2017, arXiv:1610.02391"

    class Params(GradientParams):
        relu: bool = Field(True, description="keep only positive evidence (the paper's ReLU)")
        upsample: Literal["bilinear", "nearest"] = Field("bilinear", description="interpolation to the input size")

    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
        p = self.params
        cam = gradcam(model, x, target, relu=p.relu, create_graph=create_graph)  # type: ignore[attr-defined]
        mode = p.upsample  # type: ignore[attr-defined]
        kwargs = {"align_corners": False} if mode == "bilinear" else {}
        return F.interpolate(cam, size=x.shape[-2:], mode=mode, **kwargs)  # (N, 1, H, W)
