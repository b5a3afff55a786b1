"""Colormaps, the shared map scale, map / perturbation / overlay PNGs and the labelled grid export."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from explainlab.errors import InvalidInputError, UnknownNameError
from explainlab.imageio import tensor_to_png
from explainlab.render import (
    COLORMAPS,
    colorbar_png,
    colorize,
    compose_grid,
    map_scale,
    map_to_png,
    overlay_png,
    perturbation_png,
)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def first(cmap: str) -> tuple[int, int, int]:
    return COLORMAPS[cmap][0][1]


def last(cmap: str) -> tuple[int, int, int]:
    return COLORMAPS[cmap][-1][1]


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* of sRGB colours (..., 3) uint8."""
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = linear @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(y > 216 / 24389, 116 * np.cbrt(y) - 16, y * 24389 / 27)


@pytest.mark.parametrize("cmap", sorted(COLORMAPS))
def test_colormap_tables_are_well_formed(cmap):
    positions = [p for p, _ in COLORMAPS[cmap]]
    assert positions[0] == 0.0 and positions[-1] == 1.0 and positions == sorted(positions)


@pytest.mark.parametrize("cmap", sorted(COLORMAPS))
def test_colorize_endpoints_are_the_control_points(cmap):
    out = colorize(np.array([[0.0, 1.0], [-3.0, 7.0]]), cmap)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert tuple(out[0, 0]) == first(cmap) == tuple(out[1, 0])  # below 0 clips to the first colour
    assert tuple(out[0, 1]) == last(cmap) == tuple(out[1, 1])
    assert tuple(colorize(np.array([np.nan]), cmap)[0]) == first(cmap)


def test_colorize_interpolates_linearly_between_points():
    (p0, c0), (p1, c1) = COLORMAPS["heat"][:2]
    mid = colorize(np.array([(p0 + p1) / 2]), "heat")[0]
    assert np.abs(mid.astype(float) - (np.array(c0) + np.array(c1)) / 2).max() <= 0.5
    assert tuple(colorize(np.array([0.5]), "diverging")[0]) == (255, 255, 255)


def test_heat_lightness_rises_evenly():
    lum = lightness(colorize(np.linspace(0, 1, 101), "heat"))
    steps = np.diff(lum)
    assert (steps > 0).all()  # brighter always means more
    assert steps.max() < 3 * steps.mean()


def test_diverging_is_lightest_at_zero_and_symmetric_in_lightness():
    lum = lightness(colorize(np.linspace(0, 1, 101), "diverging"))
    assert lum.argmax() == 50
    assert np.abs(lum - lum[::-1]).max() < 6


def test_unknown_colormap():
    with pytest.raises(UnknownNameError, match="heat"):
        colorize(np.zeros((2, 2)), "viridis")


def test_colorbar():
    bar = pixels(colorbar_png("heat", width=64, height=5))
    assert bar.shape == (5, 64, 3)
    assert tuple(bar[2, 0]) == first("heat") and tuple(bar[2, -1]) == last("heat")
    assert (bar == bar[0]).all()  # every row the same


def test_map_scale_ignores_a_single_outlier():
    rng = np.random.default_rng(0)
    maps = [rng.random((28, 28)) for _ in range(3)]
    maps[1][5, 5] = 1000.0
    vmax = map_scale(maps)
    assert 0.95 < vmax <= 1.0
    assert map_scale(maps, percentile=100) == 1000.0
    assert map_scale([torch.from_numpy(m) for m in maps]) == pytest.approx(vmax)


def test_map_scale_edge_cases():
    assert map_scale([np.zeros((4, 4)), np.zeros((4, 4))]) == 1.0
    assert map_scale([]) == 1.0
    sparse = np.zeros((40, 40))
    sparse[0, 0] = 3e-5
    assert map_scale([sparse]) == pytest.approx(3e-5)  # percentile is 0: fall back to the maximum
    assert map_scale([-np.ones((4, 4))]) == 1.0  # signed maps scale by |value|
    assert map_scale([np.array([[np.nan, 2.0]])], percentile=100) == 2.0
    with pytest.raises(ValueError):
        map_scale([np.ones((2, 2))], percentile=0)


def test_map_to_png_scales_and_clips():
    s = torch.tensor([[0.0, 0.5], [2.0, -1.0]])
    out = pixels(map_to_png(s, vmax=0.5))
    assert out.shape == (2, 2, 3)
    assert tuple(out[0, 0]) == first("heat") == tuple(out[1, 1])  # 0 and negative
    assert tuple(out[0, 1]) == last("heat") == tuple(out[1, 0])  # at and above vmax
    assert pixels(map_to_png(s[None], 0.5, scale=4)).shape == (8, 8, 3)


