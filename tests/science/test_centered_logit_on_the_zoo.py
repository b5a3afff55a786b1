"""The zoo's finding that EGAT-lab's saliency term builds a logit shared by every class (docs/zoo_findings.md, "The
saliency term is met by a logit shared by every class"), seen from the lab's ``score`` switch: on real test images the
saliency map of f_y of the lambda_e 0.5 model is far from the map of its decision, f_y - mean_j f_j, where natural
training's and PGD-AT's two maps are nearly the same. Margins are wide against the 500-image numbers of
``bench/gradient_geometry.py`` (docs/screens/gradient_geometry_mnist.json, ``logit_vs_centered_cos``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from explainlab.explain import EXPLAINERS
from explainlab.zoo.store import load_model
from tests.live_server import REPO

IMAGES = 100


def agreement(model_id: str, mnist_test: tuple) -> float:
    """Mean cos of the saliency maps of the logit and of the centered logit, over the first test images."""
    model, _ = load_model(REPO / "models" / model_id)
    x, y = mnist_test[0][:IMAGES], mnist_test[1][:IMAGES]
    maps = [
        EXPLAINERS.create("saliency", {"score": s}).explain(model, x, y).flatten(1) for s in ("logit", "centered_logit")
    ]
    return float(F.cosine_similarity(*maps, dim=1).mean())


@pytest.mark.parametrize("model_id", ["mnist-small_cnn-natural-s0", "mnist-small_cnn-pgd_at-s0"])
def test_without_the_term_the_logit_map_is_the_decision_s_map(model_id: str, mnist_test: tuple) -> None:
    assert agreement(model_id, mnist_test) > 0.95


def test_the_saliency_term_s_model_explains_a_shared_logit(mnist_test: tuple) -> None:
    assert agreement("mnist-small_cnn-egat_saliency-s0", mnist_test) < 0.8
    model, _ = load_model(REPO / "models" / "mnist-small_cnn-egat_saliency-s0")
    with torch.no_grad():
        assert float(model(mnist_test[0][:IMAGES]).mean()) > 5  # the component every logit shares
