"""SmallCNN for MNIST / Fashion-MNIST: conv32-pool-conv64-pool-fc128 (0.42M parameters; ``hidden`` widens the head)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from torch import Tensor, nn

from explainlab.params import Params


class SmallCNN(nn.Module):
    """Two 3x3 conv blocks and a 128-unit head; every activation is an ``nn.ReLU`` module (swappable)."""

    name: ClassVar[str] = "small_cnn"
    title: ClassVar[str] = "SmallCNN (conv32-conv64-fc128)"
    citation: ClassVar[str] = "LeNet-style CNN as in environment.md; cf. Madry et al. 2018 MNIST CNN"
    cam_layer: ClassVar[str] = "relu2"  # last conv activation, 14x14 on 28x28 input
    default_input: ClassVar[tuple[int, int, int]] = (1, 28, 28)

    class Params(Params):
        in_channels: int = Field(1, ge=1, le=4, description="input channels")
        num_classes: int = Field(10, ge=2, le=1000, description="output classes")
        input_size: int = Field(28, ge=8, le=256, description="input height = width (divisible by 4)")
        hidden: int = Field(128, ge=8, le=4096, description="units of the fully connected head (Madry et al.: 1024)")

    def __init__(self, params: SmallCNN.Params | None = None) -> None:
        super().__init__()
        p = params or self.Params()
        self.params = p
        self.conv1 = nn.Conv2d(p.in_channels, 32, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64 * (p.input_size // 4) ** 2, p.hidden)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(p.hidden, p.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))  # (N, 32, H/2, W/2)
        x = self.pool2(self.relu2(self.conv2(x)))  # (N, 64, H/4, W/4)
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))  # (N, classes)
