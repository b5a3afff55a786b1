"""Jobs over HTTP (design.md §5-6): POST /jobs/sweep or /runs/{id}/sweep start an ε sweep and answer at once,
POST /jobs/evaluate or /runs/{id}/evaluate a test-set run (the attack over the first n test images), whose images
open as attack runs (POST /jobs/{id}/images/{i});
GET /jobs/{id} (JSON, or the job's page for browsers), GET /jobs/{id}/events (server-sent events until it ends),
DELETE /jobs/{id} (or a form's POST /jobs/{id}/cancel) stops it after its current step."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from explainlab.compare import SWEEP_FRACTIONS
from server.errors import ApiError, validation_error
from server.evaluation import image_request
from server.jobs import Job
from server.limits import charge
from server.routes import pages
from server.routes.api import ERRORS, body_doc, lab_of, parse_json_object, parse_run_request, stored_run, wants_html
from server.schemas import EvaluationRequest, SweepRequest

router = APIRouter()
JOB_ERRORS = {
    **ERRORS,
    409: {"model": ERRORS[422]["model"], "description": "the server has no test images of the models' dataset"},
    429: {"model": ERRORS[422]["model"], "description": "too many jobs running, or rate limited"},
}


def _started(request: Request, job: Job) -> Response:
    """202 with the job for scripts; a browser's form post goes to the job's page."""
    if wants_html(request) or request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    return JSONResponse(job.public(), status_code=202, headers={"Location": f"/jobs/{job.id}"})


@router.post("/jobs/sweep", status_code=202, responses=JOB_ERRORS, openapi_extra=body_doc(SweepRequest))
async def start_sweep(request: Request) -> Response:
    """The /attack request at several budgets on one image, as a job: each point's prediction, map similarity and
    permalink (follow GET /jobs/{id}/events)."""
    req, upload = await parse_run_request(request, SweepRequest)
    charge(request, len(req.eps or SWEEP_FRACTIONS))
    return _started(request, await lab_of(request).start_sweep(req, upload))


@router.post("/runs/{run_id}/sweep", status_code=202, responses=JOB_ERRORS)
async def sweep_run(request: Request, run_id: str) -> Response:
    """Sweep a stored attack run: the same image, models, attack and maps at 0.25-2 times its ε."""
    fields = _stored_attack(request, run_id, "swept over ε")
    req = SweepRequest.model_validate({**fields, "run": run_id})
    charge(request, len(SWEEP_FRACTIONS))
    return _started(request, await lab_of(request).start_sweep(req))


IMAGES_PER_TOKEN = 10  # a test-set run takes one rate-limit token per 10 images


def _stored_attack(request: Request, run_id: str, action: str) -> dict[str, Any]:
    """The request of a stored attack run, without its image and ε-sweep fields."""
    record = stored_run(request, run_id)
    if record["response"].get("kind") != "attack":
        raise ApiError(422, "not_an_attack", f"run: only an attack run can be {action}", "run_id")
    return {k: v for k, v in record["request"].items() if k not in ("source", "eps")}


@router.post("/jobs/evaluate", status_code=202, responses=JOB_ERRORS, openapi_extra=body_doc(EvaluationRequest))
async def start_evaluation(request: Request) -> Response:
    """The attack over the first n test images of the models' dataset, as a job: each model's accuracy before and
    after, the attack's success and how far its map moves (top-k ∩, Spearman, SSIM), with two standard errors,
    updated after every batch. ``/jobs/{id}.json`` adds every image's outcome. Needs the dataset on the server
    (EXPLAINLAB_DATA): 409 without it."""
    req, upload = await parse_run_request(request, EvaluationRequest)
    if upload is not None:
        raise ApiError(422, "invalid_parameter", "image: a test-set run takes the dataset's test images", "image")
    charge(request, math.ceil(req.n / IMAGES_PER_TOKEN))
    return _started(request, await lab_of(request).start_evaluation(req))


@router.post("/runs/{run_id}/evaluate", status_code=202, responses=JOB_ERRORS)
async def evaluate_run(request: Request, run_id: str) -> Response:
    """A stored attack run's models, attack and maps over the test images (``n``, ``start``, ``sweep`` or ``eps`` as
    form or JSON fields)."""
    fields = _stored_attack(request, run_id, "run over the test images")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        given: Any = {k: v for k, v in (await request.form()).items() if k in ("n", "start", "sweep") and v != ""}
    else:
        given = await parse_json_object(request)
    keep = {k: v for k, v in fields.items() if k in EvaluationRequest.model_fields}
    try:
        req = EvaluationRequest.model_validate({**keep, **given})
    except ValidationError as error:
        raise validation_error(error) from None
    charge(request, math.ceil(req.n / IMAGES_PER_TOKEN))
    return _started(request, await lab_of(request).start_evaluation(req))


@router.post("/jobs/{job_id}/images/{index}", responses=JOB_ERRORS)
async def job_image(request: Request, job_id: str, index: int) -> Response:
    """A test-set run's attack on one of its images (``index`` 0..n-1 among them) as a normal attack run: the grid
    for that image (a browser's form goes to its permalink)."""
    found = lab_of(request).jobs.get(job_id)
    if found.kind != "test_set" or not found.result:
        raise ApiError(422, "not_a_test_set_run", "job: only a test-set run with results has images", "job_id")
    if not 0 <= index < found.result.get("done_images", 0):
        raise ApiError(422, "invalid_parameter", f"index: 0..{found.result.get('done_images', 0) - 1}", "index")
    charge(request)
    req = image_request(found.request, found.result["dataset"], index)
    result = await lab_of(request).attack(req)
    if wants_html(request) or request.headers.get("content-type", "").startswith("application/x-www-form"):
        return RedirectResponse(result["permalink"], status_code=303)
    return JSONResponse(result)


@router.get("/jobs/{job_id}", responses=JOB_ERRORS)
async def job(request: Request, job_id: str) -> Any:
    """The job's state, progress and (partial) result; its page for browsers; ``/jobs/{id}.json`` downloads it."""
    if job_id.endswith(".json"):
        found = lab_of(request).jobs.get(job_id.removesuffix(".json"))
        return JSONResponse(found.public(detail=True), headers={"Content-Disposition": "attachment"})
    found = lab_of(request).jobs.get(job_id)
    return pages.job_page(request, found) if wants_html(request) else found.public()


@router.get("/jobs/{job_id}/fragment", response_class=HTMLResponse, include_in_schema=False)
async def job_fragment(request: Request, job_id: str) -> HTMLResponse:
    return pages.job_fragment(request, lab_of(request).jobs.get(job_id))


@router.get("/jobs/{job_id}/events", responses=JOB_ERRORS)
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: ``progress`` after every step, then one of ``done``, ``cancelled``, ``failed``; each
    event's data is the job as GET /jobs/{id} returns it."""
    lab = lab_of(request)
    found = lab.jobs.get(job_id)

    async def stream() -> AsyncIterator[str]:
        async for snapshot in lab.jobs.events(found):
            if snapshot is None:
                yield ": keep-alive\n\n"
                continue
            name = "progress" if snapshot["state"] == "running" else snapshot["state"]
            yield f"event: {name}\ndata: {json.dumps(snapshot)}\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.delete("/jobs/{job_id}", responses=JOB_ERRORS)
async def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    """Stop a running job after its current step; what it finished stays in its result."""
    return lab_of(request).jobs.cancel(job_id).public()


@router.post("/jobs/{job_id}/cancel", include_in_schema=False)
async def cancel_job_form(request: Request, job_id: str) -> RedirectResponse:
    lab_of(request).jobs.cancel(job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
