"""Common corruptions in torch (our OOD measure): noise, blur, contrast, brightness, salt-and-pepper; 3 severities.

Every corruption maps images (N, C, H, W) in [0, 1] to images of the same shape in [0, 1]; randomness comes from an
explicit ``torch.Generator`` so a report is reproducible. Parameters follow the spirit of CIFAR-10-C (Hendrycks &
Dietterich 2019, arXiv:1903.12261; our severities 1/2/3 sit near their 1/3/5) for 32 px images; the 28 px column is
stronger for noise, blur and brightness because MNIST-like digits (thin strokes on black) shrug off CIFAR-sized
changes. Table (``SEVERITIES``), parameter per severity 1, 2, 3:

============== ======================================= ================== ==================
corruption     parameter                               28 px              32 px
============== ======================================= ================== ==================
gaussian_noise std of added N(0, s^2) noise              0.10 0.25 0.40     0.04 0.08 0.10
gaussian_blur  std (pixels) of the Gaussian kernel       0.5  1.0  1.5      0.4  0.7  1.0
contrast       factor c: m + c (x - m), m = image mean   0.5  0.3  0.15     0.75 0.4  0.15
brightness     offset b added to every pixel             0.2  0.35 0.5      0.1  0.2  0.3
salt_pepper    fraction p of pixels set to 0 or 1        0.03 0.06 0.10     0.01 0.03 0.07
============== ======================================= ================== ==================

The 28 px column applies to images of side <= 28 (MNIST, Fashion-MNIST), the 32 px column to larger ones.
Adversarial robustness is measured elsewhere (eval/benchmark.py); these are average-case shifts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Corruption = Callable[[Tensor, float, torch.Generator], Tensor]

SEVERITIES: dict[str, dict[str, tuple[float, float, float]]] = {
    "28px": {
        "gaussian_noise": (0.10, 0.25, 0.40),
        "gaussian_blur": (0.5, 1.0, 1.5),
        "contrast": (0.5, 0.3, 0.15),
        "brightness": (0.2, 0.35, 0.5),
        "salt_pepper": (0.03, 0.06, 0.10),
    },
    "32px": {
        "gaussian_noise": (0.04, 0.08, 0.10),
        "gaussian_blur": (0.4, 0.7, 1.0),
        "contrast": (0.75, 0.4, 0.15),
        "brightness": (0.1, 0.2, 0.3),
        "salt_pepper": (0.01, 0.03, 0.07),
    },
}


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """x + N(0, std^2) per entry, clipped to [0, 1]."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + std * noise).clamp(0.0, 1.0)


def gaussian_blur(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """Separable Gaussian blur per channel, kernel radius ceil(3 sigma), replicate padding (deterministic)."""
    del generator  # deterministic; the argument keeps one signature for all corruptions
    radius = max(1, math.ceil(3 * sigma))
    coords = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()  # (2r+1,)
    n, c, h, w = x.shape
    flat = x.reshape(n * c, 1, h, w)  # (N*C, 1, H, W): one channel at a time
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w).clamp(0.0, 1.0)


def contrast(x: Tensor, factor: float, generator: torch.Generator | None = None) -> Tensor:
    """m + factor (x - m) with m the per-image mean over channels and pixels (CIFAR-10-C's contrast)."""
    del generator
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    return (mean + factor * (x - mean)).clamp(0.0, 1.0)


def brightness(x: Tensor, offset: float, generator: torch.Generator | None = None) -> Tensor:
    """x + offset, clipped (a torch-only stand-in for CIFAR-10-C's HSV value shift)."""
    del generator
    return (x + offset).clamp(0.0, 1.0)


def salt_pepper(x: Tensor, fraction: float, generator: torch.Generator) -> Tensor:
    """A ``fraction`` of pixel positions (all channels together) set to 0 or 1 with equal odds (impulse noise)."""
    n, _, h, w = x.shape
    u = torch.rand((n, 1, h, w), generator=generator, device=x.device, dtype=x.dtype)
    salt = torch.rand((n, 1, h, w), generator=generator, device=x.device, dtype=x.dtype) < 0.5
    value = salt.to(x.dtype).expand_as(x)  # (N, C, H, W): 1 for salt, 0 for pepper
    return torch.where((u < fraction).expand_as(x), value, x)


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise,
    "gaussian_blur": gaussian_blur,
    "contrast": contrast,
    "brightness": brightness,
    "salt_pepper": salt_pepper,
}


def resolution(shape: tuple[int, ...] | torch.Size) -> str:
    """The severity column for images of this (..., H, W) shape: "28px" for side <= 28, else "32px"."""
    return "28px" if max(int(shape[-1]), int(shape[-2])) <= 28 else "32px"


def severity_table(shape: tuple[int, ...] | torch.Size) -> dict[str, tuple[float, float, float]]:
    """Parameters per corruption and severity (1, 2, 3) for images of this shape."""
    return SEVERITIES[resolution(shape)]


def corrupt(x: Tensor, name: str, severity: int, *, seed: int = 0) -> Tensor:
    """Apply corruption ``name`` at ``severity`` (1, 2 or 3) with the parameter of the image size's column."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; valid: {', '.join(CORRUPTIONS)}")
    if severity not in (1, 2, 3):
        raise ValueError(f"severity must be 1, 2 or 3, got {severity}")
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected float images (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return CORRUPTIONS[name](x, severity_table(x.shape)[name][severity - 1], generator)
