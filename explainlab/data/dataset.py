"""ImageDataset: the one result type of every loader (uint8 NCHW images, int64 labels, class names, source)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """One split of an image classification dataset, held in memory.

    ``images`` is uint8 (N, C, H, W) with 0..255 pixels; ``labels`` is int64 (N,) indexing ``classes``;
    ``source`` says where it came from (a path, a URL-derived path, or ``synthetic:...``).
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.ndim != 1:
            raise ValueError(f"labels must be int64 (N,), got {self.labels.dtype} {tuple(self.labels.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ValueError(f"labels must lie in [0, {len(self.classes)}) for classes {self.classes}")
        object.__setattr__(self, "classes", tuple(self.classes))

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"shape={self.shape}, classes={len(self.classes)}, source={self.source!r})"
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """The (C, H, W) shape of one image."""
        c, h, w = self.images.shape[1:]
        return (int(c), int(h), int(w))

    def float_images(self) -> torch.Tensor:
        """The images as float32 NCHW in [0, 1] (the library's pixel-space contract)."""
        return self.images.to(torch.float32).div_(255.0)

    def subset(self, index: slice | torch.Tensor | list[int]) -> ImageDataset:
        """A new dataset with the selected rows (a slice, an index tensor or a list of indices)."""
        if not isinstance(index, slice):
            index = torch.as_tensor(index, dtype=torch.int64)
        return ImageDataset(self.name, self.split, self.images[index], self.labels[index], self.classes, self.source)

    def histogram(self) -> list[int]:
        """Number of examples per class, in class order."""
        return label_histogram(self.labels, len(self.classes))


def label_histogram(labels: torch.Tensor | ImageDataset, num_classes: int | None = None) -> list[int]:
    """Counts per class index (0..num_classes-1); ``num_classes`` defaults to the dataset's classes or max+1."""
    if isinstance(labels, ImageDataset):
        num_classes = len(labels.classes) if num_classes is None else num_classes
        labels = labels.labels
    labels = torch.as_tensor(labels).to(torch.int64).flatten()
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if len(labels) else 0
    return [int(c) for c in torch.bincount(labels, minlength=num_classes)[:num_classes]]
