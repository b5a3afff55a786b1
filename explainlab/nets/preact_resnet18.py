"""PreAct-ResNet-18 for CIFAR-10 (He et al. 2016, Identity Mappings, arXiv:1603.05027), 11M parameters."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from torch import Tensor, nn

from explainlab.params import Params


class PreActBlock(nn.Module):
    """bn-relu-conv-bn-relu-conv with an identity (or 1x1 conv) shortcut taken after the first bn-relu."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv2(self.relu2(self.bn2(self.conv1(out))))
        return out + skip


class PreActResNet18(nn.Module):
    """PreAct-ResNet-18, 64/128/256/512 wide; Grad-CAM reads the final bn-relu (4x4 on 32x32)."""

    name: ClassVar[str] = "preact_resnet18"
    title: ClassVar[str] = "PreAct-ResNet-18"
    citation: ClassVar[str] = "He, Zhang, Ren, Sun 2016, Identity Mappings in Deep Residual Networks, arXiv:1603.05027"
    cam_layer: ClassVar[str] = "relu"
    default_input: ClassVar[tuple[int, int, int]] = (3, 32, 32)

    class Params(Params):
        in_channels: int = Field(3, ge=1, le=4, description="input channels")
        num_classes: int = Field(10, ge=2, le=1000, description="output classes")
        width: int = Field(64, ge=8, le=128, description="channels of the first stage (doubles per stage)")

    def __init__(self, params: PreActResNet18.Params | None = None) -> None:
        super().__init__()
        p = params or self.Params()
        self.params = p
        w = p.width
        self.conv1 = nn.Conv2d(p.in_channels, w, 3, 1, 1, bias=False)
        stages, cin = [], w
        for i, stride in enumerate((1, 2, 2, 2)):
            cout = w * 2**i
            stages.append(nn.Sequential(PreActBlock(cin, cout, stride), PreActBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, p.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))  # (N, 8w, H/8, W/8)
        x = self.relu(self.bn(x))
        return self.fc(self.pool(x).flatten(1))  # (N, classes)
