"""Certified maps (explainlab/eval/certified_map.py): closed forms on a linear model, the per-pixel test's boundary,
Holm's family-wise error under the null, and the smoothed classifier's Clopper-Pearson bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from scipy import stats
from torch import nn

from explainlab.eval.certified_map import (
    ABSTAIN,
    IMPORTANT,
    UNIMPORTANT,
    CertifyParams,
    certify_counts,
    certify_map,
    smoothed_prediction,
)
from explainlab.explain import EXPLAINERS


def linear_model(classes: int = 3, side: int = 6, bias: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(side * side, classes))
    with torch.no_grad():
        model[1].bias.zero_()
        model[1].bias[0] = bias
    return model.eval()


def test_a_linear_models_map_is_certified_everywhere_with_its_top_k() -> None:
    """Saliency of a linear model is |W_y| whatever the noise, so every pixel keeps its answer in every sample."""
    model = linear_model(bias=1e4)  # class 0 under any noise
    x = torch.rand(1, 1, 6, 6)
    params = CertifyParams(sigma=0.3, n=60, top_fraction=0.25, tau=0.8, alpha=0.01, batch=16)
    cert = certify_map(model, x, EXPLAINERS["saliency"](), params)
    k = round(0.25 * 36)
    expected = torch.zeros(36, dtype=torch.int8)
    expected[model[1].weight[0].abs().topk(k).indices] = IMPORTANT
    assert cert.label == 0 and cert.k == k
    assert torch.equal(cert.verdict.flatten(), expected) and set(cert.top_share.unique().tolist()) == {0.0, 1.0}
    assert cert.radius == pytest.approx(0.3 * stats.norm.ppf(0.8))
    lower = (0.01 / 3) ** (1 / 60)  # Clopper-Pearson with every sample in class 0, Bonferroni over 3 classes
    assert cert.smoothed_label == 0 and cert.smoothed_lower == pytest.approx(lower)
    assert cert.smoothed_radius == pytest.approx(0.3 * stats.norm.ppf(lower))
    summary = cert.summary()
    assert summary["certified_share"] == 1.0 and summary["certified_important"] == k and summary["abstained"] == 0
    assert summary["linf_equivalent"] == pytest.approx(cert.radius / 6)  # one channel: sqrt(36 numbers)


def test_the_linf_equivalent_counts_every_channel() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).eval()
    cert = certify_map(model, torch.rand(1, 3, 4, 4), EXPLAINERS["saliency"](), CertifyParams(n=20))
    assert cert.verdict.shape == (4, 4) and cert.summary()["linf_equivalent"] == pytest.approx(cert.radius / 48**0.5)


def test_the_pixel_test_certifies_exactly_above_its_boundary() -> None:
    n, tau, alpha = 100, 0.75, 0.05
    threshold = next(c for c in range(n + 1) if 2 * stats.binom.sf(c - 1, n, tau) <= alpha)
    assert 75 < threshold < n
    one = lambda count: int(certify_counts(np.array([count]), n, tau, alpha)[0])  # noqa: E731
    assert [one(threshold - 1), one(threshold), one(n - threshold), one(n - threshold + 1), one(n // 2)] == [
        ABSTAIN, IMPORTANT, UNIMPORTANT, ABSTAIN, ABSTAIN]  # fmt: skip


def test_holm_keeps_the_chance_of_any_wrong_certificate_below_alpha() -> None:
    """Every pixel's true probability is exactly tau (the null's edge): any certificate is wrong."""
    rng = np.random.default_rng(0)
    n, tau, alpha, pixels, trials = 50, 0.7, 0.1, 40, 3000
    counts = rng.binomial(n, tau, size=(trials, pixels))
    wrong = sum(bool((certify_counts(row, n, tau, alpha) != ABSTAIN).any()) for row in counts)
    assert wrong / trials <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / trials)


def test_holm_steps_down_where_bonferroni_would_stop() -> None:
    """With two pixels, one sure, the other's p-value between alpha/2 and alpha: Holm certifies both."""
    n, tau, alpha = 200, 0.6, 0.05
    p_value = lambda count: 2 * stats.binom.sf(count - 1, n, tau)  # noqa: E731
    between = [c for c in range(n + 1) if alpha / 2 < p_value(c) <= alpha]
    assert between, "no count falls between the two levels for these settings"
    assert certify_counts(np.array([n, between[0]]), n, tau, alpha).tolist() == [IMPORTANT, IMPORTANT]
    assert certify_counts(np.array([between[0]]), n, tau, alpha / 2).tolist() == [ABSTAIN]


def test_the_smoothed_classifier_abstains_without_a_majority() -> None:
    assert smoothed_prediction(np.array([30, 30, 40]), 100, 0.25, 0.05) == (None, pytest.approx(
        stats.beta.ppf(0.05 / 3, 40, 61)), 0.0)  # fmt: skip


@pytest.mark.parametrize("bad", [{"tau": 0.5}, {"sigma": 0.0}, {"n": 5}, {"top_fraction": 1.0}, {"alpha": 0.0}])
def test_params_are_bounded(bad: dict) -> None:
    with pytest.raises(ValidationError):
        CertifyParams(**bad)


def test_certified_pixels_keep_their_answer_inside_the_radius() -> None:
    """Cohen's bound: at ||delta|| = R / 2 a certified pixel's answer still holds with probability at least
    Phi(Phi^-1(tau) / 2) (0.63 at tau 0.75); re-estimated with many samples at x + delta, every certified pixel keeps
    its majority, on a small ReLU CNN whose saliency map moves with the noise."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 64, 4)).eval()
    x = torch.rand(1, 1, 8, 8)
    explainer = EXPLAINERS["saliency"]()
    params = CertifyParams(sigma=0.3, n=400, top_fraction=0.2, tau=0.75, alpha=0.05, batch=200)
    cert = certify_map(model, x, explainer, params)
    certified = cert.verdict != ABSTAIN
    assert 0 < int(certified.sum()) < 64  # the test means something: some pixels certified, some not
    for seed in range(3):
        direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(100 + seed))
        moved = x + direction / direction.norm() * cert.radius / 2
        again = certify_map(model, moved, explainer, params.model_copy(update={"n": 4000, "seed": 7}))
        shares = again.top_share
        assert again.label == cert.label  # the same class's map
        assert (shares[cert.verdict == IMPORTANT] > 0.5).all() and (shares[cert.verdict == UNIMPORTANT] < 0.5).all()
