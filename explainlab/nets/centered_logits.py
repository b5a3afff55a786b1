"""CenteredLogits(model): logits minus their mean over classes -- the same softmax and prediction, and maps of f_y
that a component shared by every logit cannot dominate (docs/zoo_findings.md, "The saliency term is met by a logit
shared by every class")."""

from __future__ import annotations

from torch import Tensor, nn


class CenteredLogits(nn.Module):
    """f_y(x) - mean_j f_j(x): softmax is invariant to a shift shared by every logit, so this is the part of the
    logit the classifier decides with; explaining it leaves out what explains no decision."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        return logits - logits.mean(1, keepdim=True)
