"""Synthetic, learnable image datasets for tests; deterministic per seed, never substituted for real data.

- ``blobs``: a bright square whose position depends on the class (cells of a grid), on a noisy background.
- ``stripes``: stripes whose orientation (horizontal / vertical) and period depend on the class, random phase.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from explainlab.data.dataset import ImageDataset

KINDS = ("blobs", "stripes")


def _blobs(rng: np.random.Generator, labels: np.ndarray, channels: int, size: int, classes: int) -> np.ndarray:
    grid = math.ceil(math.sqrt(classes))
    cell = size // grid
    if cell < 1:
        raise ValueError(f"size {size} is too small for {classes} blob positions (needs >= {grid})")
    side = max(1, cell // 2)
    images = rng.uniform(0.0, 0.3, size=(len(labels), channels, size, size))
    for k, c in enumerate(labels):
        row, col = divmod(int(c), grid)
        y = row * cell + int(rng.integers(0, cell - side + 1))
        x = col * cell + int(rng.integers(0, cell - side + 1))
        images[k, :, y : y + side, x : x + side] = rng.uniform(0.75, 1.0, size=(channels, 1, 1))
    return images


def _stripes(rng: np.random.Generator, labels: np.ndarray, channels: int, size: int, classes: int) -> np.ndarray:
    coords = np.arange(size)
    images = np.empty((len(labels), channels, size, size))
    for k, c in enumerate(labels):
        period = 2 * (1 + int(c) // 2)
        wave = ((coords + int(rng.integers(0, period))) % period) < period // 2
        images[k] = 0.15 + 0.7 * (wave[:, None] if int(c) % 2 == 0 else wave[None, :])
    return images + rng.normal(0.0, 0.08, size=images.shape)


def synthetic_dataset(
    kind: str = "blobs",
    n: int = 64,
    channels: int = 1,
    size: int = 8,
    classes: int = 3,
    seed: int = 0,
    split: str = "train",
) -> ImageDataset:
    """``n`` class-balanced images (uint8 NCHW) of a learnable synthetic task; the same seed gives the same data."""
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic kind {kind!r}; valid: {', '.join(KINDS)}")
    if n < 1 or channels < 1 or size < 2 or classes < 2:
        raise ValueError("need n >= 1, channels >= 1, size >= 2 and classes >= 2")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % classes)
    make = _blobs if kind == "blobs" else _stripes
    images = np.clip(np.rint(make(rng, labels, channels, size, classes) * 255.0), 0, 255).astype(np.uint8)
    return ImageDataset(
        name=f"synthetic_{kind}",
        split=split,
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels.astype(np.int64)),
        classes=tuple(f"class_{i}" for i in range(classes)),
        source=f"synthetic:{kind}(n={n}, channels={channels}, size={size}, classes={classes}, seed={seed})",
    )
