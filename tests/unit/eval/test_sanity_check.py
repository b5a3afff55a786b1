"""The model parameter randomization test (explainlab/eval/sanity_check.py; Adebayo et al. 2018): which layers each
stage randomizes, that the model passed in never changes, closed forms on a linear model, and a map drawn by the input
alone that the test must flag."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from explainlab.eval.sanity_check import (
    LayerUnit,
    SanityParams,
    check_images,
    input_likeness,
    randomization_units,
    randomized_models,
    reinitialize,
    sanity_check,
    summarize_checks,
    warning_flags,
)
from explainlab.explain import EXPLAINERS, Explainer
from explainlab.explain.base import ExplainerParams
from explainlab.metrics.functional import spearman_rho
from explainlab.nets import Normalized, build_model


class InputItself(Explainer):
    """A 'map' that is the image: it ignores the model, as an edge detector would."""

    name = "input_itself"
    title = "the input"
    citation = "a test double"

    class Params(ExplainerParams):
        pass

    def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
        return x.clone()


def snapshot(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before: dict[str, Tensor], model: nn.Module) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}


def test_units_run_from_the_output_down_and_join_normalization_to_the_layer_before() -> None:
    small = build_model("small_cnn", [0.5], [0.5])
    assert [u.name for u in randomization_units(small)] == ["fc2", "fc1", "conv2", "conv1"]
    assert randomization_units(small)[0].modules == ("net.fc2",)
    resnet = build_model("resnet20", [0.5] * 3, [0.25] * 3)
    names = [u.name for u in randomization_units(resnet)]
    assert names[0] == "fc" and names[-1] == "conv1+bn1" and len(names) == 11
    assert names[1:4] == ["layer3.2", "layer3.1", "layer3.0"]
    bare = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    assert [u.modules for u in randomization_units(bare)] == [("1",)]


def test_cascading_randomizes_one_more_unit_per_stage_and_never_the_model_passed_in(tiny_model: nn.Module) -> None:
    before = snapshot(tiny_model)
    stages = [(unit, changed(before, m)) for unit, m in randomized_models(tiny_model, SanityParams())]
    assert [unit.name for unit, _ in stages] == ["fc", "conv1"]
    assert stages[0][1] == {"net.fc.weight", "net.fc.bias"}
    assert stages[1][1] == {"net.fc.weight", "net.fc.bias", "net.conv1.weight", "net.conv1.bias"}
    assert changed(before, tiny_model) == set()


def test_independent_randomizes_one_unit_alone_and_the_seed_fixes_the_weights(tiny_model: nn.Module) -> None:
    before = snapshot(tiny_model)
    stages = list(randomized_models(tiny_model, SanityParams(order="independent", seed=3)))
    assert changed(before, stages[1][1]) == {"net.conv1.weight", "net.conv1.bias"}
    again = dict(randomized_models(tiny_model, SanityParams(order="independent", seed=3)).__next__()[1].state_dict())
    assert torch.equal(again["net.fc.weight"], stages[0][1].state_dict()["net.fc.weight"])
    other = next(randomized_models(tiny_model, SanityParams(order="independent", seed=4)))[1]
    assert not torch.equal(other.state_dict()["net.fc.weight"], again["net.fc.weight"])
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    list(randomized_models(tiny_model, SanityParams()))
    assert torch.equal(torch.rand(1), expected)  # the global generator is left where it was


def test_batchnorm_forgets_its_running_statistics() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with torch.no_grad():
        net[1].running_mean.fill_(5.0)
        net[1].weight.fill_(3.0)
    unit = randomization_units(net)[0]
    assert unit == LayerUnit("0+1", ("0", "1"))
    reinitialize(net, unit, seed=0)
    assert torch.equal(net[1].running_mean, torch.zeros(2)) and torch.equal(net[1].weight, torch.ones(2))


def test_a_linear_models_saliency_after_randomization_is_the_new_weights_row() -> None:
    """Saliency of f(x) = W x is |W_y| for any x: after re-initializing W it is |W'_y|, in closed form."""
    torch.manual_seed(0)
    model = Normalized(nn.Sequential(nn.Flatten(), nn.Linear(36, 3)), [0.0], [1.0]).eval()
    x = torch.rand(2, 1, 6, 6)
    label = model(x).argmax(1)
    stages = sanity_check(model, x, EXPLAINERS["saliency"](), SanityParams(seed=7))
    fresh = nn.Linear(36, 3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        fresh.reset_parameters()
    assert [s.name for s in stages] == ["trained", "1"] and stages[1].randomized == ["1"]
    for i in range(2):
        old, new = model.net[1].weight[label[i]].abs().view(6, 6), fresh.weight[label[i]].abs().view(6, 6)
        assert torch.allclose(stages[0].maps[i], old) and torch.allclose(stages[1].maps[i], new)
        rho = spearman_rho(old[None].detach(), new[None].detach())[0]
        assert stages[1].similarity["spearman_abs"][i] == pytest.approx(float(rho), abs=1e-6)
    for metric, values in stages[0].similarity.items():
        assert torch.allclose(values, torch.ones(2)), metric  # the trained stage against itself


def test_a_map_the_input_draws_alone_survives_every_randomization(tiny_model: nn.Module, tiny_images: Tensor) -> None:
    stages = sanity_check(tiny_model, tiny_images, InputItself(), SanityParams(top_fraction=0.25))
    for stage in stages:
        for metric, values in stage.similarity.items():
            assert torch.allclose(values, torch.ones(4)), (stage.name, metric)
    assert torch.allclose(input_likeness(tiny_images, stages[0].maps), torch.ones(4))
    saliency = sanity_check(tiny_model, tiny_images, EXPLAINERS["saliency"](), SanityParams())
    assert float(saliency[-1].similarity["spearman_abs"].abs().mean()) < 0.9  # the real map moves


def test_every_stage_explains_the_trained_models_class(tiny_model: nn.Module, tiny_images: Tensor) -> None:
    seen = []

    class Recording(InputItself):
        def _attribute(self, model: nn.Module, x: Tensor, target: Tensor, create_graph: bool) -> Tensor:
            seen.append(target.clone())
            return super()._attribute(model, x, target, create_graph)

    sanity_check(tiny_model, tiny_images, Recording(), SanityParams())
    label = tiny_model(tiny_images).argmax(1)
    assert len(seen) == 3 and all(torch.equal(t, label) for t in seen)


def test_rows_and_summary_over_images(tiny_model: nn.Module) -> None:
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 2, 0, 1])
    done: list[int] = []
    rows = check_images(tiny_model, x, y, EXPLAINERS["saliency"](), SanityParams(batch=2), done.append)
    assert done == [2, 4, 5] and len(rows) == 5 and [r["label"] for r in rows] == y.tolist()
    assert [s["name"] for s in rows[0]["stages"]] == ["trained", "fc", "conv1"]
    assert rows[0]["stages"][0]["spearman_abs"] == pytest.approx(1.0) and rows[0]["stages"][0]["same_prediction"]
    summary = summarize_checks(rows)
    assert summary["n"] == 5 and [s["name"] for s in summary["stages"]] == ["trained", "fc", "conv1"]
    fc = [r["stages"][1]["ssim"] for r in rows]
    assert summary["stages"][1]["ssim"]["mean"] == pytest.approx(sum(fc) / 5)
    assert set(summary["other_class"]) == {"spearman_abs", "spearman_signed", "ssim", "topk_intersection"}


