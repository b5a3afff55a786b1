"""The functional core in torch: map metrics on per-pixel maps (N, H, W) or flattened (N, D), each returning (N,),
and prediction rates on logits (N, K), each returning a 0-dim tensor. Model-based metrics live in their own files."""

from __future__ import annotations

import torch
from torch import Tensor


def _flat(s: Tensor) -> Tensor:
    return s.reshape(s.shape[0], -1)  # (N, ...) -> (N, D)


def topk_mask(s: Tensor, k: int) -> Tensor:
    """Boolean (N, D) mask of the k largest entries per row; ties broken by index (stable sort)."""
    flat = _flat(s)
    if not 1 <= k <= flat.shape[1]:
        raise ValueError(f"k must be in 1..{flat.shape[1]}, got {k}")
    idx = torch.sort(flat, dim=1, descending=True, stable=True).indices[:, :k]  # (N, k)
    return torch.zeros_like(flat, dtype=torch.bool).scatter_(1, idx, True)


def topk_intersection(a: Tensor, b: Tensor, k: int) -> Tensor:
    """|Top_k(a) ∩ Top_k(b)| / k (Ghorbani et al. 2019; RAR's "IN"): (N,) in [0, 1]."""
    return (topk_mask(a, k) & topk_mask(b, k)).sum(1).to(torch.float32) / k


def center_of_mass(s: Tensor) -> Tensor:
    """Saliency-weighted centre (row, col) in pixels of non-negative maps (N, H, W): (N, 2)."""
    n, h, w = s.shape
    mass = s.clamp_min(0).reshape(n, -1)  # (N, H*W)
    total = mass.sum(1, keepdim=True).clamp_min(1e-12)
    rows = torch.arange(h, dtype=s.dtype, device=s.device).repeat_interleave(w)  # (H*W,)
    cols = torch.arange(w, dtype=s.dtype, device=s.device).repeat(h)  # (H*W,)
    return torch.stack([(mass * rows).sum(1), (mass * cols).sum(1)], 1) / total  # (N, 2)


def center_of_mass_shift(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distance in pixels between the centres of mass of two maps (Ghorbani et al. 2019): (N,)."""
    return (center_of_mass(a) - center_of_mass(b)).norm(dim=1)


def _pair(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    fa, fb = _flat(a), _flat(b)
    if fa.shape != fb.shape:
        raise ValueError(f"maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return fa, fb


def _out_dtype(s: Tensor) -> torch.dtype:
    return s.dtype if s.is_floating_point() else torch.float32


def _sign_matrix(rows: Tensor, cols: Tensor) -> Tensor:
    """sign(v_i - v_j) for a chunk of rows: (N, r) and (N, D) -> (N, r, D) int8 (comparisons, no subtraction)."""
    r, c = rows[:, :, None], cols[:, None, :]
    return (r > c).to(torch.int8) - (r < c).to(torch.int8)


def kendall_tau(a: Tensor, b: Tensor, *, chunk_elements: int = 2**22) -> Tensor:
    """Kendall's tau-b with tie correction, exact over all D^2 pixel pairs (scipy's default): (N,).

    tau_b = (n_c - n_d) / sqrt((n_0 - n_1)(n_0 - n_2)). Over ordered pairs, 2(n_c - n_d) = sum sgn(da) sgn(db) and
    2(n_0 - n_1) = sum sgn(da)^2, so tau_b is the cosine between the two sign matrices; rows are processed
    ``chunk_elements`` pair entries at a time. NaN where a map is constant (as scipy).
    """
    fa, fb = _pair(a, b)
    n, d = fa.shape
    rows = max(1, chunk_elements // max(1, n * d))
    s = torch.zeros(n, dtype=torch.int64, device=fa.device)
    ta, tb = torch.zeros_like(s), torch.zeros_like(s)
    for i in range(0, d, rows):
        sa = _sign_matrix(fa[:, i : i + rows], fa)  # (N, r, D)
        sb = _sign_matrix(fb[:, i : i + rows], fb)
        s += (sa * sb).sum((1, 2), dtype=torch.int64)
        ta += sa.ne(0).sum((1, 2), dtype=torch.int64)
        tb += sb.ne(0).sum((1, 2), dtype=torch.int64)
    tau = s.double() / (ta.double() * tb.double()).sqrt()
    return tau.clamp(-1.0, 1.0).to(_out_dtype(a))


def average_ranks(s: Tensor) -> Tensor:
    """1-based ranks per row with ties given their average rank (scipy.stats.rankdata 'average'): (N, D) float64."""
    flat = _flat(s)
    n, d = flat.shape
    values, order = torch.sort(flat, dim=1, stable=True)  # (N, D)
    starts = torch.ones_like(values, dtype=torch.bool)
    starts[:, 1:] = values[:, 1:] != values[:, :-1]
    group = starts.cumsum(1) - 1  # (N, D) tie-group id of each sorted position
    pos = torch.arange(d, dtype=torch.float64, device=flat.device).expand(n, d)
    first = torch.zeros(n, d, dtype=torch.float64, device=flat.device).scatter_reduce(
        1, group, pos, "amin", include_self=False
    )
    last = torch.zeros_like(first).scatter_reduce(1, group, pos, "amax", include_self=False)
    avg = (first.gather(1, group) + last.gather(1, group)) / 2 + 1  # (N, D) average rank, sorted order
    return torch.empty_like(avg).scatter_(1, order, avg)


def pearson(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation per example, computed in float64 (scipy.stats.pearsonr): (N,); NaN for a constant map."""
    fa, fb = _pair(a, b)
    xa = fa.double() - fa.double().mean(1, keepdim=True)
    xb = fb.double() - fb.double().mean(1, keepdim=True)
    r = (xa * xb).sum(1) / ((xa * xa).sum(1) * (xb * xb).sum(1)).sqrt()
    return r.clamp(-1.0, 1.0).to(_out_dtype(a))


