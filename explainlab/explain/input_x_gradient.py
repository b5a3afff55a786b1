"""Input x Gradient."""

from __future__ import annotations

from torch import Tensor, nn

from explainlab.explain.base import Explainer, GradientParams, input_gradient


class InputXGradient(Explainer):
    """Shrikumar et al. 2016 (arXiv:1605.01713): A = x * d f_t / dx."""

    name = "input_x_gradient"
    title = "Input x Gradient"
    citation = "Shrikumar, Greenside, Shcherbina, Kundaje 2016, arXiv:1605.01713"
    Params = GradientParams

    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
        return x * input_gradient(model, x, target, create_graph)