def test_a_constant_map_is_left_out_and_counted() -> None:
    rows = [{"label": 0, "predicted": 0, "input_spearman": 0.5, "other_class": {m: 0.1 for m in
             ("spearman_abs", "spearman_signed", "ssim", "topk_intersection")},
             "stages": [{"name": "trained", "same_prediction": True, "spearman_abs": v, "spearman_signed": v,
                         "ssim": v, "topk_intersection": 1.0}]} for v in (0.2, None, 0.4)]  # fmt: skip
    stage = summarize_checks(rows)["stages"][0]
    assert stage["constant_maps"] == 1 and stage["spearman_abs"]["n"] == 2
    assert stage["spearman_abs"]["mean"] == pytest.approx(0.3)
    assert summarize_checks([])["n"] == 0


def test_warning_flags_name_what_kept_the_map() -> None:
    stages = [("fc2", 0.9), ("fc1", 0.7), ("conv2", 0.55), ("conv1", 0.1)]
    flags = warning_flags(stages, other_topk=0.6, input_spearman=0.95, order="cascading")
    assert [f["code"] for f in flags] == ["first_layer_map", "class_insensitive", "input_like"]
    assert flags[0] == {"code": "first_layer_map", "value": 0.55, "randomized_to": "conv2", "kept_layer": "conv1"}
    assert warning_flags(stages, 0.6, 0.95, order="independent")[0]["code"] == "class_insensitive"
    quiet = [("fc2", 0.3), ("conv1", 0.49)]
    assert warning_flags(quiet, other_topk=0.2, input_spearman=0.5, order="cascading") == []
    assert warning_flags([("net", None)], None, None, "cascading") == []
    random_too = [("fc2", 0.9), ("conv1", 0.7)]  # even a fully random model draws it: the input does
    assert warning_flags(random_too, 0.2, 0.5, "cascading") == [{"code": "random_model_map", "value": 0.7}]
