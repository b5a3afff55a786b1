"""Attribution maps and perturbations as PNG: own colormaps, one shared scale per row, a labelled grid export.

"heat" runs black -> deep purple -> red -> orange -> pale yellow with CIE L* rising about evenly along it, so
brighter always means more. "diverging" runs blue -> white -> red for signed maps, with 0 at white.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, features

from explainlab.errors import InvalidInputError, UnknownNameError
from explainlab.imageio import DEFAULT_MAX_PIXELS, decode_image, encode_png

ControlPoints = tuple[tuple[float, tuple[int, int, int]], ...]

COLORMAPS: dict[str, ControlPoints] = {
    # positions follow the L* of each colour (0, 13.5, 30.5, 47, 66, 83, 98) so lightness grows linearly
    "heat": (
        (0.00, (0, 0, 0)),
        (0.14, (45, 12, 95)),
        (0.31, (130, 22, 110)),
        (0.48, (205, 55, 60)),
        (0.67, (243, 130, 30)),
        (0.85, (250, 200, 70)),
        (1.00, (255, 250, 210)),
    ),
    "diverging": (
        (0.00, (35, 75, 165)),
        (0.25, (135, 175, 222)),
        (0.50, (255, 255, 255)),
        (0.75, (232, 150, 125)),
        (1.00, (170, 25, 40)),
    ),
}

_TEXT = (20, 20, 20)
_WHITE = (255, 255, 255)
_MAX_CELL = 1024
_FONT_SIZE = 12


def _control_points(cmap: str) -> ControlPoints:
    if cmap not in COLORMAPS:
        raise UnknownNameError("colormap", cmap, sorted(COLORMAPS))
    return COLORMAPS[cmap]


def colorize(values: np.ndarray, cmap: str = "heat") -> np.ndarray:
    """uint8 (..., 3) colours of ``values`` in [0, 1] (clipped; NaN -> 0), interpolated between control points."""
    points = _control_points(cmap)
    positions = np.array([p for p, _ in points])
    colours = np.array([c for _, c in points], dtype=np.float64)
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0), 0.0, 1.0)
    channels = [np.interp(v, positions, colours[:, k]) for k in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def colorbar_png(cmap: str = "heat", width: int = 256, height: int = 12) -> bytes:
    """A horizontal legend: the colormap from 0 (left) to 1 (right)."""
    row = colorize(np.linspace(0.0, 1.0, width), cmap)
    return encode_png(Image.fromarray(np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))))


def _as_array(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _as_map(s: torch.Tensor | np.ndarray) -> np.ndarray:
    """(H, W) float64 from (H, W), (1, H, W) or (1, 1, H, W)."""
    arr = _as_array(s)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"expected an (H, W) map, got shape {tuple(arr.shape)}")
    return arr


def map_scale(maps: Sequence[torch.Tensor | np.ndarray], percentile: float = 99.5) -> float:
    """One vmax for a row of maps: the ``percentile`` of |value| over all their pixels together.

    A few hot pixels thus saturate instead of darkening everything else. A sparse row whose percentile is 0
    falls back to its maximum; an all-zero (or empty) row gives 1.0.
    """
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    values = np.concatenate([np.abs(_as_array(m)).ravel() for m in maps]) if maps else np.zeros(0)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 1.0
    vmax = float(np.percentile(values, percentile))
    if vmax <= 0.0:
        vmax = float(values.max())
    return vmax if vmax > 0.0 else 1.0


def _normalise(s: np.ndarray, vmax: float, cmap: str) -> np.ndarray:
    """Values in [0, 1]: s / vmax for "heat", (s / vmax + 1) / 2 for "diverging" (0 -> the middle)."""
    vmax = vmax if np.isfinite(vmax) and vmax > 0 else 1.0
    v = s / vmax
    return np.clip((v + 1.0) / 2.0 if cmap == "diverging" else v, 0.0, 1.0)


def map_to_png(s: torch.Tensor | np.ndarray, vmax: float, cmap: str = "heat", scale: int = 1) -> bytes:
    """PNG of an (H, W) map: s / vmax clipped to [0, 1] and colorized (signed around white for "diverging")."""
    _control_points(cmap)
    rgb = colorize(_normalise(_as_map(s), vmax, cmap), cmap)
    return encode_png(Image.fromarray(rgb), scale)


CERTIFICATE_COLOURS = {1: (243, 130, 30), 0: (28, 24, 38), -1: (150, 150, 150)}  # important, unimportant, none


def certificate_png(verdict: torch.Tensor | np.ndarray, scale: int = 1) -> bytes:
    """PNG of a certified map's (H, W) verdicts: certified important orange, certified unimportant near-black, no
    certificate grey (explainlab/eval/certified_map.py)."""
    v = _as_array(verdict).astype(np.int64)
    rgb = np.zeros((*v.shape, 3), dtype=np.uint8)
    for value, colour in CERTIFICATE_COLOURS.items():
        rgb[v == value] = colour
    return encode_png(Image.fromarray(rgb), scale)


def perturbation_png(delta: torch.Tensor | np.ndarray, eps: float | None, scale: int = 1) -> bytes:
    """Heat map of max over channels of |delta|, divided by the L-inf budget ``eps``.

    With ``eps`` None or 0 (e.g. an L2 attack, whose budget is not a per-pixel bound) it is divided by its
    own maximum instead; an all-zero delta is all the heat map's first colour.
    """
    d = np.abs(_as_array(delta))
    while d.ndim > 3 and d.shape[0] == 1:
        d = d[0]
    magnitude = d.max(axis=0) if d.ndim == 3 else _as_map(d)
    denom = float(eps) if eps else float(np.nan_to_num(magnitude).max())
    return map_to_png(magnitude, denom if denom > 0 else 1.0, "heat", scale)


def overlay_png(
    image: torch.Tensor | np.ndarray,
    s: torch.Tensor | np.ndarray,
    vmax: float,
    alpha: float = 0.6,
    cmap: str = "heat",
    scale: int = 1,
) -> bytes:
    """The map blended over a greyscale copy of the (C, H, W) image; weak attribution lets the image show."""
    img = _as_array(image)
    while img.ndim > 3 and img.shape[0] == 1:
        img = img[0]
    grey = np.clip(img.mean(axis=0) if img.ndim == 3 else img, 0.0, 1.0) * 255.0
    m = _as_map(s)
    if m.shape != grey.shape:
        raise ValueError(f"map {m.shape} and image {grey.shape} differ in size")
    v = _normalise(m, vmax, cmap)
    strength = np.abs(2.0 * v - 1.0) if cmap == "diverging" else v
    weight = (np.clip(alpha, 0.0, 1.0) * strength)[..., None]
    blended = grey[..., None] * (1.0 - weight) + colorize(v, cmap) * weight
    return encode_png(Image.fromarray(np.rint(blended).astype(np.uint8)), scale)


@functools.lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font at 12 px (at its default 10 px spaces all but vanish); the bitmap one without FreeType."""
    return ImageFont.load_default(size=_FONT_SIZE) if features.check("freetype2") else ImageFont.load_default()


