"""The lab's comparison core on tiny models: similarity closed forms, verdicts, transfer and the attack contract."""

from __future__ import annotations

import torch

from explainlab import compare
from explainlab.attacks import ATTACKS
from explainlab.explain import EXPLAINERS


def test_similarity_of_a_map_with_itself_is_perfect() -> None:
    s = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    sim = compare.similarity(s, s.clone())
    assert sim.k == 6 and sim.topk_intersection == 1.0 and abs(sim.spearman - 1) < 1e-9 and abs(sim.ssim - 1) < 1e-9


def test_similarity_of_disjoint_top_pixels_is_zero() -> None:
    a, b = torch.zeros(10, 10), torch.zeros(10, 10)
    a[:1] = 1.0  # top row
    b[-1:] = 1.0  # bottom row
    sim = compare.similarity(a, b, k=10)
    assert sim.topk_intersection == 0.0 and sim.spearman < 0


def test_constant_map_has_no_rank_information() -> None:
    assert compare.similarity(torch.ones(4, 4), torch.rand(4, 4)).spearman == 0.0


def _view(label: int, confidence: float = 0.9) -> compare.View:
    probs = [0.0] * 3
    probs[label] = confidence
    return compare.View(compare.Prediction(label, confidence, probs), label, torch.zeros(1, 4, 4), torch.zeros(4, 4))


def test_verdicts_in_plain_language() -> None:
    names = ["cat", "dog", "fox"]
    moved = compare.Similarity(k=10, topk_intersection=0.37, spearman=0.1, ssim=0.2)
    flipped = compare.verdicts(_view(0), _view(2), moved, "prediction", names)
    assert [v.code for v in flipped] == ["prediction_flipped", "explanation_moved"]
    assert flipped[0].text == "prediction flipped: cat → fox" and flipped[1].text.startswith("explanation moved 63 %")
    stable = compare.Similarity(k=10, topk_intersection=0.9, spearman=0.9, ssim=0.9)
    kept = compare.verdicts(_view(1), _view(1, 0.5), stable, "prediction", names)
    assert [(v.code, v.severity) for v in kept] == [("prediction_kept", "good"), ("explanation_stable", "good")]
    sneaky = compare.verdicts(_view(1), _view(1), moved, "explanation", names)
    assert sneaky[-1].code == "label_kept_map_moved" and sneaky[-1].severity == "bad"


def test_attack_rows_respect_the_threat_model(tiny_model, tiny_images) -> None:
    models = [tiny_model, tiny_model]
    inputs = [tiny_images[:1], tiny_images[1:2]]
    attacker = ATTACKS.create("pgd", {"eps": 0.1, "steps": 5, "step_size": 0.05})
    outcomes = compare.attack(models, inputs, attacker, EXPLAINERS.create("saliency"), class_names=[list("abc")] * 2)
    for x, out in zip(inputs, outcomes, strict=True):
        assert out.linf <= 0.1 + 1e-6 and float((out.x_adv - x[0]).abs().max()) == out.linf
        assert out.x_adv.min() >= 0 and out.x_adv.max() <= 1
        assert out.before.saliency.shape == (8, 8) and out.before.target == out.before.prediction.label


def test_transfer_uses_one_adversarial_input(tiny_model, tiny_images) -> None:
    attacker = ATTACKS.create("fgsm", {"eps": 0.2})
    x = tiny_images[:1]
    outcomes = compare.attack(
        [tiny_model, tiny_model], [x, x], attacker, EXPLAINERS.create("saliency"), class_names=[list("abc")] * 2,
        transfer_from=0,
    )  # fmt: skip
    assert torch.equal(outcomes[0].x_adv, outcomes[1].x_adv)


def test_explain_defaults_to_the_predicted_class(tiny_model, tiny_images) -> None:
    views = compare.explain(tiny_model, tiny_images, EXPLAINERS.create("saliency"))
    predicted = tiny_model(tiny_images).argmax(1).tolist()
    assert [v.target for v in views] == predicted == [v.prediction.label for v in views]
    forced = compare.explain(tiny_model, tiny_images, EXPLAINERS.create("saliency"), target=2)
    assert {v.target for v in forced} == {2}


def test_sweep_budgets_are_fractions_of_eps_clamped_for_linf() -> None:
    assert compare.sweep_budgets(0.3, "linf") == [0.075, 0.15, 0.225, 0.3, 0.45, 0.6]
    assert compare.sweep_budgets(0.8, "linf") == [0.2, 0.4, 0.6, 0.8, 1.0]  # 1.2 and 1.6 are the full box
    assert compare.sweep_budgets(2.0, "l2", (0.5, 2.0)) == [1.0, 4.0]  # an L2 budget is not a pixel bound


def test_a_sweep_attacks_at_every_budget_within_it() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 8 * 8, 3)).eval()  # fmt: skip
    x = torch.rand(1, 1, 8, 8)
    explainer = EXPLAINERS.create("saliency", {})
    points = compare.sweep([model, model], [x, x], "pgd", {"steps": 5}, explainer, [0.05, 0.2],
                           class_names=[["a", "b", "c"]] * 2)  # fmt: skip
    assert [e for e, _ in points] == [0.05, 0.2]
    for eps, outcomes in points:
        assert len(outcomes) == 2 and all(o.linf <= eps + 1e-6 for o in outcomes)
        assert outcomes[0].before.prediction.label == int(model(x).argmax())
