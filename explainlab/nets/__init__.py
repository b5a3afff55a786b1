"""Architectures (no torchvision) and the Normalized wrapper; NETS lists every architecture."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from explainlab.errors import IncompatibleError
from explainlab.nets.centered_logits import CenteredLogits
from explainlab.nets.normalized import Normalized
from explainlab.nets.preact_resnet18 import PreActResNet18
from explainlab.nets.resnet20 import ResNet20
from explainlab.nets.small_cnn import SmallCNN
from explainlab.nets.smoothing import softplus_relus
from explainlab.registry import Registry

NETS: Registry[nn.Module] = Registry.of(
    "net",
    SmallCNN,
    ResNet20,
    PreActResNet18,
)


def build_model(net: str, mean: Sequence[float], std: Sequence[float], **params: object) -> Normalized:
    """A ready-to-train model: ``Normalized(NETS[net](Params(**params)), mean, std)``."""
    cls = NETS[net]
    return Normalized(cls(cls.Params(**params)), mean, std)  # type: ignore[attr-defined,call-arg]


def cam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM reads: the net's declared ``cam_layer``, else the last conv layer."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    model = model.model if isinstance(model, CenteredLogits) else model
    net = model.net if isinstance(model, Normalized) else model
    declared = getattr(net, "cam_layer", None)
    if isinstance(declared, str):
        return net.get_submodule(declared)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise IncompatibleError("Grad-CAM needs a convolutional layer; this model has none")
    return convs[-1]


__all__ = ["NETS", "Normalized", "PreActResNet18", "ResNet20", "SmallCNN", "build_model", "cam_layer", "softplus_relus"]