def spearman_rho(a: Tensor, b: Tensor) -> Tensor:
    """Spearman's rho = Pearson correlation of average ranks (scipy.stats.spearmanr): (N,)."""
    _pair(a, b)
    return pearson(average_ranks(a), average_ranks(b)).to(_out_dtype(a))


def minmax_scale(s: Tensor) -> Tensor:
    """Scale each example to [0, 1] by its own min and max; a constant example becomes all zeros."""
    flat = _flat(s)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return ((flat - lo) / span).view_as(s)


def gaussian_window(size: int, sigma: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """Normalized 1-D Gaussian of odd ``size`` (pytorch_msssim's _fspecial_gauss_1d): (size,)."""
    coords = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    a: Tensor,
    b: Tensor,
    *,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    scale: bool = True,
) -> Tensor:
    """Mean SSIM (Wang et al. 2004) between maps (N, H, W), Gaussian window, valid filtering, data range 1: (N,).

    Each map is first min-max scaled to [0, 1] (``scale=True``). The window shrinks to the largest odd size that fits
    maps smaller than ``window``. SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)),
    C1 = k1^2, C2 = k2^2, without the sample-covariance correction (pytorch_msssim, skimage with gaussian weights).
    """
    if a.ndim != 3 or a.shape != b.shape:
        raise ValueError(f"ssim needs two maps (N, H, W) of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    x, y = (minmax_scale(a), minmax_scale(b)) if scale else (a, b)
    x, y = x.double().unsqueeze(1), y.double().unsqueeze(1)  # (N, 1, H, W)
    size = min(window, a.shape[1], a.shape[2])
    size -= 1 - size % 2  # largest odd size that fits
    g = gaussian_window(size, sigma).to(x.device)

    def blur(z: Tensor) -> Tensor:  # separable valid filtering: (N, 1, H, W) -> (N, 1, H-size+1, W-size+1)
        return torch.nn.functional.conv2d(torch.nn.functional.conv2d(z, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, cov = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    c1, c2 = k1**2, k2**2  # data range 1
    s_map = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s_map.flatten(1).mean(1).to(_out_dtype(a))


def gini(attr: Tensor, *, eps: float = 1e-7) -> Tensor:
    """Gini index of |attr| over all entries, channels included (Chalasani et al. 2020; advex): (N,) in [0, 1).

    v = sort(|a| + eps) ascending, G = sum_i (2i - n - 1) v_i / (n sum_i v_i); 0 = uniform, (n - 1)/n = one-hot.
    """
    v = torch.sort(_flat(attr).double().abs() + eps, dim=1).values  # (N, n) ascending
    n = v.shape[1]
    i = torch.arange(1, n + 1, dtype=torch.float64, device=v.device)
    return (((2 * i - n - 1) * v).sum(1) / (n * v.sum(1))).to(_out_dtype(attr))


def _labels(t: Tensor | int, n: int, device: torch.device) -> Tensor:
    t = torch.as_tensor(t, dtype=torch.long, device=device)
    return t.expand(n) if t.ndim == 0 else t


def correct(logits: Tensor, y: Tensor | int) -> Tensor:
    """argmax f(x) == y per example: (N, K), (N,) -> (N,) bool."""
    return logits.argmax(1) == _labels(y, logits.shape[0], logits.device)


def accuracy(logits: Tensor, y: Tensor | int) -> Tensor:
    """Clean accuracy mean[f(x) = y]: a 0-dim float tensor."""
    return correct(logits, y).float().mean()


def robust_accuracy(logits_adv: Tensor, y: Tensor | int) -> Tensor:
    """mean[f(A(x)) = y] over all points: clean mistakes count as failures (AutoAttack convention): 0-dim."""
    return correct(logits_adv, y).float().mean()


def attack_success_rate(
    logits: Tensor | None, logits_adv: Tensor, y: Tensor | int, target: Tensor | int | None = None
) -> Tensor:
    """Untargeted: #{f(x) = y and f(x') != y} / #{f(x) = y} (NaN when no point is correct); targeted: #{f(x') = t} / N.

    ``logits`` (clean) may be None for the targeted rate. Returns a 0-dim float tensor.
    """
    if target is not None:
        return correct(logits_adv, target).float().mean()
    if logits is None:
        raise ValueError("the untargeted success rate needs the clean logits")
    ok = correct(logits, y)
    fooled = ok & ~correct(logits_adv, y)
    return fooled.sum().float() / ok.sum().float()
