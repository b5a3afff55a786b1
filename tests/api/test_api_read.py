"""GET endpoints over real HTTP: health, zoo, methods, gallery, OpenAPI, errors for unknown ids."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.xdist_group("api")


def test_healthz(client: httpx.Client) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["models"] == 3 and body["device"] == "cpu"


def test_models_lists_the_zoo_and_the_broken_folder(client: httpx.Client, ids: list[str]) -> None:
    rows = client.get("/models").json()["models"]
    assert [r["id"] for r in rows if not r.get("error")] == sorted(ids)
    broken = [r for r in rows if r.get("error")]
    assert [r["id"] for r in broken] == ["broken"] and "invalid card" in broken[0]["error"]
    # three methods, one model each: every one stands for its method (a script can pick the main models by it)
    assert all(r["representative"] and r["short_id"] == r["id"] for r in rows if not r.get("error"))


def test_leaderboard_page_has_one_table_per_dataset_and_no_empty_fold(client: httpx.Client, ids: list[str]) -> None:
    page = client.get("/leaderboard")
    assert page.status_code == 200 and page.text.count("<h2>mnist</h2>") == 1
    for model_id in ids:
        assert f'data-model="{model_id}"' in page.text
    assert "board-variants" not in page.text  # no seeds or sweeps in this zoo: nothing to fold


def test_models_page_lists_every_model_and_the_broken_folder_apart(client: httpx.Client, ids: list[str]) -> None:
    page = client.get("/models", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for model_id in ids:
        assert f'data-model="{model_id}"' in page.text
    assert "<h2>unreadable</h2>" in page.text and 'class="card broken"' in page.text


def test_model_detail_has_card_and_report(client: httpx.Client) -> None:
    body = client.get("/models/tiny-egat").json()
    assert body["card"]["method"] == "egat" and body["card"]["input_size"] == [1, 28, 28]
    assert body["report"] is None and body["summary"]["has_report"] is False


def test_unknown_and_hostile_model_ids_are_404_json(client: httpx.Client, ids: list[str]) -> None:
    traversal = client.get("/models/..%2F..%2Fetc%2Fpasswd")
    assert traversal.status_code == 404 and "error" in traversal.json()
    for bad in ("nope", "broken", "A" * 300, "..."):
        response = client.get(f"/models/{bad}")
        assert response.status_code == 404, bad
        error = response.json()["error"]
        assert error["code"] == "unknown_model" and error["field"] == "model_id"
        assert all(i in error["message"] for i in ids)  # names what is allowed


def test_methods_have_params_schemas(client: httpx.Client) -> None:
    body = client.get("/methods").json()
    explainers = {e["name"]: e for e in body["explainers"]}
    attacks = {a["name"]: a for a in body["attacks"]}
    assert explainers["integrated_gradients"]["params_schema"]["properties"]["steps"]["maximum"] == 1024
    assert attacks["pgd"]["kind"] == "prediction" and attacks["topk"]["kind"] == "explanation"
    assert {"egat", "pgd_at"} <= {m["name"] for m in body["training"]}


def test_gallery_items_are_served(client: httpx.Client) -> None:
    items = client.get("/gallery").json()["items"]
    assert {"mnist", "cifar10"} <= {i["dataset"] for i in items}
    image = client.get(items[0]["url"])
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_openapi_documents_both_request_bodies(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/explain"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    assert client.get("/docs").status_code == 200


def test_unknown_path_and_run_are_json_errors(client: httpx.Client) -> None:
    assert client.get("/no/such/page").json()["error"]["code"] == "not_found"
    response = client.get("/runs/0123456789abcdef")
    assert response.status_code == 404 and response.json()["error"]["field"] == "run_id"
