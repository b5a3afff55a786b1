"""ε sweeps as jobs over real HTTP: start (202), follow by polling and by server-sent events, cancel, bad input."""

from __future__ import annotations

import json
import time

import httpx
import pytest

pytestmark = pytest.mark.xdist_group("api")

SLOW = {"steps": 1000, "restarts": 5, "step_size": 0.01}  # ~5000 gradient passes a point: long enough to cancel


def wait(client: httpx.Client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/jobs/{job_id}").json())["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


def test_a_sweep_runs_every_budget_and_each_point_is_a_run(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-6", "models": ids, "method": "saliency", "attack": "pgd",
            "attack_params": {"eps": 0.2, "steps": 5, "step_size": 0.05}, "eps": [0.3, 0.1, 0.05, 0.1]}  # fmt: skip
    started = client.post("/jobs/sweep", json=body)
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/jobs/{job['job_id']}" and job["total"] == 3  # sorted, deduplicated
    assert job["request"]["eps"] == [0.05, 0.1, 0.3] and job["request"]["source"] == {"gallery": "mnist-6"}
    done = wait(client, job["job_id"])
    assert done["state"] == "done" and done["done"] == 3 and done["result"]["reference_eps"] == 0.2
    points = done["result"]["points"]
    assert [p["eps"] for p in points] == [0.05, 0.1, 0.3]
    for point in points:
        assert [r["model"] for r in point["rows"]] == ids
        for row in point["rows"]:
            assert row["linf"] <= point["eps"] + 1e-6 and 0 <= row["topk"] <= 1 and row["k"] == 78
            assert row["flipped"] == (row["class_before"] != row["class_after"])
        run = client.get(point["permalink"]).json()  # the full grid of that budget, stored like any run
        assert run["response"]["attack_params"]["eps"] == point["eps"] and run["request"]["attack_params"]["steps"] == 5
    page = client.get(f"/jobs/{job['job_id']}", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-chart="sweep"' in page.text and page.text.count("<circle") == 4 * 3
    assert 'http-equiv="refresh"' not in page.text  # a finished job's page stops reloading
    export = client.get(f"/jobs/{job['job_id']}.json")
    assert export.json() == done and export.headers["content-disposition"] == "attachment"


def test_server_sent_events_follow_the_job_to_its_end(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-7", "models": ids[:1], "attack": "fgsm", "method": "saliency", "eps": [0.1, 0.2, 0.3]}
    job = client.post("/jobs/sweep", json=body).json()
    events = []
    with client.stream("GET", f"/jobs/{job['job_id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    assert events[-1][0] == "done" and events[-1][1]["done"] == 3 and len(events[-1][1]["result"]["points"]) == 3
    assert all(name == "progress" for name, _ in events[:-1])
    dones = [data["done"] for _, data in events]
    assert dones == sorted(dones)


def test_a_stored_attack_run_sweeps_around_its_eps(client: httpx.Client, ids: list[str]) -> None:
    body = {
        "gallery": "mnist-8",
        "models": ids[:2],
        "attack": "fgsm",
        "attack_params": {"eps": 0.2},
        "method": "saliency",
    }
    run = client.post("/attack", json=body).json()
    started = client.post(f"/runs/{run['run_id']}/sweep")
    assert started.status_code == 202, started.text
    done = wait(client, started.json()["job_id"])
    assert done["request"]["eps"] == [0.05, 0.1, 0.15, 0.2, 0.3, 0.4] and done["request"]["source"] == {
        "run": run["run_id"]
    }
    at_run = next(p for p in done["result"]["points"] if p["eps"] == 0.2)
    assert at_run["run_id"] == run["run_id"]  # the run's own budget is the same run, from the cache
    # a browser's form post goes to the job's page
    form = client.post(f"/runs/{run['run_id']}/sweep", data={}, headers={"accept": "text/html"}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"].startswith("/jobs/")
    wait(client, form.headers["location"].rsplit("/", 1)[1])
    explain = client.post("/explain", json={"gallery": "mnist-8", "models": ids[:1], "method": "saliency"}).json()
    refused = client.post(f"/runs/{explain['run_id']}/sweep")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_an_attack"


def test_cancel_keeps_the_finished_budgets_and_the_running_limit_is_429(client: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-9", "models": ids[:1], "attack": "pgd", "attack_params": SLOW, "method": "saliency",
            "eps": [0.1 * i for i in range(1, 11)]}  # fmt: skip
    first, second = (client.post("/jobs/sweep", json=body).json() for _ in range(2))
    third = client.post("/jobs/sweep", json=body)
    assert third.status_code == 429 and third.json()["error"]["code"] == "too_many_jobs"
    for job in (first, second):
        assert client.delete(f"/jobs/{job['job_id']}").status_code == 200
    for job in (first, second):
        ended = wait(client, job["job_id"])
        assert ended["state"] == "cancelled" and ended["done"] < 10
        assert len((ended["result"] or {"points": []})["points"]) == ended["done"]
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"eps": [0.1]}, "eps", "at least 2"),
        ({"eps": [0.1, -0.2]}, "eps", "> 0"),
        ({"eps": [0.1, 1.5]}, "attack_params", "1"),  # L-inf budgets end at the full pixel range
        ({"eps": [0.1, 0.2], "models": ["nope"]}, "models", "unknown model"),
        ({"eps": [0.1, 0.2], "attack": "nope"}, "attack", "nope"),
    ],
)
def test_bad_sweeps_are_refused_before_any_work(client: httpx.Client, ids: list[str], change: dict, field: str,
                                                text: str) -> None:  # fmt: skip
    body = {"gallery": "mnist-0", "models": ids[:1], "attack": "fgsm", **change}
    response = client.post("/jobs/sweep", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["field"] or "").startswith(field) and text in error["message"], error


def test_unknown_jobs_are_404(client: httpx.Client) -> None:
    for path in ("/jobs/0123456789abcdef", "/jobs/nope/events"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_job"
    assert client.delete("/jobs/nope").status_code == 404
