"""The checks of each model's map of one image, as JSON (JSON or multipart bodies, like /explain) and as a run's
forms: POST /certify and /runs/{id}/certify, which pixels of each map provably keep their place under any L2
perturbation up to a radius (server/certification.py); POST /sanity-check and /runs/{id}/sanity-check, whether each
map changes when the model's weights are randomized (server/sanity.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from server.certification import certify
from server.errors import ApiError, validation_error
from server.limits import charge
from server.routes.api import ERRORS, body_doc, lab_of, parse_run_request, stored_run
from server.routes.pages import render_page
from server.sanity import sanity
from server.schemas import CertifyRequest, SanityRequest

router = APIRouter()
CERTIFY_FORM = ("sigma", "n")  # what the run page's forms may set; the rest keep their defaults
SANITY_FORM = ("order",)


@router.post("/certify", responses=ERRORS, openapi_extra=body_doc(CertifyRequest))
async def certify_maps(request: Request) -> dict[str, Any]:
    """Certify each model's map of one image by randomized smoothing: per pixel, certified important, certified
    unimportant or no certificate, all valid together (with probability 1 - alpha) for every L2 perturbation below
    ``radius``; plus the smoothed classifier's class and radius. Costs ``n`` maps per model."""
    charge(request)
    req, upload = await parse_run_request(request, CertifyRequest)
    return await certify(lab_of(request), req, upload)


@router.post("/sanity-check", responses=ERRORS, openapi_extra=body_doc(SanityRequest))
async def sanity_check_maps(request: Request) -> dict[str, Any]:
    """The model parameter randomization test (Adebayo et al. 2018) on each model's map of one image: the map after
    each layer is re-initialized (cascading from the output down, or one layer alone), with its rank correlation,
    SSIM and top-k intersection against the trained model's map; and the trained model's map for its runner-up
    class. A map that explains the model should move. Costs (layers + 2) maps per model."""
    charge(request)
    req, upload = await parse_run_request(request, SanityRequest)
    return await sanity(lab_of(request), req, upload)


async def _run_form(request: Request, run_id: str, schema: type[BaseModel], params_field: str,
                    form_fields: tuple[str, ...]) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """The stored run and a check's request for its input and models, with the form's values for ``form_fields``
    and the map: the run's method or the saliency map (fast) of the score the run explained."""
    record = stored_run(request, run_id)
    form = await request.form()
    values = {name: form[name] for name in form_fields if form.get(name)}
    asked = record["request"]
    method = str(form.get("method") or asked["method"])
    if method not in (asked["method"], "saliency"):
        raise ApiError(422, "invalid_parameter", f"method: this run's {asked['method']!r} or 'saliency'", "method")
    same = method == asked["method"]
    method_params = asked["method_params"] if same else {"score": asked["method_params"].get("score", "logit")}
    try:
        req = schema(models=asked["models"], method=method, method_params=method_params, run=run_id,
                     invert=asked.get("invert", "auto"), **{params_field: values})  # fmt: skip
    except ValidationError as error:
        raise validation_error(error) from None
    charge(request)
    return record, req


def _fragment_or_page(request: Request, name: str, context: dict[str, Any]) -> Response:
    """A fragment for htmx, the page around it otherwise (no JavaScript)."""
    fragment = request.headers.get("hx-request") == "true"
    return render_page(request, f"fragments/{name}.html" if fragment else f"{name}.html", context)


@router.post("/runs/{run_id}/certify", response_class=HTMLResponse, include_in_schema=False)
async def certify_run(request: Request, run_id: str) -> Response:
    """The run's input and models, certified (sigma, n and the map from the form); under an attack run each row
    compares the attack's L2 step with the certificates' radius."""
    record, req = await _run_form(request, run_id, CertifyRequest, "certify_params", CERTIFY_FORM)
    result = await certify(lab_of(request), req)
    attacked = {row["model"]: row.get("l2") for row in record["response"].get("rows", []) if row.get("l2") is not None}
    return _fragment_or_page(request, "certify", {"certified": result, "run_id": run_id, "attack_l2": attacked})


@router.post("/runs/{run_id}/sanity-check", response_class=HTMLResponse, include_in_schema=False)
async def sanity_run(request: Request, run_id: str) -> Response:
    """The run's input and models, each model's layers randomized (the order and the map from the form)."""
    _, req = await _run_form(request, run_id, SanityRequest, "sanity_params", SANITY_FORM)
    result = await sanity(lab_of(request), req)
    return _fragment_or_page(request, "sanity", {"sanity": result, "run_id": run_id})