def test_map_to_png_diverging_is_signed():
    out = pixels(map_to_png(np.array([[-1.0, 0.0, 1.0]]), vmax=1.0, cmap="diverging"))
    assert tuple(out[0, 0]) == first("diverging")
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[0, 2]) == last("diverging")


def test_perturbation_png():
    zero = pixels(perturbation_png(torch.zeros(3, 6, 5), eps=8 / 255))
    assert zero.shape == (6, 5, 3) and (zero == first("heat")).all()
    assert (pixels(perturbation_png(torch.zeros(1, 4, 4), eps=None)) == first("heat")).all()
    delta = torch.zeros(1, 3, 4, 4)
    delta[0, 2, 1, 1] = -0.3  # the largest channel counts, whatever its sign
    delta[0, 0, 2, 2] = 0.15
    out = pixels(perturbation_png(delta, eps=0.3))
    assert tuple(out[1, 1]) == last("heat") and tuple(out[0, 0]) == first("heat")
    assert tuple(out[2, 2]) == tuple(colorize(np.array([0.5]))[0])
    relative = pixels(perturbation_png(delta * 0.1, eps=None))  # divided by its own maximum
    assert tuple(relative[1, 1]) == last("heat")


def test_overlay_png():
    image = torch.full((3, 8, 8), 0.4)
    calm = pixels(overlay_png(image, torch.zeros(8, 8), vmax=1.0))
    assert (calm == 102).all()  # no attribution: the greyscale image shows through
    hot = torch.zeros(8, 8)
    hot[3, 3] = 1.0
    out = pixels(overlay_png(image, hot, vmax=1.0, alpha=1.0))
    assert tuple(out[3, 3]) == last("heat") and tuple(out[0, 0]) == (102, 102, 102)
    with pytest.raises(ValueError):
        overlay_png(image, torch.zeros(4, 4), vmax=1.0)


def solid(colour: tuple[int, int, int], size: int = 7) -> bytes:
    return tensor_to_png(torch.tensor(colour, dtype=torch.float32).div(255)[:, None, None].expand(3, size, size))


def test_compose_grid_without_text_has_the_exact_size():
    rows = [[solid((255, 0, 0)), None, solid((0, 0, 255))], [None, solid((0, 255, 0)), None]]
    out = pixels(compose_grid(rows, [], [], cell=20, pad=3))
    assert out.shape == (2 * 20 + 3 * 3, 3 * 20 + 4 * 3, 3)
    assert tuple(out[3 + 10, 3 + 10]) == (255, 0, 0)
    assert tuple(out[3 + 10, 3 + 23 + 10]) == (255, 255, 255)  # None: blank
    assert tuple(out[3 + 23 + 10, 3 + 23 + 10]) == (0, 255, 0)
    assert tuple(out[0, 0]) == (255, 255, 255)


def test_compose_grid_with_labels_and_titles():
    rows = [[solid((255, 0, 0)), solid((0, 0, 255))], [solid((0, 255, 0)), None]]
    bare = pixels(compose_grid(rows, [], [], cell=30, pad=4))
    out = pixels(compose_grid(rows, ["clean", "attacked"], ["input", "Saliency"], cell=30, pad=4))
    height, width = out.shape[:2]
    assert height > bare.shape[0] and width > bare.shape[1]
    # cells keep their place measured from the bottom-right corner
    for r, c, colour in [(0, 0, (255, 0, 0)), (0, 1, (0, 0, 255)), (1, 0, (0, 255, 0))]:
        y = height - (2 - r) * 34 + 15
        x = width - (2 - c) * 34 + 15
        assert tuple(out[y, x]) == colour
    assert (out[: height - 2 * 34 - 4, :] < 128).any()  # title text drawn above the cells
    assert (out[:, : width - 2 * 34 - 4] < 128).any()  # label text drawn left of the cells


def test_compose_grid_refuses_bad_cells_and_sizes():
    with pytest.raises(InvalidInputError) as info:
        compose_grid([[b"not a png"]], ["row"], ["col"])
    assert info.value.field == "cell (0, 0)"
    with pytest.raises(InvalidInputError):
        compose_grid([[None]], [], [], cell=0)
    with pytest.raises(InvalidInputError):
        compose_grid([[None] * 200] * 200, [], [], cell=1000)
