"""The lab's comparison over many images: per-image outcomes on tiny models, and the summary's closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from explainlab.attacks import ATTACKS
from explainlab.eval.testset import CHUNK, attack_images, extend, summarize
from explainlab.explain import EXPLAINERS


def _own_labels(model, x):
    with torch.no_grad():
        return model(x).argmax(1)


def test_a_vanishing_budget_moves_nothing(tiny_model, tiny_images) -> None:
    y = _own_labels(tiny_model, tiny_images)
    attacker = ATTACKS.create("pgd", {"eps": 1e-4, "steps": 2, "random_start": False})
    [out] = attack_images([tiny_model], tiny_images, y, attacker, EXPLAINERS.create("saliency"))
    assert out["correct"] == out["robust"] == [True] * 4
    assert out["topk_intersection"] == pytest.approx([1.0] * 4) and out["ssim"] == pytest.approx([1.0] * 4, abs=1e-6)
    assert all(v <= 1e-4 + 1e-6 for v in out["linf"])


def test_clean_mistakes_are_not_attacked_and_count_as_broken(tiny_model, tiny_images) -> None:
    own = _own_labels(tiny_model, tiny_images)
    y = own.clone()
    y[1] = (own[1] + 1) % 3  # a wrong "true" label: the model is wrong on image 1
    attacker = ATTACKS.create("pgd", {"eps": 0.5, "steps": 10, "step_size": 0.1})
    [out] = attack_images([tiny_model], tiny_images, y, attacker, EXPLAINERS.create("saliency"), k=5)
    assert out["correct"] == [True, False, True, True]
    assert out["robust"][1] is False and out["topk_intersection"][1] is None and out["linf"][1] is None
    attacked = [v for v in out["linf"] if v is not None]
    assert len(attacked) == 3 and max(attacked) <= 0.5 + 1e-6
    assert all(0.0 <= v <= 1.0 for v in out["topk_intersection"] if v is not None)


def test_transfer_crafts_once_on_the_source(tiny_model, tiny_images) -> None:
    y = _own_labels(tiny_model, tiny_images)
    attacker = ATTACKS.create("fgsm", {"eps": 0.2})
    outs = attack_images([tiny_model, tiny_model], tiny_images, y, attacker, EXPLAINERS.create("saliency"),
                         transfer_from=0)  # fmt: skip
    assert outs[0] == outs[1]  # the same model on the same adversarial images
    assert all(v == pytest.approx(0.2) or v < 0.2 for v in outs[0]["linf"])


def test_summary_closed_forms() -> None:
    outcomes = {
        "correct": [True, True, False, False],
        "robust": [True, False, False, False],
        "topk_intersection": [1.0, 0.5, None, None],
        "spearman": [1.0, 0.0, None, None],
        "ssim": [1.0, 1.0, None, None],
        "linf": [0.1, 0.3, None, None],
    }
    s = summarize(outcomes)
    assert s["n"] == 4 and s["clean_accuracy"]["mean"] == 0.5 and s["accuracy_under_attack"]["mean"] == 0.25
    assert s["attack_success"] == {"mean": 0.5, "se2": pytest.approx(1.0), "n": 2}  # sample var 0.5, n 2
    assert s["clean_accuracy"]["se2"] == pytest.approx(2 * math.sqrt(1 / 3 / 4))
    assert s["topk_intersection"]["mean"] == 0.75 and s["topk_intersection"]["n"] == 2
    assert s["ssim"]["se2"] == 0.0 and s["max_linf"] == 0.3
    assert summarize({name: [] for name in outcomes})["clean_accuracy"] == {"mean": None, "se2": None, "n": 0}


def test_extend_appends_batches_in_order() -> None:
    one = {name: [1] for name in ("correct", "robust", "topk_intersection", "spearman", "ssim", "linf")}
    two = extend(extend({}, one), {name: [2] for name in one})
    assert two["correct"] == [1, 2] and one["correct"] == [1]


def test_outcomes_do_not_depend_on_how_the_run_is_split(tiny_model) -> None:
    c = CHUNK
    x = torch.rand(2 * c + 4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    y = _own_labels(tiny_model, x)
    attacker = ATTACKS.create("pgd", {"eps": 0.3, "steps": 3, "step_size": 0.1, "random_start": True})
    saliency = EXPLAINERS.create("saliency")
    [whole] = attack_images([tiny_model], x, y, attacker, saliency)
    [a] = attack_images([tiny_model], x[:c], y[:c], attacker, saliency)
    [b] = attack_images([tiny_model], x[c:], y[c:], attacker, saliency, first=c)
    assert extend(extend({}, a), b) == whole  # chunks of CHUNK images, each seeded by its place in the run
    [shifted] = attack_images([tiny_model], x[c:], y[c:], attacker, saliency)  # other chunks, other random starts
    assert shifted["spearman"] != whole["spearman"][c:]
    with pytest.raises(ValueError, match=f"multiple of {c}"):
        attack_images([tiny_model], x[3:], y[3:], attacker, saliency, first=3)
