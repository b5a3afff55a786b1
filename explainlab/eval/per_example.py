"""Per-image values of a report's numbers: their compact encoding in ``report.json`` and the paired difference of two
models measured on the same images (the claims' standard errors, ``bench/rar_paired.py``)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def scored(value: float | None) -> bool:
    """A per-image value that counts: not None (image not scored) and not NaN."""
    return value is not None and not math.isnan(value)


def encode_per_example(values: Sequence[float | None]) -> str:
    """Per-image values as one compact string: ``1``/``0`` for outcomes, 4 decimals otherwise, ``-`` for an image
    not scored (None or NaN)."""
    return " ".join(f"{v:.4f}".rstrip("0").rstrip(".") if scored(v) else "-" for v in values)


def decode_per_example(text: str | None) -> list[float | None] | None:
    """The inverse of ``encode_per_example`` (None for a missing or malformed string: it only sharpens a claim's
    standard error, so a report without it is still valid)."""
    if not text:
        return None
    try:
        return [None if t == "-" else float(t) for t in text.split(" ")]
    except ValueError:
        return None


def paired_difference(a: Sequence[float | None], b: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean of a - b over the images where both are scored (not None or NaN), its standard error std(a - b) / sqrt(n),
    and n. Two models measured on the same images share much of their noise, so this error is far below the unpaired
    one."""
    diff = [u - v for u, v in zip(a, b, strict=True) if scored(u) and scored(v)]
    n = len(diff)
    mean = sum(diff) / n if n else None
    se = math.sqrt(sum((d - mean) ** 2 for d in diff) / (n - 1) / n) if n > 1 else None
    return {"mean": mean, "se": se, "n": n}
