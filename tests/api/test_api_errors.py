"""Bad input over real HTTP: a 4xx JSON error naming the field and what is allowed, and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests.api import images

pytestmark = pytest.mark.xdist_group("api")

GOOD = {"gallery": "mnist-3", "method": "saliency"}


def error_of(response: httpx.Response, status: int | tuple[int, ...]) -> dict:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text)
    return response.json()["error"]


@pytest.mark.parametrize(
    ("name", "data", "mime", "status", "words"),
    [
        ("notes.txt", b"just some text, not an image\n" * 20, "text/plain", 415, ["PNG", "JPEG", "WebP"]),
        ("cut.png", images.truncated_png(), "image/png", (400, 422), ["truncated"]),
        ("huge.png", images.huge_png(), "image/png", 413, ["25,000,000"]),
        ("anim.gif", images.animated_gif(), "image/gif", 415, ["PNG", "JPEG", "WebP"]),
        ("empty.png", b"", "image/png", (400, 422), ["empty"]),
        ("photo.bmp", images.encoded("BMP"), "image/bmp", 415, ["BMP"]),
    ],
)
def test_bad_uploads(client: httpx.Client, ids: list[str], name, data, mime, status, words) -> None:
    files = {"image": (name, data, mime)}
    error = error_of(client.post("/explain", files=files, data={"models": ids[0], "method": "saliency"}), status)
    assert error["field"] == "image"
    for word in words:
        assert word.lower() in error["message"].lower(), error["message"]


def test_over_the_byte_limit(client: httpx.Client, ids: list[str]) -> None:
    blob = b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 2**20)
    error = error_of(
        client.post("/explain", files={"image": ("big.png", blob, "image/png")}, data={"models": ids[0]}), 413
    )
    assert error["field"] == "image" and "10.0 MB" in error["message"]


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"models": ["nope"]}, "models", ["tiny-natural", "tiny-egat"]),
        ({"models": ["../../etc/passwd"]}, "models", ["valid ids"]),
        ({"models": ["..%2Fsecret"]}, "models", ["valid ids"]),
        ({"models": []}, "models", ["at least 1"]),
        ({"method": "magic"}, "method", ["integrated_gradients", "saliency"]),
        ({"method": "integrated_gradients", "method_params": {"steps": 10**9}}, "method_params.steps", ["1024"]),
        ({"method_params": {"bogus": 1}}, "method_params.bogus", ["unknown"]),
        ({"gallery": "nope-1"}, "gallery", ["mnist"]),
        ({"gallery": None}, "image", ["exactly one"]),
        ({"gallery": None, "image": "!!!not base64!!!"}, "image", ["base64"]),
        ({"target": -1}, "target", ["greater than or equal to 0"]),
    ],
)
def test_bad_explain_fields(client: httpx.Client, ids: list[str], patch, field, words) -> None:
    body = {**GOOD, "models": ids[:1], **patch}
    error = error_of(client.post("/explain", json=body), 422)
    assert error["field"] == field, error
    for word in words:
        assert word.lower() in error["message"].lower(), error["message"]


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"attack_params": {"eps": 1.5}}, "attack_params.eps", ["<= 1"]),
        ({"attack_params": {"eps": -0.1}}, "attack_params.eps", ["greater than 0"]),
        ({"attack_params": {"steps": 10**9}}, "attack_params.steps", ["1000"]),
        ({"attack": "nuke"}, "attack", ["pgd", "topk"]),
        ({"attack": "pgd", "attack_params": {"norm": "l7"}}, "attack_params.norm", ["linf", "l2"]),
        ({"transfer_from": "tiny-egat", "models": ["tiny-natural"]}, "transfer_from", ["one of the models"]),
        (
            {"attack": "topk", "attack_params": {"steps": 2000, "restarts": 10, "explainer": "integrated_gradients"}},
            "attack_params",
            ["limit"],
        ),
    ],
)
def test_bad_attack_fields(client: httpx.Client, ids: list[str], patch, field, words) -> None:
    body = {**GOOD, "models": ids[:1], "attack": "pgd", **patch}
    response = client.post("/attack", json=body)
    error = error_of(response, 422)
    if field:
        assert error["field"] == field, error
    for word in words:
        assert word.lower() in error["message"].lower(), error["message"]


def test_malformed_bodies(client: httpx.Client) -> None:
    assert (
        error_of(client.post("/explain", content=b"{nope", headers={"content-type": "application/json"}), 422)["code"]
        == "invalid_json"
    )
    assert error_of(client.post("/explain", json=[1, 2]), 422)["code"] == "invalid_body"
    assert error_of(client.post("/explain", content=b"x", headers={"content-type": "text/csv"}), 415)
    assert error_of(client.get("/explain"), 405)["code"] == "method_not_allowed"


def test_server_keeps_serving(client: httpx.Client, ids: list[str]) -> None:
    for _ in range(3):
        client.post(
            "/explain", files={"image": ("x.png", images.truncated_png(), "image/png")}, data={"models": ids[0]}
        )
    assert client.get("/healthz").json()["status"] == "ok"
    ok = client.post("/explain", json={**GOOD, "models": ids})
    assert ok.status_code == 200 and len(ok.json()["rows"]) == 3


def test_target_beyond_the_classes(client: httpx.Client, ids: list[str]) -> None:
    for path, extra in (("/explain", {}), ("/attack", {"attack": "fgsm"})):
        error = error_of(client.post(path, json={**GOOD, "models": ids[:1], "target": 10, **extra}), 422)
        assert error["field"] == "target" and "0..9" in error["message"]
