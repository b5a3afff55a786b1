"""The JSON API: POST /explain, POST /attack, GET /models, /models/{id}, /methods, /gallery, /runs/{id}, /healthz

/models, /models/{id} and /runs/{id} answer HTML to browsers (Accept: text/html) and JSON to everyone else.
Jobs (ε sweeps) are in server/routes/jobs.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from explainlab import __version__
from explainlab.attacks import ATTACKS
from explainlab.eval.certified_map import CertifyParams
from explainlab.eval.sanity_check import SanityParams
from explainlab.explain import EXPLAINERS
from explainlab.training import METHODS
from explainlab.zoo.listing import sanity_runs
from explainlab.zoo.store import read_report
from server.errors import ApiError, validation_error
from server.limits import charge
from server.routes import pages
from server.schemas import AttackRequest, AttackResponse, ErrorResponse, ExplainRequest, ExplainResponse
from server.services import Lab

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (404, "unknown run or model"),
        (413, "image too large (bytes or pixels)"),
        (415, "image format not allowed"),
        (422, "invalid parameter: the message names the field and what is allowed"),
        (503, "busy, timed out, or a stored model could not be loaded"),
    )
}
LIST_FIELDS = ("models", "eps")
JSON_FIELDS = ("method_params", "attack_params", "certify_params", "sanity_params")


def lab_of(request: Request) -> Lab:
    return request.app.state.lab


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    multipart = {
        "type": "object",
        "properties": {
            "image": {"type": "string", "format": "binary", "description": "PNG, JPEG or WebP file"},
            **{k: v for k, v in schema["properties"].items() if k != "image"},
        },
        "description": "the same fields as JSON; models repeated or comma-separated; *_params as JSON text",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": multipart}},
        }
    }


async def read_upload(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "too_large", f"image: the file is over the limit of {limit / 2**20:.1f} MB", "image")
    return data


async def parse_run_request(request: Request, model: type[BaseModel]) -> tuple[Any, bytes | None]:
    """JSON body or multipart form -> (validated request, uploaded bytes or None)."""
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    upload = None
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=200)
        data: dict[str, Any] = {}
        for key in set(form.keys()):
            values = form.getlist(key)
            if key == "image" and isinstance(values[0], UploadFile):
                upload = await read_upload(values[0], settings.max_upload_bytes)
            elif key in LIST_FIELDS:
                data[key] = [m.strip() for v in values for m in str(v).split(",") if m.strip()]
            elif key in JSON_FIELDS:
                data[key] = _json_field(str(values[-1]), key)
            elif str(values[-1]) != "":
                data[key] = values[-1]
    elif content_type.startswith("application/json") or not content_type:
        data = await parse_json_object(request)
    else:
        raise ApiError(415, "unsupported_media_type", "send application/json or multipart/form-data", None)
    try:
        return model.model_validate(data), upload
    except ValidationError as error:
        raise validation_error(error) from None


async def parse_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``); too large is a 413, anything else a 422."""
    body = await request.body()
    if len(body) > request.app.state.settings.max_upload_bytes * 4 // 3 + 65536:
        raise ApiError(413, "too_large", "body: the JSON body is over the upload limit", "image")
    data = _json_field(body.decode("utf-8", errors="replace"), "body")
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "body: a JSON object is required", None)
    return data


def _json_field(text: str, field: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise ApiError(422, "invalid_json", f"{field}: not valid JSON ({error})", field) from None


@router.post("/explain", response_model=ExplainResponse, responses=ERRORS, openapi_extra=body_doc(ExplainRequest))
async def explain(request: Request) -> dict[str, Any]:
    """Predictions and attribution maps of one image on one or more models."""
    charge(request)
    req, upload = await parse_run_request(request, ExplainRequest)
    return await lab_of(request).explain(req, upload)


@router.post("/attack", response_model=AttackResponse, responses=ERRORS, openapi_extra=body_doc(AttackRequest))
async def attack(request: Request) -> dict[str, Any]:
    """Attack one image on each model (or craft on one and transfer), with maps and similarity before and after."""
    charge(request)
    req, upload = await parse_run_request(request, AttackRequest)
    return await lab_of(request).attack(req, upload)


@router.get("/models", responses=ERRORS)
async def models(request: Request) -> Any:
    """The zoo with headline numbers from each report."""
    if wants_html(request):
        return pages.models_page(request)
    return {"models": lab_of(request).zoo.rows()}


@router.get("/models/{model_id}", responses=ERRORS)
async def model(request: Request, model_id: str) -> Any:
    """One model's card and its evaluation report (and its stored sanity-check runs in full)."""
    lab = lab_of(request)
    try:
        row = lab.zoo.row(model_id, field="model_id")
    except LookupError as error:
        raise ApiError(404, "unknown_model", str(error), "model_id") from None
    if wants_html(request):
        return pages.model_page(request, model_id)
    card = lab.zoo.card(model_id)
    return {"id": model_id, "card": card.model_dump(), "report": read_report(row["path"]), "summary": row,
            "sanity_check": sanity_runs(Path(row["path"]))}  # fmt: skip


@router.get("/methods")
async def methods() -> dict[str, Any]:
    """Attribution methods and attacks with their parameter JSON schemas (plus the training methods, and the
    parameters of POST /certify and POST /sanity-check)."""
    return {
        "explainers": EXPLAINERS.describe(),
        "attacks": ATTACKS.describe(),
        "training": METHODS.describe(),
        "certify": {"params_schema": CertifyParams.model_json_schema()},
        "sanity_check": {"params_schema": SanityParams.model_json_schema()},
    }


@router.get("/gallery")
async def gallery(request: Request) -> dict[str, Any]:
    """The sample images shipped with the lab (test splits)."""
    lab = lab_of(request)
    return {"items": [{**item, "url": lab.gallery.url(item)} for item in lab.gallery.items()]}


@router.get("/runs/{run_id}", responses=ERRORS)
async def run(request: Request, run_id: str) -> Any:
    """A stored run (the permalink): its request and result; HTML for browsers."""
    if run_id.endswith(".json"):
        return JSONResponse(stored_run(request, run_id[:-5]), headers={"Content-Disposition": "attachment"})
    if run_id.endswith(".png"):
        return Response(pages.grid_png(stored_run(request, run_id[:-4])), media_type="image/png")
    record = stored_run(request, run_id)
    return pages.run_page(request, record) if wants_html(request) else record


def stored_run(request: Request, run_id: str) -> dict[str, Any]:
    record = lab_of(request).runs.load(run_id)
    if record is None:
        raise ApiError(404, "unknown_run", f"run: no stored run {run_id[:20]!r} (ids are 16 hex digits)", "run_id")
    return record


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness and the worker's state."""
    lab = lab_of(request)
    return {
        "status": "ok",
        "version": __version__,
        "device": str(lab.device),
        "compute": lab.settings.compute,
        "max_batch": lab.settings.max_batch,
        "torch_threads": torch.get_num_threads(),
        "models": len(lab.zoo.ids()),
        "queue": lab.worker.pending,
        "jobs_run": lab.worker.jobs_run,
        "batches_run": lab.worker.batches_run,
        "result_cache": {"size": len(lab.results), "hits": lab.results.hits, "misses": lab.results.misses},
    }
