"""POST /sanity-check and a run's sanity-check form over real HTTP: per model the trained map, one map per
randomization stage with its similarity, the runner-up class's map, flags; cached; bad values a 4xx naming the
field."""

from __future__ import annotations

import httpx
import pytest
import torch

pytestmark = pytest.mark.xdist_group("api")

STAGES = ["trained", "fc2", "fc1", "conv2", "conv1"]  # SmallCNN, output first


def test_sanity_check_answers_every_stage_per_model(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-1", "models": ids[:2], "method": "saliency"}
    response = client.post("/sanity-check", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["kind"] == "sanity" and not result["cached"] and result["sanity_params"]["order"] == "cascading"
    assert [row["model"] for row in result["rows"]] == ids[:2]
    for row in result["rows"]:
        assert [s["name"] for s in row["stages"]] == STAGES
        assert row["stages"][-1]["randomized"] == STAGES[1:]
        assert row["stages"][0]["similarity"]["topk_intersection"] == pytest.approx(1.0)
        for stage in (*row["stages"], row["other_class"]):
            assert stage["map_png"].startswith("data:image/png;base64,")
            assert set(stage["similarity"]) == {"spearman_abs", "spearman_signed", "ssim", "topk_intersection"}
        assert row["other_class"]["explains_name"] != row["label_name"]
        flags = {"random_model_map", "first_layer_map", "class_insensitive", "input_like"}
        assert {f["code"] for f in row["flags"]} <= flags
    again = client.post("/sanity-check", json=body).json()
    assert again["cached"] and again["rows"] == result["rows"]
    alone = client.post("/sanity-check", json={**body, "sanity_params": {"order": "independent"}}).json()
    assert [s["randomized"] for s in alone["rows"][0]["stages"][1:]] == [[name] for name in STAGES[1:]]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"sanity_params": {"order": "sideways"}}, "sanity_params.order"),
     ({"sanity_params": {"bogus": 1}}, "sanity_params.bogus"),
     ({"method": "smoothgrad", "method_params": {"samples": 0}}, "method_params.samples"),
     ({"models": ["nope"]}, "models"), ({"method": "nope"}, "method")],
)  # fmt: skip
def test_bad_values_name_their_field(client: httpx.Client, ids: list[str], change: dict, field: str) -> None:
    response = client.post("/sanity-check", json={"gallery": "mnist-1", "models": ids, **change})
    assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text


def test_a_runs_sanity_check_form(client: httpx.Client, ids: list[str]) -> None:
    run = client.post("/explain", json={"gallery": "mnist-2", "models": ids[:2], "method": "input_x_gradient"}).json()
    fragment = client.post(f"/runs/{run['run_id']}/sanity-check", data={"order": "independent"},
                           headers={"hx-request": "true"})  # fmt: skip
    assert fragment.status_code == 200 and fragment.text.count('class="sanity-row"') == 2
    assert "independent · input_x_gradient" in fragment.text and "<html" not in fragment.text
    assert fragment.text.count('class="stage"') == 2 * (len(STAGES) + 1)
    page = client.post(f"/runs/{run['run_id']}/sanity-check", data={"method": "saliency"})
    assert page.status_code == 200 and "<html" in page.text and "back to the run" in page.text
    assert "cascading · saliency" in page.text
    refused = client.post(f"/runs/{run['run_id']}/sanity-check", data={"method": "integrated_gradients"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "method"
    assert client.post("/runs/0123456789abcdef/sanity-check", data={}).status_code == 404


def test_methods_lists_the_sanity_checks_params(client: httpx.Client) -> None:
    schema = client.get("/methods").json()["sanity_check"]["params_schema"]
    assert {"order", "top_fraction", "seed", "batch"} <= set(schema["properties"])


def test_the_model_page_shows_the_stored_runs(client: httpx.Client, zoo_ids: tuple) -> None:
    """What ``explainlab sanity-check --write`` stores beside a card, the model page and GET /models show."""
    from explainlab.eval.sanity_check import SanityParams, check_images, summarize_checks
    from explainlab.explain import EXPLAINERS
    from explainlab.zoo.store import load_model, write_sanity_check

    root, ids = zoo_ids
    model, _ = load_model(root / ids[0])
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    rows = check_images(model, x, torch.zeros(6, dtype=torch.long), EXPLAINERS["saliency"](), SanityParams())
    summary = summarize_checks(rows)
    write_sanity_check(root / ids[0], {"method": "saliency", "method_params": {}, "start": 0, "images": 6,
                                       "params": SanityParams().model_dump(), **summary})  # fmt: skip
    page = client.get(f"/models/{ids[0]}", headers={"accept": "text/html"}).text
    assert 'id="sanity"' in page and page.count('data-order="cascading"') == 1
    kept = summary["stages"][-1]["topk_intersection"]["mean"]
    assert f"{kept * 100:.0f} %" in page and "+ conv1" in page
    listed = next(m for m in client.get("/models").json()["models"] if m["id"] == ids[0])
    assert listed["sanity_check"][0]["topk_kept"]["conv1"] == pytest.approx(kept)  # the listing: in brief
    full = client.get(f"/models/{ids[0]}").json()["sanity_check"]  # the model: every number
    assert full[0]["stages"][-1]["name"] == "conv1" and full[0]["stages"][-1]["ssim"]["n"] == 6