def _text_box(draw: ImageDraw.ImageDraw, text: str) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the ink of ``text`` drawn at (0, 0)."""
    if not text:
        return 0, 0, 0, 0
    left, top, right, bottom = (int(v) for v in draw.multiline_textbbox((0, 0), text, font=_font()))
    return left, top, right - left, bottom - top


def _text_size(draw: ImageDraw.ImageDraw, text: str) -> tuple[int, int]:
    return _text_box(draw, text)[2:]


def _draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str) -> None:
    """``text`` whose ink starts exactly at ``xy``."""
    left, top, _, _ = _text_box(draw, text)
    draw.multiline_text((xy[0] - left, xy[1] - top), text, fill=_TEXT, font=_font())


def _fit_text(draw: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """``text`` cut to ``width`` pixels with "..." when it is wider."""
    if _text_size(draw, text)[0] <= width:
        return text
    while text and _text_size(draw, text + "...")[0] > width:
        text = text[:-1]
    return text + "..." if text else ""


def _cell_image(png: bytes, cell: int, where: str) -> Image.Image:
    """A decoded cell fitted into cell x cell: nearest-neighbour when enlarging (crisp pixels)."""
    img = decode_image(png, field=where).convert("RGB")
    factor = cell / max(img.size)
    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    resample = Image.Resampling.NEAREST if factor >= 1 else Image.Resampling.LANCZOS
    return img.resize(size, resample)


def compose_grid(
    rows: Sequence[Sequence[bytes | None]],
    labels: Sequence[str],
    column_titles: Sequence[str],
    cell: int = 112,
    pad: int = 6,
) -> bytes:
    """A PNG of PNG cells in a grid (None -> blank), row labels on the left and column titles on top.

    Layout: ``pad`` around every cell; the label column is as wide as the widest label plus 2 pads and the
    title row as tall as the tallest title plus 1 pad (each 0 when there are no labels / titles).
    """
    if not 1 <= cell <= _MAX_CELL or pad < 0:
        raise InvalidInputError(f"cell: must be 1..{_MAX_CELL} pixels with pad >= 0, got {cell}, {pad}", "cell")
    n_rows = len(rows)
    n_cols = max([len(r) for r in rows] + [len(column_titles)])
    if (n_cols * (cell + pad) + 4 * cell) * (n_rows * (cell + pad) + cell) > DEFAULT_MAX_PIXELS:
        raise InvalidInputError(f"cell: a {n_rows}x{n_cols} grid of {cell}-pixel cells is too large", "cell")
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_labels = [_fit_text(measure, labels[r] if r < len(labels) else "", 3 * cell) for r in range(n_rows)]
    titles = [_fit_text(measure, t, cell + pad) for t in column_titles]
    label_w = max([_text_size(measure, t)[0] for t in row_labels] + [0])
    label_w = label_w + 2 * pad if label_w else 0
    title_h = max([_text_size(measure, t)[1] for t in titles] + [0])
    title_h = title_h + pad if title_h else 0
    width = label_w + n_cols * cell + (n_cols + 1) * pad
    height = title_h + n_rows * cell + (n_rows + 1) * pad
    grid = Image.new("RGB", (width, height), _WHITE)
    draw = ImageDraw.Draw(grid)
    x0, y0 = label_w + pad, title_h + pad
    for c, title in enumerate(titles):
        tw, _ = _text_size(draw, title)
        _draw_text(draw, (x0 + c * (cell + pad) + (cell - tw) // 2, pad), title)
    for r, row in enumerate(rows):
        top = y0 + r * (cell + pad)
        tw, th = _text_size(draw, row_labels[r])
        _draw_text(draw, (pad, top + (cell - th) // 2), row_labels[r])
        for c, png in enumerate(row):
            if png is None:
                continue
            img = _cell_image(png, cell, f"cell ({r}, {c})")
            left = x0 + c * (cell + pad)
            grid.paste(img, (left + (cell - img.width) // 2, top + (cell - img.height) // 2))
    buf = io.BytesIO()
    grid.save(buf, format="PNG")
    return buf.getvalue()
