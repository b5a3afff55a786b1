"""Pure helpers of the serving benchmarks (bench/serving.py): percentiles, distinct images, the table."""

from __future__ import annotations

import base64
import hashlib
import io
import math

import numpy as np
import pytest
from PIL import Image

from bench import serving


def test_percentile_interpolates_linearly_between_ranks() -> None:
    values = [40.0, 10.0, 30.0, 20.0]  # sorted 10, 20, 30, 40
    assert serving.percentile(values, 0) == 10.0
    assert serving.percentile(values, 100) == 40.0
    assert serving.percentile(values, 50) == 25.0
    assert serving.percentile(values, 90) == pytest.approx(37.0)  # rank 2.7
    assert serving.percentile([5.0], 99) == 5.0
    assert math.isnan(serving.percentile([], 50))
    data = np.random.default_rng(0).normal(size=101).tolist()
    for p in (1, 50, 90, 99):
        assert serving.percentile(data, p) == pytest.approx(float(np.percentile(data, p)))
    with pytest.raises(ValueError):
        serving.percentile(values, 101)


def test_summary_and_ratio() -> None:
    s = serving.summary([1.0, 2.0, 3.0])
    assert (s["n"], s["mean"], s["p50"], s["min"], s["max"]) == (3, 2.0, 2.0, 1.0, 3.0)
    assert math.isnan(serving.summary([])["p50"])
    assert serving.ratio(30.0, 60.0) == 0.5
    assert serving.ratio(None, 60.0) is None and serving.ratio(1.0, None) is None


def test_variants_are_distinct_png_images_one_pixel_from_the_gallery() -> None:
    bases = [np.full((28, 28), v, dtype=np.uint8) for v in (0, 7)]
    variants = serving.Variants(bases=bases)
    n = 2 * 28 * 28 + 10  # past the first wrap of pixel positions: the delta grows
    digests = set()
    for i in range(n):
        arr = variants.array(i)
        assert int((arr != bases[i % 2]).sum()) == 1
        digests.add(hashlib.sha256(arr.tobytes()).hexdigest())
    assert len(digests) == n
    decoded = np.array(Image.open(io.BytesIO(base64.b64decode(variants.b64(3)))))
    assert np.array_equal(decoded, variants.array(3))
    shifted = serving.Variants(offset=5, bases=bases)
    assert np.array_equal(shifted.array(0), variants.array(5))


def test_the_real_gallery_gives_20_mnist_bases() -> None:
    bases = serving.mnist_gallery()
    assert len(bases) == 20 and all(b.shape == (28, 28) and b.dtype == np.uint8 for b in bases)


def test_table_aligns_columns() -> None:
    text = serving.table(["name", "value"], [["a", "1.0"], ["longer", "22.5"]])
    lines = text.splitlines()
    assert lines[0].startswith("name") and set(lines[1]) <= {"-", " "}
    assert len({len(line) for line in lines}) == 1
    assert serving.fmt(float("nan")) == "-" and serving.fmt(1.234, 2) == "1.23" and serving.fmt(None) == "-"
