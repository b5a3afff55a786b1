"""Map metrics against scipy and closed forms: top-k, Kendall tau-b, Spearman, Pearson, SSIM, Gini, centre of mass."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explainlab.explain import saliency_map
from explainlab.metrics import (
    METRICS,
    average_ranks,
    center_of_mass_shift,
    gini,
    kendall_tau,
    pearson,
    spearman_rho,
    ssim,
    topk_intersection,
)

GEN = torch.Generator().manual_seed(123)


def _ig_like(n: int, side: int, zero_frac: float) -> torch.Tensor:
    """Non-negative maps with many exact zeros (IG on MNIST: black background x zero baseline)."""
    s = torch.rand(n, side, side, generator=GEN)
    return torch.where(torch.rand(n, side, side, generator=GEN) < zero_frac, torch.zeros_like(s), s)


def _pairs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    a = _ig_like(3, 28, 0.7)
    b = torch.where(a > 0, a + 0.2 * torch.rand(a.shape, generator=GEN), _ig_like(3, 28, 0.9))
    ints_a = torch.randint(0, 5, (3, 32, 32), generator=GEN).float()  # heavy ties in both maps
    ints_b = (ints_a + torch.randint(-1, 2, (3, 32, 32), generator=GEN)).clamp(0, 4)
    c = torch.rand(2, 32, 32, generator=GEN)
    return [
        ("mnist_zeros", a, b),
        ("integer_ties", ints_a, ints_b),
        ("cifar_continuous", c, c + 0.3 * torch.rand(c.shape, generator=GEN)),
        ("independent", torch.rand(2, 16, 16, generator=GEN), torch.rand(2, 16, 16, generator=GEN)),
    ]


PAIRS = _pairs()
IDS = [p[0] for p in PAIRS]


def _scipy(fn, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    fa, fb = a.flatten(1).double().numpy(), b.flatten(1).double().numpy()
    return np.array([fn(fa[i], fb[i]).statistic for i in range(fa.shape[0])])


@pytest.mark.crosscheck
@pytest.mark.parametrize(("case", "a", "b"), PAIRS, ids=IDS)
def test_kendall_equals_scipy_tau_b(case: str, a: torch.Tensor, b: torch.Tensor) -> None:
    ref = _scipy(lambda u, v: scipy.stats.kendalltau(u, v, variant="b"), a, b)
    np.testing.assert_allclose(kendall_tau(a, b).double().numpy(), ref, atol=1e-6, rtol=0)


def test_kendall_chunking_does_not_change_the_result() -> None:
    a, b = PAIRS[0][1], PAIRS[0][2]
    assert torch.equal(kendall_tau(a, b, chunk_elements=1), kendall_tau(a, b))


@pytest.mark.crosscheck
@pytest.mark.parametrize(("case", "a", "b"), PAIRS, ids=IDS)
def test_spearman_equals_scipy(case: str, a: torch.Tensor, b: torch.Tensor) -> None:
    ref = _scipy(scipy.stats.spearmanr, a, b)
    np.testing.assert_allclose(spearman_rho(a, b).double().numpy(), ref, atol=1e-6, rtol=0)


@pytest.mark.crosscheck
@pytest.mark.parametrize(("case", "a", "b"), PAIRS, ids=IDS)
def test_pearson_equals_scipy(case: str, a: torch.Tensor, b: torch.Tensor) -> None:
    ref = _scipy(scipy.stats.pearsonr, a, b)
    np.testing.assert_allclose(pearson(a, b).double().numpy(), ref, atol=1e-6, rtol=0)


@pytest.mark.crosscheck
def test_average_ranks_equal_scipy_rankdata() -> None:
    a = PAIRS[1][1]
    ref = scipy.stats.rankdata(a.flatten(1).numpy(), method="average", axis=1)
    np.testing.assert_array_equal(average_ranks(a).numpy(), ref)


def test_constant_map_gives_nan_like_scipy() -> None:
    a, b = torch.zeros(1, 4, 4), torch.rand(1, 4, 4, generator=GEN)
    assert torch.isnan(kendall_tau(a, b)).all() and torch.isnan(spearman_rho(a, b)).all()


def test_topk_intersection_closed_forms() -> None:
    a = torch.arange(16.0).view(1, 4, 4)
    assert topk_intersection(a, a, 5).item() == 1.0
    assert topk_intersection(a, -a, 5).item() == 0.0  # top-5 are the largest vs the smallest
    b = a.clone().view(-1)
    b[15], b[0] = b[0].item(), b[15].item()  # swap the best and the worst pixel
    assert topk_intersection(a, b.view(1, 4, 4), 4).item() == 0.75


def test_similarity_metrics_reduce_attributions_to_maps() -> None:
    attr_a, attr_b = torch.randn(2, 3, 8, 8, generator=GEN), torch.randn(2, 3, 8, 8, generator=GEN)
    for name in ("kendall", "spearman", "pearson", "ssim", "center_of_mass_shift"):
        metric = METRICS.create(name)
        direct = metric(saliency_map(attr_a), saliency_map(attr_b))
        torch.testing.assert_close(metric(attr_a, attr_b), direct)


# --- SSIM against a brute-force numpy reference --------------------------------------------------------------------


def _ssim_reference(a: np.ndarray, b: np.ndarray, win: int = 11, sigma: float = 1.5) -> float:
    """Wang et al. 2004 with a Gaussian window, every valid window position, maps min-max scaled, data range 1."""
    a = (a - a.min()) / (a.max() - a.min())
    b = (b - b.min()) / (b.max() - b.min())
    g = np.exp(-((np.arange(win) - (win - 1) / 2) ** 2) / (2 * sigma**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    vals = []
    for i in range(a.shape[0] - win + 1):
        for j in range(a.shape[1] - win + 1):
            pa, pb = a[i : i + win, j : j + win], b[i : i + win, j : j + win]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb, cov = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2, (w * pa * pb).sum() - ma * mb
            vals.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


@pytest.mark.crosscheck
@pytest.mark.parametrize(("side", "win"), [(28, 11), (32, 11), (8, 7)])
def test_ssim_equals_numpy_reference(side: int, win: int) -> None:
    a = _ig_like(3, side, 0.5)
    b = a + 0.3 * torch.rand(a.shape, generator=GEN)
    ref = [_ssim_reference(a[i].double().numpy(), b[i].double().numpy(), win=win) for i in range(3)]
    np.testing.assert_allclose(ssim(a, b).double().numpy(), ref, atol=1e-6, rtol=0)  # 8x8: window shrinks to 7


def test_ssim_identical_maps_and_scale_invariance() -> None:
    a = _ig_like(2, 28, 0.5)
    torch.testing.assert_close(ssim(a, a), torch.ones(2))
    torch.testing.assert_close(ssim(a, 3 * a + 1), torch.ones(2))  # min-max scaling first
    assert (ssim(a, torch.rand(a.shape, generator=GEN)) < 0.5).all()


def test_ssim_rejects_even_window() -> None:
    with pytest.raises(ValueError, match="odd"):
        METRICS["ssim"].Params(window=10)


# --- Gini --------------------------------------------------------------------------------------------------------


def test_gini_closed_forms() -> None:
    n = 3 * 8 * 8
    uniform = torch.full((1, 3, 8, 8), 0.37)
    torch.testing.assert_close(gini(uniform), torch.zeros(1), atol=1e-6, rtol=0)
    one_hot = torch.zeros(1, 3, 8, 8)
    one_hot[0, 2, 5, 1] = -4.0  # |.|: the sign does not matter
    torch.testing.assert_close(gini(one_hot), torch.tensor([(n - 1) / n]), atol=1e-5, rtol=0)


def test_gini_equals_the_formula_over_all_channels() -> None:
    a = torch.randn(3, 3, 5, 5, generator=GEN)
    for i in range(3):
        v = np.sort(np.abs(a[i].double().numpy().ravel()) + 1e-7)
        n = v.size
        ref = sum((2 * k - n - 1) * v[k - 1] for k in range(1, n + 1)) / (n * v.sum())
        assert gini(a)[i].item() == pytest.approx(ref, abs=1e-6)
    assert (gini(torch.randn(4, 3, 8, 8, generator=GEN) ** 5) > gini(torch.randn(4, 3, 8, 8, generator=GEN))).all()


# --- centre of mass ----------------------------------------------------------------------------------------------


def test_center_of_mass_shift_of_point_masses() -> None:
    a, b = torch.zeros(1, 8, 8), torch.zeros(1, 8, 8)
    a[0, 2, 3], b[0, 5, 7] = 1.0, 2.0
    torch.testing.assert_close(center_of_mass_shift(a, b), torch.tensor([5.0]))
    torch.testing.assert_close(METRICS.create("center_of_mass_shift")(a, a), torch.zeros(1))


# --- properties ---------------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
int_rows = st.lists(st.integers(-5, 5), min_size=3, max_size=40)


def _row(values: list[int]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, -1)


@PROPERTY
@given(int_rows)
def test_rank_correlation_of_a_map_with_itself_and_its_negation(values: list[int]) -> None:
    a = _row(values)
    if len(set(values)) == 1:
        return  # constant map: undefined (NaN), as scipy
    for fn in (kendall_tau, spearman_rho):
        assert fn(a, a).item() == pytest.approx(1.0, abs=1e-6)
        assert fn(a, -a).item() == pytest.approx(-1.0, abs=1e-6)


@PROPERTY
@given(int_rows, st.data())
def test_rank_metrics_invariant_to_positive_monotone_transforms(values: list[int], data: st.DataObject) -> None:
    a = _row(values)
    b = _row(data.draw(st.lists(st.integers(-5, 5), min_size=len(values), max_size=len(values))))
    f = lambda v: v**3 + 3 * v + 7  # noqa: E731 - strictly increasing and exact on small integers
    for fn in (kendall_tau, spearman_rho):
        torch.testing.assert_close(fn(f(a), 2 * b + 1), fn(a, b), equal_nan=True, atol=1e-6, rtol=0)
    k = data.draw(st.integers(1, len(values)))
    torch.testing.assert_close(topk_intersection(f(a), b, k), topk_intersection(a, b, k))


@PROPERTY
@given(int_rows, st.data())
def test_symmetry_bounds_and_scipy_agreement_on_ties(values: list[int], data: st.DataObject) -> None:
    a = _row(values)
    b = _row(data.draw(st.lists(st.integers(-5, 5), min_size=len(values), max_size=len(values))))
    k = data.draw(st.integers(1, len(values)))
    assert topk_intersection(a, b, k).item() == topk_intersection(b, a, k).item()
    tau = kendall_tau(a, b)
    assert torch.equal(tau, kendall_tau(b, a)) or torch.isnan(tau).all()
    ref = scipy.stats.kendalltau(np.array(values, float), b.numpy().ravel().astype(float)).statistic
    np.testing.assert_allclose(tau.double().numpy(), [ref], atol=1e-6, rtol=0)
    if not torch.isnan(tau).all():
        assert -1.0 <= tau.item() <= 1.0
