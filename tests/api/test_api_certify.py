"""POST /certify and a run's certify form over real HTTP: one certificate per model with its radius, the maps as
PNGs, the result cached, and every bad value a 4xx naming the field."""

from __future__ import annotations

import httpx
import pytest
from scipy import stats

pytestmark = pytest.mark.xdist_group("api")

SUMMARY = {"label", "n", "k", "radius", "linf_equivalent", "certified_share", "certified_important",
           "certified_unimportant", "abstained", "smoothed_label", "smoothed_lower", "smoothed_radius"}  # fmt: skip


def test_certify_answers_a_certificate_per_model(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-1", "models": ids, "certify_params": {"sigma": 0.2, "n": 40, "tau": 0.6}}
    response = client.post("/certify", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["kind"] == "certify" and result["method"] == "saliency" and not result["cached"]
    assert result["certify_params"]["sigma"] == 0.2 and result["source"] == {"gallery": "mnist-1"}
    assert [row["model"] for row in result["rows"]] == ids
    for row in result["rows"]:
        summary = row["certificate"]
        assert set(summary) == SUMMARY and summary["n"] == 40 and summary["k"] == round(0.1 * 28 * 28)
        assert summary["radius"] == pytest.approx(0.2 * stats.norm.ppf(0.6))
        pixels = summary["certified_important"] + summary["certified_unimportant"] + summary["abstained"]
        assert pixels == 28 * 28 and summary["certified_share"] == pytest.approx(1 - summary["abstained"] / pixels)
        for image in ("input_png", "map_png", "share_png", "certificate_png"):
            assert row[image].startswith("data:image/png;base64,")
    again = client.post("/certify", json=body).json()
    assert again["cached"] and again["rows"] == result["rows"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"certify_params": {"tau": 0.5}}, "certify_params.tau"),
     ({"certify_params": {"bogus": 1}}, "certify_params.bogus"),
     ({"certify_params": {"n": 10_000}, "method": "integrated_gradients"}, "certify_params.n"),
     ({"models": ["nope"]}, "models"), ({"method": "nope"}, "method")],
)  # fmt: skip
def test_bad_values_name_their_field(client: httpx.Client, ids: list[str], change: dict, field: str) -> None:
    response = client.post("/certify", json={"gallery": "mnist-1", "models": ids[:1], **change})
    assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text


def test_a_runs_certify_form(client: httpx.Client, ids: list[str]) -> None:
    run = client.post("/explain", json={"gallery": "mnist-2", "models": ids[:2], "method": "saliency"}).json()
    fragment = client.post(f"/runs/{run['run_id']}/certify", data={"sigma": "0.1", "n": "30"},
                           headers={"hx-request": "true"})  # fmt: skip
    assert fragment.status_code == 200 and fragment.text.count('class="certify-row"') == 2
    assert "σ 0.1 · n 30" in fragment.text and "<html" not in fragment.text
    page = client.post(f"/runs/{run['run_id']}/certify", data={"n": "30"})
    assert page.status_code == 200 and "<html" in page.text and "back to the run" in page.text
    refused = client.post(f"/runs/{run['run_id']}/certify", data={"method": "integrated_gradients"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "method"
    assert client.post("/runs/0123456789abcdef/certify", data={}).status_code == 404
    attack = client.post("/attack", json={"gallery": "mnist-2", "models": ids[:1], "method": "saliency",
                                          "attack": "fgsm", "attack_params": {"eps": 0.1}}).json()  # fmt: skip
    l2 = attack["rows"][0]["l2"]
    beside = client.post(f"/runs/{attack['run_id']}/certify", data={"n": "30"}, headers={"hx-request": "true"}).text
    assert 'data-code="attack_vs_radius"' in beside and f"moved the input by L2 {l2:.2f}" in beside
    assert "beyond what the certificates cover" in beside  # FGSM at 0.1 over 784 pixels: L2 about 2.8, R 0.08


def test_a_runs_certify_form_keeps_the_explained_score(client: httpx.Client, ids: list[str]) -> None:
    """A run that explained the centered logit certifies the saliency map of the centered logit too."""
    body = {"gallery": "mnist-2", "models": ids[:1], "method": "integrated_gradients",
            "method_params": {"steps": 8, "score": "centered_logit"}}  # fmt: skip
    run = client.post("/explain", json=body).json()
    assert run["method_params"]["score"] == "centered_logit"
    for method in ("integrated_gradients", "saliency"):
        fragment = client.post(f"/runs/{run['run_id']}/certify", data={"n": "30", "method": method},
                               headers={"hx-request": "true"}).text  # fmt: skip
        assert f"{method} of the centered logit" in fragment
    plain = client.post("/explain", json={**body, "method_params": {"steps": 8}}).json()
    assert plain["method_params"]["score"] == "logit"
    fragment = client.post(f"/runs/{plain['run_id']}/certify", data={"n": "30", "method": "saliency"},
                           headers={"hx-request": "true"}).text  # fmt: skip
    assert "certify-row" in fragment and "centered logit" not in fragment
    refused = client.post("/explain", json={**body, "method_params": {"score": "softmax"}})
    assert refused.status_code == 422 and "'logit' or 'centered_logit'" in refused.json()["error"]["message"]


def test_methods_lists_the_certificates_params(client: httpx.Client) -> None:
    schema = client.get("/methods").json()["certify"]["params_schema"]
    assert {"sigma", "n", "top_fraction", "tau", "alpha", "seed"} <= set(schema["properties"])
