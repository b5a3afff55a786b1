"""The Captum adapters keep the Explainer contract: shapes, no side effects, seeded randomness, bounded params."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch
from torch import nn

from explainlab.errors import IncompatibleError
from explainlab.explain import EXPLAINERS
from explainlab.explain.base import ExplainerParams
from explainlab.explain.captum_adapter import CaptumExplainer

CAPTUM_EXPLAINERS = [e for e in EXPLAINERS if e.backend == "captum"]

NAMES = [cls.name for cls in CAPTUM_EXPLAINERS]
RANDOM = [cls.name for cls in CAPTUM_EXPLAINERS if "seed" in cls.Params.model_fields]
# small settings so the contract runs in seconds
FAST: dict[str, dict] = {
    "captum_integrated_gradients": {"steps": 8},
    "captum_smoothgrad": {"samples": 4},
    "captum_gradient_shap": {"samples": 4},
    "captum_lime": {"samples": 32},
    "captum_kernel_shap": {"samples": 32},
}
HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def create(name: str, **params: object) -> CaptumExplainer:
    return EXPLAINERS.create(name, {**FAST.get(name, {}), **params})  # type: ignore[return-value]


def state(model: nn.Module) -> tuple:
    """Everything an explainer must leave as it found it."""
    return (
        tuple(m.training for m in model.modules()),
        tuple(p.requires_grad for p in model.parameters()),
        tuple(p.grad is None for p in model.parameters()),
        sum(len(getattr(m, k)) for m in model.modules() for k in HOOK_DICTS),
        tuple(type(m) for m in model.modules()),
        tuple(sorted(k for m in model.modules() for k in vars(m) if k in {"input", "output", "input_ref"})),
    )


def test_registry_lists_every_adapter() -> None:
    assert len(NAMES) >= 11 and len(set(NAMES)) == len(NAMES)
    assert {
        "captum_integrated_gradients", "captum_saliency", "captum_smoothgrad", "captum_gradcam", "captum_deeplift",
        "captum_gradient_shap", "captum_guided_backprop", "captum_occlusion", "captum_input_x_gradient",
        "captum_lime", "captum_kernel_shap",
    } <= set(NAMES)  # fmt: skip
    for cls in CAPTUM_EXPLAINERS:
        assert EXPLAINERS[cls.name] is cls
    assert {row["name"] for row in EXPLAINERS.describe() if row["backend"] == "captum"} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_metadata_and_bounded_params(name: str) -> None:
    cls = EXPLAINERS[name]
    assert name.startswith("captum_") and cls.backend == "captum" and cls.differentiable is False
    assert cls.title and "arXiv:" in cls.citation and any(ch.isdigit() for ch in cls.citation.split("arXiv")[0])
    doc = (cls.__doc__ or "").strip()
    assert "\n" not in doc and doc.endswith(".") and "arXiv:" in doc
    assert issubclass(cls.Params, ExplainerParams) and cls.Params.model_config.get("frozen")
    for field, prop in cls.Params.model_json_schema().get("properties", {}).items():
        assert prop.get("description"), f"{name}.{field} lacks a description"
        if prop.get("type") in {"integer", "number"}:
            assert "minimum" in prop and "maximum" in prop, f"{name}.{field} is unbounded"
            with pytest.raises(pydantic.ValidationError):
                cls.Params(**{field: prop["maximum"] * 10 + 1})
            with pytest.raises(pydantic.ValidationError):
                cls.Params(**{field: prop["minimum"] - 1})
    params = cls.Params()
    with pytest.raises(pydantic.ValidationError):
        params.__class__(unknown=1)
    for field in cls.Params.model_fields:
        with pytest.raises(pydantic.ValidationError):
            setattr(params, field, None)


def test_web_sized_requests_are_rejected() -> None:
    for name, params in [
        ("captum_integrated_gradients", {"steps": 10**9}),
        ("captum_integrated_gradients", {"steps": 1025}),
        ("captum_smoothgrad", {"samples": 513}),
        ("captum_gradient_shap", {"samples": 513}),
        ("captum_lime", {"samples": 2049}),
        ("captum_kernel_shap", {"samples": 2049}),
        ("captum_occlusion", {"window": 4, "stride": 5}),
        ("captum_gradcam", {"upsample": "bicubic"}),
        ("captum_smoothgrad", {"seed": -1}),
    ]:
        with pytest.raises(pydantic.ValidationError):
            EXPLAINERS.create(name, params)


@pytest.mark.parametrize("name", NAMES)
def test_adapter_contract(name: str, tiny_rgb_model: nn.Module) -> None:
    tiny_rgb_model.net.conv1.bias.requires_grad_(False)  # a frozen parameter stays frozen
    x = torch.rand(3, 3, 8, 8)
    x0 = x.clone()
    before = state(tiny_rgb_model)
    attr = create(name).explain(tiny_rgb_model, x, torch.tensor([0, 1, 2]))
    expected = (3, 1, 8, 8) if name == "captum_gradcam" else (3, 3, 8, 8)
    assert attr.shape == expected and attr.dtype == torch.float32
    assert torch.isfinite(attr).all() and not attr.requires_grad and attr.abs().sum() > 0
    assert torch.equal(x, x0) and not x.requires_grad and x.grad is None, "input modified"
    assert state(tiny_rgb_model) == before, "mode, requires_grad, grads, hooks or modules changed"
    assert torch.equal(attr, create(name).explain(tiny_rgb_model, x, torch.tensor([0, 1, 2])))
    with pytest.raises(IncompatibleError):
        create(name).explain(tiny_rgb_model, x, 0, create_graph=True)


@pytest.mark.parametrize("name", NAMES)
def test_train_mode_model_is_explained_in_eval_mode_and_restored(name: str) -> None:
    from explainlab.nets import build_model

    model = build_model("resnet20", [0.5] * 3, [0.25] * 3, blocks_per_stage=1).train()
    model.net.layer2.eval()  # a mixed state must come back exactly
    x = torch.rand(2, 3, 32, 32)
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    before = state(model)
    attr = create(name).explain(model, x, 1)
    assert state(model) == before
    assert all(torch.equal(buffers[k], v) for k, v in model.state_dict().items()), "BatchNorm statistics changed"
    assert torch.equal(attr, create(name).explain(model.eval(), x, 1)), "not the eval-mode explanation"


@pytest.mark.parametrize("name", NAMES)
def test_float64_and_int_target(name: str, tiny_rgb_model: nn.Module) -> None:
    model = tiny_rgb_model.double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    attr = create(name).explain(model, x, 2)
    assert attr.dtype == torch.float64 and torch.isfinite(attr).all()
    assert torch.equal(attr, create(name).explain(model, x, torch.tensor([2, 2])))


@pytest.mark.parametrize("name", NAMES)
def test_bad_target_is_incompatible_and_leaves_no_hooks(name: str, tiny_rgb_model: nn.Module) -> None:
    before = state(tiny_rgb_model)
    for target in ([0, 3], [-1, 0]):
        with pytest.raises(IncompatibleError):
            create(name).explain(tiny_rgb_model, torch.rand(2, 3, 8, 8), torch.tensor(target))
        assert state(tiny_rgb_model) == before


@pytest.mark.parametrize("name", RANDOM)
def test_seeded_randomness(name: str, tiny_rgb_model: nn.Module) -> None:
    x = torch.rand(2, 3, 8, 8)
    rng, np_rng = torch.get_rng_state(), np.random.get_state()[1].copy()
    first = create(name, seed=7).explain(tiny_rgb_model, x, 1)
    assert torch.equal(torch.get_rng_state(), rng), "global torch RNG state changed"
    assert (np.random.get_state()[1] == np_rng).all(), "global numpy RNG state changed"
    torch.manual_seed(12345)  # the map depends on the seed param only, not on the global RNGs
    np.random.seed(12345)
    assert torch.equal(first, create(name, seed=7).explain(tiny_rgb_model, x, 1))
    assert not torch.equal(first, create(name, seed=8).explain(tiny_rgb_model, x, 1))


def test_deeplift_sums_to_the_score_difference(tiny_rgb_model: nn.Module) -> None:
    """Rescale rule on conv-relu-avgpool-fc: sum_i A_i = f_t(x) - f_t(baseline) (summation to delta)."""
    model = tiny_rgb_model.double()
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 0])
    attr = create("captum_deeplift", baseline=0.25).explain(model, x, target)
    with torch.no_grad():
        delta = (model(x) - model(torch.full_like(x, 0.25))).gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(attr.sum((1, 2, 3)), delta, atol=1e-9, rtol=0)


def test_kernel_shap_is_efficient(tiny_rgb_model: nn.Module) -> None:
    """KernelSHAP's patch values sum to f_t(x) - f_t(baseline) (Captum's infinite weight on the empty/full sets)."""
    x = torch.rand(2, 3, 8, 8)
    target = torch.tensor([2, 0])
    attr = create("captum_kernel_shap", samples=64, patch=4).explain(tiny_rgb_model, x, target)
    with torch.no_grad():
        delta = (tiny_rgb_model(x) - tiny_rgb_model(torch.zeros_like(x))).gather(1, target[:, None])[:, 0]
    patch_values = attr[:, 0, ::4, ::4]  # one value per 4x4 patch, the same in every channel
    assert torch.equal(attr, patch_values.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None].expand_as(attr))
    torch.testing.assert_close(patch_values.sum((1, 2)), delta, atol=1e-4, rtol=1e-4)


def test_occlusion_and_patch_sizes_must_fit(tiny_rgb_model: nn.Module) -> None:
    with pytest.raises(IncompatibleError):
        create("captum_occlusion", window=9, stride=1).explain(tiny_rgb_model, torch.rand(1, 3, 8, 8), 0)
    many = torch.rand(1, 3, 40, 40)  # 1600 one-pixel patches: refused before the model runs
    for name in ("captum_lime", "captum_kernel_shap"):
        with pytest.raises(IncompatibleError):
            create(name, patch=1).explain(tiny_rgb_model, many, 0)


def test_deeplift_with_a_reused_relu_is_incompatible() -> None:
    class Reused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1)
            self.relu, self.fc = nn.ReLU(), nn.Linear(32, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.relu(self.conv2(self.relu(self.conv1(x)))).flatten(1))

    model = Reused().eval()
    before = state(model)
    with pytest.raises(IncompatibleError, match="ReLU"):
        create("captum_deeplift").explain(model, torch.rand(2, 1, 4, 4), 0)
    assert state(model) == before


@pytest.mark.parametrize("name", ["captum_deeplift", "captum_guided_backprop"])
def test_inplace_relus_give_the_same_map(name: str, tiny_rgb_model: nn.Module) -> None:
    x = torch.rand(2, 3, 8, 8)
    plain = create(name).explain(tiny_rgb_model, x, 1)
    tiny_rgb_model.net.relu1.inplace = True
    assert torch.equal(plain, create(name).explain(tiny_rgb_model, x, 1))
