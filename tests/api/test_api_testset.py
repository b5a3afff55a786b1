"""Test-set runs as jobs over real HTTP: the attack over the server's test images, batch by batch, with every image's
outcome in the export; a stored attack run's button; bad input refused before any work."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.conftest import MAX_TEST_IMAGES
from tests.api.test_api_jobs import SLOW, wait

pytestmark = pytest.mark.xdist_group("api")

PGD = {"eps": 0.2, "steps": 3, "step_size": 0.1}


def test_a_test_set_run_attacks_the_first_images_of_the_dataset(client: httpx.Client, ids: list[str]) -> None:
    body = {"models": ids, "method": "saliency", "attack": "pgd", "attack_params": PGD, "n": 20, "start": 5}
    started = client.post("/jobs/evaluate", json=body)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["kind"] == "test_set" and job["request"]["attack_params"]["eps"] == 0.2  # resolved params
    done = wait(client, job["job_id"])
    assert done["state"] == "done" and done["done"] == done["total"], done
    result = done["result"]
    assert result["dataset"] == "mnist" and result["done_images"] == 20 and result["start"] == 5
    assert [m["model"] for m in result["models"]] == ids
    export = client.get(f"/jobs/{job['job_id']}.json").json()
    assert export["result"] == result and export["detail"]["labels"] == [i % 10 for i in range(5, 25)]  # our labels
    for model in result["models"]:
        outcomes = export["detail"]["per_image"][model["model"]]
        correct, robust = outcomes["correct"], outcomes["robust"]
        assert len(correct) == len(robust) == 20 and model["n"] == 20
        assert model["clean_accuracy"]["mean"] == pytest.approx(sum(correct) / 20)
        assert model["accuracy_under_attack"]["mean"] == pytest.approx(sum(robust) / 20)
        assert all(c or not r for c, r in zip(correct, robust, strict=True))  # a clean mistake is never robust
        scored = [v for v in outcomes["topk_intersection"] if v is not None]
        assert len(scored) == sum(correct) == model["topk_intersection"]["n"]
        assert all(0 <= v <= 1 for v in scored)
        if model["max_linf"] is not None:
            assert model["max_linf"] <= 0.2 + 1e-6
    assert "detail" not in done  # polling stays light; the export carries the per-image data
    page = client.get(f"/jobs/{job['job_id']}", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.text.count('<tr data-model="') == len(ids)
    assert "20 of 20 images" in page.text


def test_progress_events_count_images_and_a_stored_run_starts_one(client: httpx.Client, ids: list[str]) -> None:
    run = client.post("/attack", json={"gallery": "mnist-3", "models": ids[:2], "attack": "fgsm",
                                       "attack_params": {"eps": 0.1}, "method": "saliency"}).json()  # fmt: skip
    started = client.post(f"/runs/{run['run_id']}/evaluate", json={"n": 40})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["request"]["models"] == ids[:2] and job["request"]["attack"] == "fgsm" and job["request"]["n"] == 40
    events = []
    with client.stream("GET", f"/jobs/{job['job_id']}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    images = [e["result"]["done_images"] for e in events if e["result"]]
    assert events[-1]["state"] == "done" and images == sorted(images) and images[-1] == 40
    form = client.post(f"/runs/{run['run_id']}/evaluate", data={"n": "10"}, headers={"accept": "text/html"})
    assert form.status_code == 303 and form.headers["location"].startswith("/jobs/")  # the lab's form without JS
    assert wait(client, form.headers["location"].removeprefix("/jobs/"))["request"]["n"] == 10


def test_cancel_keeps_the_finished_batches(client: httpx.Client, ids: list[str]) -> None:
    body = {"models": ids[:1], "method": "saliency", "attack": "pgd", "attack_params": SLOW, "n": MAX_TEST_IMAGES}
    job = client.post("/jobs/evaluate", json=body).json()
    assert client.delete(f"/jobs/{job['job_id']}").status_code == 200
    done = wait(client, job["job_id"])
    assert done["state"] == "cancelled" and done["done"] < done["total"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"n": MAX_TEST_IMAGES + 1}, "n"),
        ({"start": MAX_TEST_IMAGES - 5, "n": 10}, "n"),
        ({"n": 0}, "n"),
        ({"attack": "nope"}, "attack"),
        ({"attack_params": {"eps": -1}}, "attack_params.eps"),
        ({"method": "nope"}, "method"),
        ({"transfer_from": "tiny-missing"}, "transfer_from"),
        ({"models": ["tiny-missing"]}, "models"),
        ({"gallery": "mnist-3"}, "gallery"),
    ],
)
def test_bad_test_set_runs_are_refused_before_any_work(client: httpx.Client, ids: list[str], change: dict,
                                                       field: str) -> None:  # fmt: skip
    body = {"models": ids[:1], "attack": "fgsm", "method": "saliency", "n": 10, **change}
    answer = client.post("/jobs/evaluate", json=body)
    assert answer.status_code in (404, 422), answer.text
    assert answer.json()["error"]["field"].startswith(field), answer.json()


def test_an_explain_run_cannot_be_run_over_test_images(client: httpx.Client, ids: list[str]) -> None:
    run = client.post("/explain", json={"gallery": "mnist-3", "models": ids[:1], "method": "saliency"}).json()
    answer = client.post(f"/runs/{run['run_id']}/evaluate")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "not_an_attack"


def test_a_test_set_runs_images_open_as_attack_runs(client: httpx.Client, ids: list[str]) -> None:
    body = {"models": ids[:2], "method": "saliency", "attack": "fgsm", "attack_params": {"eps": 0.1}, "n": 6,
            "start": 10}  # fmt: skip
    job = wait(client, client.post("/jobs/evaluate", json=body).json()["job_id"])
    run = client.post(f"/jobs/{job['job_id']}/images/2")
    assert run.status_code == 200, run.text
    grid = run.json()
    assert [r["model"] for r in grid["rows"]] == ids[:2] and grid["attack"] == "fgsm"
    assert grid["attack_params"]["eps"] == 0.1 and grid["method"] == "saliency"
    stored = client.get(grid["permalink"]).json()
    assert stored["request"]["source"] == {"test_image": "mnist:12", "label": 2}  # image 10 + 2 of our labels i % 10
    form = client.post(f"/jobs/{job['job_id']}/images/2", headers={"accept": "text/html"})
    assert form.status_code == 303 and form.headers["location"] == grid["permalink"]  # the same run, cached
    assert client.post(f"/jobs/{job['job_id']}/images/6").json()["error"]["field"] == "index"
    page = client.get(f"/jobs/{job['job_id']}", headers={"accept": "text/html"}).text
    assert page.count('class="inline worst-image"') == sum(min(3, m["topk_intersection"]["n"]) for m in
                                                           job["result"]["models"])  # fmt: skip


@pytest.mark.parametrize(
    ("source", "status", "field"),
    [("mnist:3", 200, None), ("mnist:60", 422, "test_image"), (f"mnist:{MAX_TEST_IMAGES}", 422, "test_image"),
     ("imagenet:1", 422, "test_image"), ("mnist", 422, "test_image")],
)  # fmt: skip
def test_a_test_image_is_an_image_source(client: httpx.Client, ids: list[str], source: str, status: int,
                                         field: str | None) -> None:  # fmt: skip
    answer = client.post("/explain", json={"test_image": source, "models": ids[:1], "method": "saliency"})
    assert answer.status_code == status, answer.text
    if field:
        assert answer.json()["error"]["field"].startswith(field)


def test_an_eps_sweep_over_test_images_runs_every_budget(client: httpx.Client, ids: list[str]) -> None:
    body = {"models": ids[:2], "method": "saliency", "attack": "fgsm", "attack_params": {"eps": 0.2}, "n": 10,
            "eps": [0.3, 0.1, 0.2]}  # fmt: skip
    job = client.post("/jobs/evaluate", json=body).json()
    assert job["total"] == 30 and job["request"]["eps"] == [0.1, 0.2, 0.3]
    assert client.get(f"/jobs/{job['job_id']}", headers={"accept": "text/html"}).status_code == 200  # before results
    done = wait(client, job["job_id"])
    points = done["result"]["points"]
    assert [p["eps"] for p in points] == [0.1, 0.2, 0.3] and done["result"]["reference_eps"] == 0.2
    for point in points:
        for model in point["models"]:
            assert model["n"] == 10 and (model["max_linf"] is None or model["max_linf"] <= point["eps"] + 1e-6)
    clean = {m["model"]: m["clean_accuracy"]["mean"] for m in points[0]["models"]}
    assert all(m["clean_accuracy"]["mean"] == clean[m["model"]] for p in points for m in p["models"])  # same images
    assert done["result"]["models"] == points[-1]["models"]  # the table shows the last budget
    page = client.get(f"/jobs/{job['job_id']}", headers={"accept": "text/html"}).text
    assert page.count('data-chart="testset"') == 2 and page.count("<tr data-eps=") == 3
    assert 'class="inline worst-image"' not in page  # a sweep's images are not one attack's
    run = client.post("/attack", json={"gallery": "mnist-3", "models": ids[:1], "attack": "fgsm",
                                       "attack_params": {"eps": 0.1}, "method": "saliency"}).json()  # fmt: skip
    swept = client.post(f"/runs/{run['run_id']}/evaluate", data={"n": "5", "sweep": "true"})  # the lab's form
    assert swept.status_code == 303
    later = wait(client, swept.headers["location"].removeprefix("/jobs/"))
    assert later["request"]["eps"] == [0.025, 0.05, 0.075, 0.1, 0.15, 0.2] and later["state"] == "done"
