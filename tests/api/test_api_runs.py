"""POST /explain and /attack over real HTTP: every input form, the numbers' invariants, caching, permalinks, export."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from tests.api import images

pytestmark = pytest.mark.xdist_group("api")


def decode(data_url: str) -> Image.Image:
    assert data_url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def test_explain_gallery_json(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-3", "models": ids, "method": "integrated_gradients", "method_params": {"steps": 16}}
    response = client.post("/explain", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [r["model"] for r in result["rows"]] == ids
    for row in result["rows"]:
        prediction = row["view"]["prediction"]
        assert abs(sum(p["probability"] for p in prediction["probabilities"]) - 1) < 1e-4
        assert prediction["confidence"] == max(p["probability"] for p in prediction["probabilities"])
        assert row["view"]["map"]["target"] == prediction["label"]  # explains the predicted class by default
        assert decode(row["input_png"]).size == (28, 28) and decode(row["view"]["map"]["png"]).size == (28, 28)
    assert result["method_params"]["steps"] == 16 and result["permalink"] == f"/runs/{result['run_id']}"


def test_explain_is_cached_by_content(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-5", "models": ids[:1], "method": "saliency"}
    first, second = client.post("/explain", json=body).json(), client.post("/explain", json=body).json()
    assert first["run_id"] == second["run_id"] and not first["cached"] and second["cached"]
    assert first["rows"] == second["rows"]


def test_explain_multipart_upload_and_base64_agree(client: httpx.Client, ids: list[str]) -> None:
    data = images.png()
    files = {"image": ("digit.png", data, "image/png")}
    form = {"models": ",".join(ids[:2]), "method": "saliency", "raw": "true"}
    upload = client.post("/explain", files=files, data=form)
    assert upload.status_code == 200, upload.text
    b64 = client.post(
        "/explain",
        json={"image": base64.b64encode(data).decode(), "models": ids[:2], "method": "saliency", "raw": True},
    )
    assert b64.status_code == 200, b64.text
    assert upload.json()["run_id"] == b64.json()["run_id"]  # same pixels, same run
    saliency = upload.json()["rows"][0]["view"]["map"]["saliency"]
    assert len(saliency) == 28 and len(saliency[0]) == 28 and min(min(r) for r in saliency) >= 0


def test_explain_with_target_and_large_jpeg(client: httpx.Client, ids: list[str]) -> None:
    files = {"image": ("photo.jpg", images.encoded("JPEG", (1600, 1200)), "image/jpeg")}
    response = client.post("/explain", files=files, data={"models": ids[0], "method": "gradcam", "target": "7"})
    assert response.status_code == 200, response.text
    assert response.json()["rows"][0]["view"]["map"]["target"] == 7


def test_attack_three_models_pgd(client: httpx.Client, ids: list[str]) -> None:
    body = {
        "gallery": "mnist-1",
        "models": ids,
        "attack": "pgd",
        "attack_params": {"eps": 0.2, "steps": 10, "step_size": 0.05},
        "method": "integrated_gradients",
        "method_params": {"steps": 8},
    }
    response = client.post("/attack", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["attack_kind"] == "prediction" and len(result["rows"]) == 3
    for row in result["rows"]:
        assert row["linf"] <= 0.2 + 1e-6 and row["crafted_on"] == row["model"]
        sim = row["similarity"]
        assert 0 <= sim["topk_intersection"] <= 1 and -1 <= sim["spearman"] <= 1 and sim["k"] == 78
        codes = {v["code"] for v in row["verdicts"]}
        flipped = row["before"]["prediction"]["label"] != row["after"]["prediction"]["label"]
        assert ("prediction_flipped" in codes) == flipped and ("prediction_kept" in codes) != flipped
        assert row["before"]["map"]["vmax"] == row["after"]["map"]["vmax"]  # one colour scale per row
    # the permalink, the JSON export and the PNG export
    record = client.get(result["permalink"]).json()
    assert record["response"]["run_id"] == result["run_id"] and record["request"]["attack"] == "pgd"
    assert client.get(f"/runs/{result['run_id']}.json").json() == record
    png = client.get(f"/runs/{result['run_id']}.png")
    assert png.headers["content-type"] == "image/png" and Image.open(io.BytesIO(png.content)).size[0] > 5 * 112
    # rerun from the stored input image
    again = client.post("/attack", json={**{k: v for k, v in body.items() if k != "gallery"}, "run": result["run_id"]})
    assert again.status_code == 200 and again.json()["run_id"] == result["run_id"]


def test_attack_transfer_crafts_once(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-2", "models": ids, "attack": "fgsm", "transfer_from": ids[0], "method": "saliency"}
    rows = client.post("/attack", json=body).json()["rows"]
    assert {r["crafted_on"] for r in rows} == {ids[0]}
    assert len({r["adversarial_png"] for r in rows}) == 1  # the same adversarial input for every model


def test_explanation_attack_keeps_the_label(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-4", "models": ids[:1], "attack": "topk", "attack_params": {"steps": 10, "k": 50}}
    row = client.post("/attack", json=body).json()["rows"][0]
    assert row["before"]["prediction"]["label"] == row["after"]["prediction"]["label"]
