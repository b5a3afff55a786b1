"""The server's test images: loaded once, sliced per request, a missing dataset a 409 that says what to set."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import ApiError
from server.evaluation import TestImages
from tests.unit.data.conftest import write_mnist_like
from tests.unit.server.test_jobs import in_thread


def test_missing_data_is_a_409_naming_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXPLAINLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    images = TestImages(tmp_path / "empty", limit=100)

    async def scenario() -> None:
        with pytest.raises(ApiError) as error:
            await images.get("mnist", 10)
        assert error.value.status == 409 and error.value.code == "dataset_unavailable"
        assert "EXPLAINLAB_DATA" in error.value.message and "t10k-images" in error.value.message

    in_thread(scenario)


def test_images_are_kept_up_to_the_limit_and_sliced(tmp_path: Path) -> None:
    write_mnist_like(tmp_path / "mnist", n_train=10, n_test=30)
    images = TestImages(tmp_path, limit=20)

    async def scenario() -> None:
        x, y = await images.get("mnist", 12)
        assert x.shape == (12, 1, 28, 28) and y.tolist() == [i % 10 for i in range(12)]
        with pytest.raises(ApiError) as error:
            await images.get("mnist", 21)  # more than this server keeps
        assert error.value.status == 422 and error.value.field == "n"

    in_thread(scenario)


def test_batches_are_sized_by_their_time_while_people_use_the_lab() -> None:
    from server.evaluation import next_batch

    assert next_batch(4, 0.1, 0.3, 32) == 8  # 12 would fit the time: at most doubling
    assert next_batch(8, 0.6, 0.3, 32) == 4  # twice too slow: half
    assert next_batch(1, 2.0, 0.3, 32) == 1  # never below one image
    assert next_batch(16, 0.1, 0.3, 20) == 20  # never above the cost cap
    assert next_batch(4, 5.0, None, 32) == 8 and next_batch(32, 5.0, None, 32) == 32  # unattended: grow to the cap
