"""ResNet-20 for CIFAR-10 (He et al. 2016, arXiv:1512.03385, §4.2): 3 stages x 3 basic blocks, 16/32/64 wide."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from torch import Tensor, nn

from explainlab.params import Params


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn + shortcut, then relu; 1x1 conv shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    """CIFAR ResNet-20 (0.27M parameters); Grad-CAM reads the last block's output (8x8 on 32x32)."""

    name: ClassVar[str] = "resnet20"
    title: ClassVar[str] = "ResNet-20 (CIFAR)"
    citation: ClassVar[str] = "He, Zhang, Ren, Sun 2016, Deep Residual Learning, arXiv:1512.03385"
    cam_layer: ClassVar[str] = "layer3"
    default_input: ClassVar[tuple[int, int, int]] = (3, 32, 32)

    class Params(Params):
        in_channels: int = Field(3, ge=1, le=4, description="input channels")
        num_classes: int = Field(10, ge=2, le=1000, description="output classes")
        blocks_per_stage: int = Field(3, ge=1, le=18, description="n in the 6n+2 depth (3 -> ResNet-20)")

    def __init__(self, params: ResNet20.Params | None = None) -> None:
        super().__init__()
        p = params or self.Params()
        self.params = p
        self.conv1 = nn.Conv2d(p.in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(16, 16, 1, p.blocks_per_stage)
        self.layer2 = self._stage(16, 32, 2, p.blocks_per_stage)
        self.layer3 = self._stage(32, 64, 2, p.blocks_per_stage)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, p.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _stage(cin: int, cout: int, stride: int, n: int) -> nn.Sequential:
        return nn.Sequential(*[BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(n)])

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 16, 32, 32)
        x = self.layer3(self.layer2(self.layer1(x)))  # (N, 64, 8, 8)
        return self.fc(self.pool(x).flatten(1))  # (N, classes)
