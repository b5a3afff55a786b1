"""POST /certify (JSON or multipart, like /explain) and a run's "Certify maps" form (POST /runs/{id}/certify):
which pixels of each model's map provably keep their place under any L2 perturbation up to a radius
(server/certification.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from server.certification import certify
from server.errors import ApiError, validation_error
from server.limits import charge
from server.routes.api import ERRORS, body_doc, lab_of, parse_run_request, stored_run
from server.routes.pages import render_page
from server.schemas import CertifyRequest

router = APIRouter()
FORM_FIELDS = ("sigma", "n")  # what the run page's form may set; the rest keep their defaults


@router.post("/certify", responses=ERRORS, openapi_extra=body_doc(CertifyRequest))
async def certify_maps(request: Request) -> dict[str, Any]:
    """Certify each model's map of one image by randomized smoothing: per pixel, certified important, certified
    unimportant or no certificate, all valid together (with probability 1 - alpha) for every L2 perturbation below
    ``radius``; plus the smoothed classifier's class and radius. Costs ``n`` maps per model."""
    charge(request)
    req, upload = await parse_run_request(request, CertifyRequest)
    return await certify(lab_of(request), req, upload)


@router.post("/runs/{run_id}/certify", response_class=HTMLResponse, include_in_schema=False)
async def certify_run(request: Request, run_id: str) -> Response:
    """The run's input and models, certified (sigma, n and the map - the run's method or saliency - from the form):
    a fragment for htmx, a page otherwise."""
    record = stored_run(request, run_id)
    form = await request.form()
    values = {name: form[name] for name in FORM_FIELDS if form.get(name)}
    asked = record["request"]
    method = str(form.get("method") or asked["method"])  # the run's map, or the saliency map (fast)
    if method not in (asked["method"], "saliency"):
        raise ApiError(422, "invalid_parameter", f"method: this run's {asked['method']!r} or 'saliency'", "method")
    method_params = asked["method_params"] if method == asked["method"] else {}
    try:
        req = CertifyRequest(models=asked["models"], method=method, method_params=method_params, run=run_id,
                             invert=asked.get("invert", "auto"), certify_params=values)  # fmt: skip
    except ValidationError as error:
        raise validation_error(error) from None
    charge(request)
    result = await certify(lab_of(request), req)
    attacked = {row["model"]: row.get("l2") for row in record["response"].get("rows", []) if row.get("l2") is not None}
    context = {"certified": result, "run_id": run_id, "attack_l2": attacked}
    name = "fragments/certify.html" if request.headers.get("hx-request") == "true" else "certify.html"
    return render_page(request, name, context)
