"""Saliency: the input gradient of the class score."""

from __future__ import annotations

from pydantic import Field
from torch import Tensor, nn

from explainlab.explain.base import Explainer, GradientParams, input_gradient


class Saliency(Explainer):
    """Simonyan, Vedaldi, Zisserman 2014 (arXiv:1312.6034): A = |d f_t / dx| (or the signed gradient)."""

    name = "saliency"
    title = "Saliency (input gradient)"
    citation = "Simonyan, Vedaldi, Zisserman 2014, arXiv:1312.6034"

    class Params(GradientParams):
        abs: bool = Field(True, description="absolute value of the gradient (Captum's default)")

    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
        grad = input_gradient(model, x, target, create_graph)
        return grad.abs() if self.params.abs else grad  # type: ignore[attr-defined]
