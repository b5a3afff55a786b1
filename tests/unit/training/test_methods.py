"""Training methods: the loss contract for every registered method, closed-form checks of the pieces (IG of the loss,
masks, perpendicular samples, the frozen teacher) and a toy problem where PGD-AT must beat natural training."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import nn

from explainlab.attacks.pgd import PGD
from explainlab.nets import Normalized
from explainlab.training import METHODS, LossParts, rar
from explainlab.training.atex import ATEX, perpendicular
from explainlab.training.rar import ig_adversary, ig_l1, loss_ig
from explainlab.training.sgt import SGT, mask_lowest

ADV = {"eps": 0.1, "steps": 2, "step_size": 0.05}
RAR = {**ADV, "path_points": 4, "approx_factor": 2}
SMALL: dict[str, dict[str, object]] = {
    "natural": {},
    "l1": {},
    "pgd_at": ADV,
    "trades": ADV,
    "egat": ADV,
    "atex": {"anchors": 2, "n_rep": 2, "smoothgrad_samples": 2},
    "sgt": {},
    "asgt": ADV,
    "ig_norm": RAR,
    "ig_sum_norm": RAR,
}


class SmoothNet(nn.Module):
    """conv-softplus-pool-fc: smooth everywhere, so IG completeness and gradcheck hold to quadrature accuracy."""

    def __init__(self, size: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.act = nn.Softplus()
        self.fc = nn.Linear(3 * (size // 2) ** 2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.avg_pool2d(self.act(self.conv(x)), 2).flatten(1))


def batch(n: int = 6, channels: int = 1, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, 8, 8, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def test_small_params_cover_every_registered_method() -> None:
    assert set(SMALL) == set(METHODS.names())
    for name in METHODS.names():
        METHODS[name].Params(**SMALL[name])  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", METHODS.names())
def test_loss_contract(name: str, mode: str, tiny_model: nn.Module) -> None:
    model = tiny_model.train(mode == "train")
    x, y = batch()
    x0, y0 = x.clone(), y.clone()
    method = METHODS.create(name, SMALL[name])
    method.prepare(model, seed=0)
    out = method.loss(model, x, y)
    assert isinstance(out, LossParts)
    assert out.total.ndim == 0 and torch.isfinite(out.total) and out.total.requires_grad
    assert out.parts and all(isinstance(v, float) and v == v and abs(v) < float("inf") for v in out.parts.values())
    assert all(m.training == (mode == "train") for m in model.modules()), "the caller's mode must be restored"
    assert torch.equal(x, x0) and torch.equal(y, y0)
    assert all(p.grad is None and p.requires_grad for p in model.parameters()), "no gradient side effects"
    out.total.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {pname} has a non-finite gradient"
    assert any(float(p.grad.abs().sum()) > 0 for p in model.parameters())


def test_natural_step_lowers_the_loss(tiny_model: nn.Module) -> None:
    model = tiny_model.train()
    x, y = batch(16)
    method = METHODS.create("natural")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = method.loss(model, x, y)
    optimizer.zero_grad()
    before.total.backward()
    optimizer.step()
    assert float(method.loss(model, x, y).total.detach()) < float(before.total.detach())


# ---------------------------------------------------------------- RAR


def test_ig_of_the_loss_is_complete() -> None:
    torch.manual_seed(0)
    model = SmoothNet().double().eval()
    x, y = batch(4)
    x = x.double()
    x_prime = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    ig, ce_end = loss_ig(model, x, x_prime, y, 400, chunk=128, create_graph=False)
    with torch.no_grad():
        ce_x = F.cross_entropy(model(x), y, reduction="none")
        ce_xp = F.cross_entropy(model(x_prime), y, reduction="none")
    torch.testing.assert_close(ce_end, ce_xp)
    gap = (ce_xp - ce_x).abs().max()
    torch.testing.assert_close(ig.sum((1, 2, 3)), ce_xp - ce_x, atol=float(gap) * 5e-4, rtol=0)


def test_ig_l1_is_differentiable_in_x_prime_and_weights_and_chunk_invariant() -> None:
    torch.manual_seed(0)
    model = SmoothNet(size=4).double().eval()
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 4, 4, generator=gen, dtype=torch.float64)
    x_prime = (x + 0.2 * torch.rand(x.shape, generator=gen, dtype=torch.float64)).requires_grad_(True)
    y = torch.tensor([0, 2])
    assert torch.autograd.gradcheck(lambda xp: ig_l1(model, x, xp, y, 3), (x_prime,))
    torch.testing.assert_close(ig_l1(model, x, x_prime, y, 5, chunk=1), ig_l1(model, x, x_prime, y, 5, chunk=64))
    ig_l1(model, x, x_prime.detach(), y, 3).sum().backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.parameters())


def test_ig_l1_default_passes_hold_images_per_pass_images(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = SmoothNet(size=4).double().eval()
    x = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    x_prime, y = (x + 0.1).clamp(0, 1), torch.tensor([1, 0])
    sizes: list[int] = []
    model.register_forward_hook(lambda _m, inputs, _out: sizes.append(inputs[0].shape[0]))
    monkeypatch.setattr(rar, "IMAGES_PER_PASS", 4)
    default = ig_l1(model, x, x_prime, y, 5)
    assert sizes == [4, 4, 2]  # 2 path points (4 images) a pass
    torch.testing.assert_close(default, ig_l1(model, x, x_prime, y, 5, chunk=64))


def test_ig_adversary_stays_in_the_ball_and_raises_the_ig_norm() -> None:
    torch.manual_seed(0)
    model = SmoothNet().eval()
    x, y = batch(8)
    gen = torch.Generator().manual_seed(0)
    kw = {"eps": 0.1, "step_size": 0.02, "path_points": 4, "ce_weight": 0.0, "ig_weight": 1.0, "chunk": 64}
    start = ig_adversary(model, x, y, steps=0, generator=torch.Generator().manual_seed(0), **kw)  # random start
    x_adv = ig_adversary(model, x, y, steps=10, generator=gen, **kw)
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6 and float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    assert float(ig_l1(model, x, x_adv, y, 4).sum().detach()) > float(ig_l1(model, x, start, y, 4).sum().detach())


def test_rar_totals_are_their_parts_and_beta_zero_is_pgd_at(tiny_model: nn.Module) -> None:
    model = tiny_model.train()
    x, y = batch(8)
    sum_norm = METHODS.create("ig_sum_norm", {**RAR, "ig_weight": 0.0})
    madry = METHODS.create("pgd_at", ADV)
    sum_norm.prepare(model, seed=5)
    madry.prepare(model, seed=5)
    torch.testing.assert_close(sum_norm.loss(model, x, y).total, madry.loss(model, x, y).total, rtol=0, atol=0)
    for name, weight in (("ig_sum_norm", 0.3), ("ig_norm", 2.0)):
        method = METHODS.create(name, {**RAR, "ig_weight": weight})
        method.prepare(model, seed=0)
        out = method.loss(model, x, y)
        first = out.parts["adv_ce" if name == "ig_sum_norm" else "ce"]
        assert float(out.total.detach()) == pytest.approx(first + weight * out.parts["ig_l1"], rel=1e-5)
    assert METHODS.create("ig_norm", {**RAR, "ig_weight": 0.0}).loss(model, x, y).parts.keys() == {"ce"}


def test_rar_path_points_must_be_a_multiple_of_the_approx_factor() -> None:
    with pytest.raises(ValidationError, match="must divide"):
        METHODS["ig_norm"].Params(path_points=10, approx_factor=3)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- SGT / ASGT


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.9])
def test_mask_lowest_masks_exactly_the_requested_fraction(fraction: float) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(5, 3, 8, 8, generator=gen) * 0.6 + 0.2
    scores = torch.randn(5, 8, 8, generator=gen)
    masked, mask = mask_lowest(x, scores, fraction, gen)
    k = int(fraction * 64)
    assert mask.shape == (5, 8, 8) and mask.flatten(1).sum(1).tolist() == [k] * 5
    flat = scores.flatten(1)
    m = mask.flatten(1)
    for i in range(5):
        assert float(flat[i][m[i]].max()) < float(flat[i][~m[i]].min())  # the k lowest scores
    keep = ~mask.unsqueeze(1).expand_as(x)
    assert torch.equal(masked[keep], x[keep])
    lo, hi = x.flatten(1).amin(1).view(-1, 1, 1, 1), x.flatten(1).amax(1).view(-1, 1, 1, 1)
    assert bool(((masked >= lo) & (masked <= hi)).all())
    assert not torch.equal(masked, x)


@pytest.mark.parametrize("abs_saliency", [False, True])
def test_sgt_masks_the_least_salient_half(tiny_model: nn.Module, abs_saliency: bool) -> None:
    x, y = batch(4)
    method = SGT(abs_saliency=abs_saliency)
    method.prepare(tiny_model)
    x_masked, mask = method.masked(tiny_model, x, y)
    assert mask.flatten(1).sum(1).tolist() == [32] * 4
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(tiny_model(xg).gather(1, y[:, None]).sum(), xg)
    s = grad.mean(1).flatten(1)
    s = s.abs() if abs_saliency else s
    m = mask.flatten(1)
    for i in range(4):
        assert float(s[i][m[i]].max()) <= float(s[i][~m[i]].min())
    assert torch.equal(x_masked[~mask.unsqueeze(1)], x[~mask.unsqueeze(1)])


def test_asgt_masks_its_adversarial_examples(tiny_model: nn.Module) -> None:
    x, y = batch(4)
    method = METHODS.create("asgt", {**ADV, "mask_fraction": 0.25})
    method.prepare(tiny_model)
    x_adv, x_masked, mask = method.samples(tiny_model, x, y)  # type: ignore[attr-defined]
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6
    assert mask.flatten(1).sum(1).tolist() == [16] * 4
    keep = ~mask.unsqueeze(1)
    assert torch.equal(x_masked[keep], x_adv[keep])


# ---------------------------------------------------------------- ATEX


def test_perpendicular_removes_the_component_along_e_per_channel() -> None:
    gen = torch.Generator().manual_seed(0)
    e = torch.randn(4, 3, 8, 8, generator=gen)
    r = torch.randn(2, 5, 4, 3, 8, 8, generator=gen)  # (J, n_rep, N, C, H, W) broadcasts against e
    r_perp = perpendicular(e, r)
    dots = (r_perp * e).sum((-2, -1))
    assert float(dots.abs().max()) < 1e-4 * float(r.norm(dim=(-2, -1)).max() * e.norm(dim=(-2, -1)).max())
    torch.testing.assert_close(perpendicular(e, 2.5 * e), torch.zeros_like(e), atol=1e-5, rtol=0)
    already = perpendicular(e, r)
    torch.testing.assert_close(perpendicular(e, already), already, atol=1e-5, rtol=0)


def test_atex_samples_are_perpendicular_to_the_explanation(tiny_rgb_model: nn.Module) -> None:
    x, y = batch(4, channels=3)
    method = ATEX(n_rep=3, smoothgrad_samples=4)
    method.prepare(tiny_rgb_model)
    x_tilde, anchors, e = method.samples(tiny_rgb_model, x, y)
    assert x_tilde.shape == (2, 3, 4, 3, 8, 8) and anchors.shape == (2, 4, 3, 8, 8)
    mag = 4 * method.params.eps
    torch.testing.assert_close(anchors[1], x)  # J = 2: coefficients -1 and 0
    assert float((anchors[0] - x).abs().flatten(1).amax(1).min()) == pytest.approx(mag, rel=1e-4)
    offsets = x_tilde - anchors.unsqueeze(1)
    dots = (offsets * e).sum((-2, -1)).abs()
    scale = offsets.norm(dim=(-2, -1)) * e.norm(dim=(-2, -1))
    assert float((dots / scale.clamp_min(1e-12)).max()) < 1e-4
    assert float(offsets.abs().max()) > 0.5 * mag


def test_atex_teacher_is_frozen_and_required(tiny_model: nn.Module) -> None:
    x, y = batch(6)
    with pytest.raises(RuntimeError, match="prepare"):
        ATEX().loss(tiny_model, x, y)
    model = tiny_model.train()
    start = copy.deepcopy(model.state_dict())
    method = ATEX(n_rep=2, smoothgrad_samples=2)
    method.prepare(model, seed=0)
    teacher = method.teacher
    assert teacher is not None and teacher is not model
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        out = method.loss(model, x, y)
        optimizer.zero_grad()
        out.total.backward()
        optimizer.step()
    assert method.teacher is teacher and not teacher.training
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, start[key])
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert any(not torch.equal(v, start[k]) for k, v in model.state_dict().items()), "the student must move"


# ---------------------------------------------------------------- a toy where robustness needs AT


def toy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """2 classes on 1x8x8: pixel 0 says the class with margin 0.35 (90 % right); the 63 others each lean 0.1 towards
    it under N(0, 0.15) noise (together ~100 % right, but an eps = 0.12 shift flips them all)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    s = (2 * y - 1).float()
    flip = torch.where(torch.rand(n, generator=gen) < 0.1, -1.0, 1.0)
    x = 0.5 + 0.1 * s[:, None] + 0.15 * torch.randn(n, 64, generator=gen)
    x[:, 0] = 0.5 + 0.35 * s * flip
    return x.clamp(0, 1).view(n, 1, 8, 8), y


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> float:
    model.eval()
    x_adv = PGD(eps=eps, steps=20, step_size=eps / 8).perturb(model, x, y)
    with torch.no_grad():
        return float((model(x_adv).argmax(1) == y).float().mean())


def test_pgd_at_is_more_robust_than_natural_training_on_a_toy_problem() -> None:
    eps = 0.12
    x_train, y_train = toy(2048, seed=0)
    x_test, y_test = toy(512, seed=1)
    robust = {}
    for name, params in (("natural", {}), ("pgd_at", {"eps": eps, "steps": 5, "step_size": eps / 3})):
        torch.manual_seed(0)
        model = Normalized(nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2)), [0.5], [0.25])
        method = METHODS.create(name, params)
        method.prepare(model, seed=0)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        order = torch.Generator().manual_seed(0)
        model.train()
        for _ in range(300):
            idx = torch.randint(0, len(y_train), (64,), generator=order)
            out = method.loss(model, x_train[idx], y_train[idx])
            optimizer.zero_grad()
            out.total.backward()
            optimizer.step()
        robust[name] = robust_accuracy(model, x_test, y_test, eps)
    assert robust["pgd_at"] > 0.7 and robust["pgd_at"] > robust["natural"] + 0.3, robust
