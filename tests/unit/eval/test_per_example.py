"""Per-image values: the report encoding round-trips, and the paired difference has its closed form."""

from __future__ import annotations

import math

import pytest

from explainlab.eval.per_example import decode_per_example, encode_per_example, paired_difference


def test_encoding_round_trips_outcomes_scores_and_gaps() -> None:
    values = [1.0, 0.0, None, 0.83, -0.25, 0.123456, float("nan")]
    text = encode_per_example(values)
    assert text == "1 0 - 0.83 -0.25 0.1235 -"  # NaN (e.g. Kendall of a constant map) is not a score
    assert decode_per_example(text) == [1.0, 0.0, None, 0.83, -0.25, 0.1235, None]
    assert decode_per_example(None) is None and decode_per_example("") is None
    assert decode_per_example("1 x 0") is None  # malformed: ignored, never an error


def test_paired_difference_closed_form() -> None:
    a = [1.0, 0.0, 1.0, None, 0.5, float("nan")]
    b = [1.0, 1.0, 0.0, 1.0, None, 1.0]
    result = paired_difference(a, b)  # differences over images 0-2: 0, -1, +1
    assert result["n"] == 3 and result["mean"] == pytest.approx(0.0)
    assert result["se"] == pytest.approx(1.0 / math.sqrt(3))  # std 1 (n - 1 denominator) / sqrt(3)
    assert paired_difference([1.0], [0.0]) == {"mean": 1.0, "se": None, "n": 1}
    assert paired_difference([None], [0.0]) == {"mean": None, "se": None, "n": 0}
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 0.0])  # different images: refused, not silently truncated
