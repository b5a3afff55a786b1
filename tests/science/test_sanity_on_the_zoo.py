"""The randomization test on the shipped MNIST models and real test images (docs/sanity_checks.md): Adebayo et al.'s
Guided Backprop result reproduced, the input-likeness of input x gradient maps, and the zoo's finding that a robust
model's saliency map is drawn by its first layer. Margins are wide against the 500-image numbers in docs/sanity/."""

from __future__ import annotations

import pytest

from explainlab.eval.sanity_check import SanityParams, check_images, summarize_checks
from explainlab.explain import EXPLAINERS
from explainlab.zoo.store import load_model
from tests.live_server import REPO

IMAGES = 100


def _summary(model_id: str, method: str, mnist_test: tuple) -> dict:
    model, _ = load_model(REPO / "models" / model_id)
    x, y = mnist_test[0][:IMAGES], mnist_test[1][:IMAGES]
    return summarize_checks(check_images(model, x, y, EXPLAINERS[method](), SanityParams()))


def _kept(summary: dict, stage: int) -> float:
    return summary["stages"][stage]["topk_intersection"]["mean"]


@pytest.fixture(scope="module")
def natural_saliency(mnist_test: tuple) -> dict:
    return _summary("mnist-small_cnn-natural-s0", "saliency", mnist_test)


def test_guided_backprop_survives_a_fully_random_model(natural_saliency: dict, mnist_test: tuple) -> None:
    guided = _summary("mnist-small_cnn-natural-s0", "captum_guided_backprop", mnist_test)
    assert _kept(guided, -1) > 0.4 and _kept(natural_saliency, -1) < 0.25  # chance is 0.10
    assert "class_insensitive" in {f["code"] for f in guided["flags"]}


def test_input_x_gradient_ranks_pixels_like_the_image(mnist_test: tuple) -> None:
    summary = _summary("mnist-small_cnn-natural-s0", "input_x_gradient", mnist_test)
    assert summary["input_spearman"]["mean"] > 0.95 and _kept(summary, -1) > 0.5


def test_a_robust_models_saliency_map_is_drawn_by_its_first_layer(natural_saliency: dict, mnist_test: tuple) -> None:
    robust = _summary("mnist-small_cnn-pgd_at-s0", "saliency", mnist_test)
    assert [s["name"] for s in robust["stages"]][-2:] == ["conv2", "conv1"]
    assert _kept(robust, -2) > 0.6 and _kept(natural_saliency, -2) < 0.3  # every layer but conv1 random
    assert _kept(robust, -1) < 0.25  # and conv1 random too: gone
    assert robust["other_class"]["topk_intersection"]["mean"] > 0.7 > natural_saliency["other_class"][
        "topk_intersection"]["mean"]  # fmt: skip
