"""Contract for every METRICS member: metadata, Params, schema, call by category, no side effects, determinism."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from explainlab.explain import EXPLAINERS
from explainlab.metrics import METRICS, Metric
from explainlab.params import Params

CATEGORIES = {"similarity", "sparsity", "robustness", "faithfulness", "prediction"}
# small settings so the tiny 8x8 inputs fit and the suite stays fast (advertorch-style test kwargs)
TEST_PARAMS: dict[str, dict[str, Any]] = {
    "topk_intersection": {"k": 10},
    "max_sensitivity": {"samples": 3},
    "worst_case_sensitivity": {"steps": 2},
    "infidelity": {"samples": 3},
    "deletion": {"pixels_per_step": 16},
    "insertion": {"pixels_per_step": 16},
}
NAMES = METRICS.names()


def _state(model: nn.Module) -> tuple[list[bool], list[bool]]:
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


def _call(metric: Metric, model: nn.Module, explainer_name: str, x: torch.Tensor) -> torch.Tensor:
    """Call a metric the way its category says, on clones, and check that nothing it was given changed."""
    g = torch.Generator().manual_seed(9)
    a, b = torch.rand(x.shape, generator=g), torch.rand(x.shape, generator=g)
    x_adv = (x + 0.05 * torch.rand(x.shape, generator=g)).clamp(0, 1)
    y = model(x).argmax(1).detach()  # labels = clean predictions, so success rates are defined
    given = {"x": x, "a": a, "b": b, "x_adv": x_adv, "y": y}
    copies = {k: v.clone() for k, v in given.items()}
    if metric.category == "similarity":
        out = metric(a[:, 0], b[:, 0])
    elif metric.category == "sparsity":
        out = metric(a)
    elif metric.category == "prediction":
        out = metric(model, y, x=x, x_adv=x_adv)
    else:
        out = metric(model, EXPLAINERS.create(explainer_name), x)
    for k, v in given.items():
        assert torch.equal(v, copies[k]), f"{metric.name} changed its input {k}"
    return out


def test_registry_metadata() -> None:
    assert len(NAMES) == 15
    for cls in METRICS:
        assert cls.category in CATEGORIES and isinstance(cls.higher_is_better, bool)
        assert cls.title and cls.citation and (cls.__doc__ or "").strip()
        assert sys.modules[cls.__module__].__file__.endswith(f"/{cls.name}.py"), "one file per metric, named by key"


@pytest.mark.parametrize("name", NAMES)
def test_params_defaults_and_schema(name: str) -> None:
    cls = METRICS[name]
    params = cls.Params()
    assert isinstance(params, Params)
    with pytest.raises(ValidationError, match="frozen"):
        params.__setattr__("seed", 1)
    schema = cls.Params.model_json_schema()
    assert schema["type"] == "object"
    json.dumps(schema)
    for field, info in type(params).model_fields.items():
        assert info.description, f"{name}.{field} lacks a description"
        if info.annotation is not bool:  # every number is bounded on both sides
            bounds = {type(m).__name__ for m in info.metadata}
            assert bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}, f"{name}.{field} needs lower and upper bounds"
    row = next(r for r in METRICS.describe() if r["name"] == name)
    assert row["category"] == cls.category and row["higher_is_better"] == cls.higher_is_better
    json.dumps(row)


MODEL_BASED = [n for n in NAMES if METRICS[n].category in ("robustness", "faithfulness")]
# the explainer only matters to model-based metrics; Grad-CAM adds a (N, 1, H, W) attribution
CASES = [(n, "saliency") for n in NAMES] + [(n, "gradcam") for n in MODEL_BASED]


@pytest.mark.parametrize(("name", "explainer_name"), CASES)
def test_call_by_category(name: str, explainer_name: str, tiny_rgb_model: nn.Module) -> None:
    metric = METRICS.create(name, TEST_PARAMS.get(name))
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    model = tiny_rgb_model.train()  # a model handed over in train mode must come back in train mode
    model.net.conv1.weight.requires_grad_(False)
    before = _state(model)
    out = _call(metric, model, explainer_name, x)
    assert _state(model) == before, f"{name} changed the model's mode or requires_grad"
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules()), f"{name} left a hook"
    assert out.shape == (() if metric.category == "prediction" else (3,))
    assert torch.isfinite(out).all() and not out.requires_grad
    torch.testing.assert_close(_call(metric, model, explainer_name, x), out)  # seeded: same inputs, same score


@pytest.mark.parametrize("name", MODEL_BASED)
def test_model_based_metrics_use_eval_mode(name: str, tiny_model: nn.Module, tiny_images: torch.Tensor) -> None:
    """A dropout model handed over in train mode scores exactly as in eval mode (methods.md §1.7)."""
    model = nn.Sequential(tiny_model, nn.Dropout(0.5))
    metric = METRICS.create(name, TEST_PARAMS.get(name))
    explainer = EXPLAINERS.create("saliency")
    target = tiny_model(tiny_images).argmax(1)
    in_train = metric(model.train(), explainer, tiny_images, target)
    assert model.training
    torch.testing.assert_close(in_train, metric(model.eval(), explainer, tiny_images, target))


def test_keyword_overrides_and_validation() -> None:
    assert METRICS["topk_intersection"](k=7).params.k == 7
    assert METRICS["max_sensitivity"](radius="8/255").params.radius == pytest.approx(8 / 255)
    with pytest.raises(TypeError, match="either params or keyword"):
        METRICS["topk_intersection"](METRICS["topk_intersection"].Params(), k=3)
    with pytest.raises(ValueError):
        METRICS.create("deletion", {"pixels_per_step": 0})
    with pytest.raises(ValueError):
        METRICS.create("gini", {"unknown": 1})


@pytest.mark.parametrize("name", MODEL_BASED)
def test_model_based_metrics_ignore_global_grad_mode(
    name: str, tiny_model: nn.Module, tiny_images: torch.Tensor
) -> None:
    metric = METRICS.create(name, TEST_PARAMS.get(name))
    explainer = EXPLAINERS.create("saliency")
    expected = metric(tiny_model, explainer, tiny_images)
    with torch.no_grad():
        torch.testing.assert_close(metric(tiny_model, explainer, tiny_images), expected)
    assert torch.is_grad_enabled()
