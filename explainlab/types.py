"""Documentation-only tensor aliases; shapes are given in the comments."""

from __future__ import annotations

from typing import Literal, TypeAlias

from torch import Tensor

Images: TypeAlias = Tensor  # (N, C, H, W) float in [0, 1]
Labels: TypeAlias = Tensor  # (N,) int64 class indices
Attribution: TypeAlias = Tensor  # (N, C, H, W) or (N, 1, H, W), signed
SaliencyMap: TypeAlias = Tensor  # (N, H, W), non-negative per-pixel map
Norm: TypeAlias = Literal["linf", "l2"]
