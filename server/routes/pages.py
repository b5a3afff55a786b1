"""Server-rendered pages (Jinja2). Everything works without JavaScript: the lab form posts and the answer redirects to
the run's permalink; with htmx the result grid is swapped in place and the URL becomes the permalink."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from explainlab import render
from explainlab.attacks import ATTACKS
from explainlab.explain import EXPLAINERS
from explainlab.zoo.claims import METRIC_TITLES, PCT_METRICS, check_claims
from explainlab.zoo.leaderboard import COLUMNS, SEED_LEGEND, mixes_thread_counts, seed_spread
from explainlab.zoo.listing import sanity_runs
from explainlab.zoo.store import read_report
from server.charts import map_chart, robustness_chart, sweep_chart, testset_charts
from server.errors import ApiError, validation_error
from server.evaluation import worst_images
from server.forms import form_fields, parse_params
from server.jobs import Job
from server.limits import charge
from server.schemas import AttackRequest, ExplainRequest

router = APIRouter(include_in_schema=False)
NO_ATTACK = "none"
DEFAULT_METHOD, DEFAULT_ATTACK = "integrated_gradients", "pgd"


def _lab(request: Request) -> Any:
    return request.app.state.lab


def render_page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A template (page or fragment) with the request in its context."""
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def lab_context(request: Request, form: dict[str, Any] | None = None, record: dict[str, Any] | None = None) -> dict:
    """Everything the lab page needs; ``form`` holds the values to show (defaults, a run's request, a post)."""
    lab = _lab(request)
    rows = [r for r in lab.zoo.rows() if not r.get("error")]
    form = dict(form or {})
    dataset = form.get("dataset") or _home_dataset(rows)
    selected = form.get("models") or lab.zoo.defaults(dataset)
    method = form.get("method") or DEFAULT_METHOD
    attack = form.get("attack") or DEFAULT_ATTACK
    eps_default = max([r["threat_model"]["eps"] for r in rows if r["id"] in selected] or [0.3])
    attack_values = {"eps": eps_default, **(form.get("attack_params") or {})}
    datasets = _models_by_dataset(rows, dataset)
    gallery: dict[str, list[dict]] = {}
    for item in lab.gallery.items():
        gallery.setdefault(item["dataset"], []).append({**item, "url": lab.gallery.url(item)})
    source = form.get("source") or {}
    return {
        "datasets": datasets,
        "selected": selected,
        "gallery": gallery,
        "gallery_pick": source.get("gallery") or form.get("gallery") or _first_gallery(gallery, dataset),
        "run_source": source.get("run") if "run" in source else (record or {}).get("response", {}).get("run_id"),
        "source_kind": form.get("source_kind") or ("run" if source.get("upload") else "gallery"),
        "explainers": EXPLAINERS.describe(),
        "attacks": ATTACKS.describe(),
        "method": method,
        "attack": attack,
        "method_fields": form_fields(EXPLAINERS[method].Params.model_json_schema(), "mp", form.get("method_params")),
        "attack_fields": []
        if attack == NO_ATTACK
        else form_fields(ATTACKS[attack].Params.model_json_schema(), "ap", attack_values),
        "eps": float(attack_values["eps"]) if attack != NO_ATTACK else eps_default,
        "eps_max": min(1.0, 2 * eps_default),
        "eps_step": 1 / 255 if eps_default < 0.1 else 0.01,
        "transfer_from": form.get("transfer_from") or "",
        "invert": form.get("invert") or "auto",
        "record": record,
        "result": (record or {}).get("response"),
    }


def _home_dataset(rows: list[dict]) -> str:
    """The dataset the lab opens on: MNIST when the zoo has it, else the first model's."""
    if any(r["dataset"] == "mnist" for r in rows) or not rows:
        return "mnist"
    return rows[0]["dataset"]


def _models_by_dataset(rows: list[dict], first: str) -> dict[str, dict]:
    """dataset -> {"main": one model per method (its representative), "variants": the rest (seeds, sweeps, longer
    runs, controls)}, the lab's dataset first, each part in method order."""
    datasets: dict[str, dict[str, list[dict]]] = {first: {"main": [], "variants": []}}
    for row in sorted(rows, key=_method_rank):
        part = "main" if row["representative"] else "variants"
        datasets.setdefault(row["dataset"], {"main": [], "variants": []})[part].append(row)
    return {ds: parts for ds, parts in datasets.items() if parts["main"] or parts["variants"]}


def _method_rank(row: dict[str, Any]) -> tuple[int, str]:
    """natural, then the baselines, then the robust-explanation methods: the order of the comparison rows."""
    order = ("natural", "l1", "pgd_at", "trades", "egat", "atex", "sgt", "asgt", "ig_norm", "ig_sum_norm")
    return (order.index(row["method"]) if row["method"] in order else len(order), row["id"])


def _first_gallery(gallery: dict[str, list[dict]], dataset: str) -> str | None:
    items = gallery.get(dataset) or next(iter(gallery.values()), [])
    return items[0]["id"] if items else None


@router.get("/", response_class=HTMLResponse)
async def lab_page(request: Request) -> HTMLResponse:
    return render_page(request, "lab.html", lab_context(request))


@router.get("/fragments/params", response_class=HTMLResponse)
async def params_fragment(
    request: Request, kind: str = "method", method: str = DEFAULT_METHOD, attack: str = DEFAULT_ATTACK
) -> HTMLResponse:
    """The parameter inputs of one method (htmx swaps them in when the method or attack select changes)."""
    name = attack if kind == "attack" else method
    if kind == "attack" and name == NO_ATTACK:
        return HTMLResponse("")
    registry, prefix = (ATTACKS, "ap") if kind == "attack" else (EXPLAINERS, "mp")
    try:
        member = registry[name]
    except LookupError as error:
        raise ApiError(422, "unknown_name", str(error), kind) from None
    fields = form_fields(member.Params.model_json_schema(), prefix)
    return render_page(request, "fragments/params.html", {"fields": fields, "prefix": prefix})


async def _form_request(form: FormData, settings: Any) -> tuple[Any, bytes | None]:
    """The lab form -> an Explain- or AttackRequest and the uploaded bytes."""
    method = str(form.get("method") or DEFAULT_METHOD)
    attack = str(form.get("attack") or NO_ATTACK)
    data: dict[str, Any] = {
        "models": [str(m) for m in form.getlist("models")],
        "method": method,
        "invert": str(form.get("invert") or "auto"),
    }
    if method in EXPLAINERS:
        data["method_params"] = parse_params(EXPLAINERS[method].Params.model_json_schema(), form, "mp")
    kind = str(form.get("source") or "gallery")
    upload = None
    if kind == "upload":
        file = form.get("image")
        if isinstance(file, UploadFile) and file.filename:
            from server.routes.api import read_upload

            upload = await read_upload(file, settings.max_upload_bytes)
        else:
            raise ApiError(422, "invalid_parameter", "image: choose a PNG, JPEG or WebP file to upload", "image")
    elif kind == "draw":
        data["image"] = str(form.get("drawing") or "")
        if not data["image"]:
            raise ApiError(422, "invalid_parameter", "drawing: draw a digit on the canvas first", "drawing")
    elif kind == "run":
        data["run"] = str(form.get("run") or "")
    else:
        data["gallery"] = str(form.get("gallery") or "")
    if not data["models"]:
        raise ApiError(422, "invalid_parameter", "models: pick at least one model", "models")
    try:
        if attack == NO_ATTACK:
            return ExplainRequest.model_validate(data), upload
        if attack in ATTACKS:
            data["attack_params"] = parse_params(ATTACKS[attack].Params.model_json_schema(), form, "ap")
        data["attack"] = attack
        if form.get("transfer_from"):
            data["transfer_from"] = str(form.get("transfer_from"))
        return AttackRequest.model_validate(data), upload
    except ValidationError as error:
        raise validation_error(error) from None


@router.post("/lab", response_class=HTMLResponse)
async def lab_run(request: Request) -> Response:
    charge(request)
    form = await request.form(max_files=1, max_fields=300)
    req, upload = await _form_request(form, request.app.state.settings)
    lab = _lab(request)
    result = await (lab.attack(req, upload) if isinstance(req, AttackRequest) else lab.explain(req, upload))
    if request.headers.get("hx-request") == "true":
        response = render_page(request, "fragments/result.html", {"result": result})
        response.headers["HX-Push-Url"] = result["permalink"]
        return response
    return RedirectResponse(result["permalink"], status_code=303)


def run_page(request: Request, record: dict[str, Any]) -> HTMLResponse:
    form = {**record["request"], "source": {"run": record["response"]["run_id"]}, "source_kind": "run"}
    form.setdefault("attack", NO_ATTACK)
    return render_page(request, "lab.html", lab_context(request, form, record))


def models_page(request: Request) -> HTMLResponse:
    lab = _lab(request)
    rows = lab.zoo.rows()
    good = [r for r in rows if not r.get("error")]
    groups = _models_by_dataset(good, _home_dataset(good))
    charts = {
        ds: [
            robustness_chart(parts["main"], title=f"{ds}: robust accuracy against ε", colour=_hue),
            map_chart(parts["main"], title=f"{ds}: how much of the saliency map survives, against ε", colour=_hue),
        ]
        for ds, parts in groups.items()
    }
    broken = [r for r in rows if r.get("error")]
    return render_page(request, "models.html", {"datasets": groups, "charts": charts, "broken": broken})


def _hue(row: dict[str, Any]) -> int:
    """A method's colour in the robustness charts: its place in the comparison order, the same on every page."""
    return _method_rank(row)[0]


def model_page(request: Request, model_id: str) -> HTMLResponse:
    lab = _lab(request)
    row = lab.zoo.row(model_id)
    methods = ("natural", "pgd_at", row["method"])
    shown = sorted(
        (r for r in lab.zoo.rows() if r["id"] == model_id
         or (r.get("representative") and r["dataset"] == row["dataset"] and r["method"] in methods)),
        key=_method_rank,
    )  # fmt: skip
    others = [r["short_id"] for r in shown if r["id"] != model_id]
    against = f" (bold) against the {row['dataset']} zoo's {', '.join(others)}" if others else ""
    charts = [
        robustness_chart(shown, model_id, f"Robust accuracy against ε: {row['short_id']}{against}", _hue),
        map_chart(shown, model_id, f"Saliency map kept (top-k ∩) against ε: {row['short_id']}{against}", _hue),
    ]
    return render_page(
        request,
        "model.html",
        {
            "row": row,
            "card": lab.zoo.card(model_id),
            "report": read_report(row["path"]),
            "charts": charts,
            "sanity": sanity_runs(Path(row["path"])),
        },  # fmt: skip
    )


def _job_context(request: Request, job: Job) -> tuple[str, dict[str, Any]]:
    """The fragment that draws a job, and its context: an ε sweep's chart and table, a test-set run's table."""
    result = job.result or {}
    rows = {row["id"]: row for row in _lab(request).zoo.rows() if not row.get("error")}

    def colour(model_id: str) -> int:
        return _hue(rows[model_id]) if model_id in rows else 9

    if job.kind == "test_set":
        worst = worst_images(job, _lab(request).test_images)
        charts = testset_charts(result, colour=colour)
        return "fragments/testset.html", {"job": job.public(), "result": result, "worst": worst, "charts": charts}
    chart = sweep_chart(result, colour=colour) if result.get("points") else None
    return "fragments/sweep.html", {"job": job.public(), "chart": chart, "result": result}


def job_page(request: Request, job: Job) -> HTMLResponse:
    """A job followed without JavaScript: the page reloads itself every second until the job ends."""
    fragment, context = _job_context(request, job)
    return render_page(request, "job.html", {**context, "fragment": fragment})


def job_fragment(request: Request, job: Job) -> HTMLResponse:
    """The same, for the lab's script to swap in under the grid."""
    return render_page(request, *_job_context(request, job))


@router.get("/leaderboard", response_class=HTMLResponse)
async def leaderboard(request: Request) -> HTMLResponse:
    rows = [r for r in _lab(request).zoo.rows() if not r.get("error")]
    datasets = _models_by_dataset(rows, _home_dataset(rows))
    claims: dict[str, dict[str, list[dict]]] = {}
    for claim in check_claims(_lab(request).zoo.root, _lab(request).zoo.rows()):
        parts = claims.setdefault(claim["dataset"], {"main": [], "more": []})
        parts["main" if claim["main"] else "more"].append(claim)
    return render_page(
        request,
        "leaderboard.html",
        {
            "datasets": datasets,
            "mixed_threads": {ds: mixes_thread_counts(p["main"] + p["variants"]) for ds, p in datasets.items()},
            "claims": claims,
            "pct_metrics": PCT_METRICS,
            "metric_titles": METRIC_TITLES,
            "seed_spread": seed_spread(rows),
            "seed_legend": SEED_LEGEND,
            "columns": COLUMNS,
        },
    )


def _png(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


def grid_png(record: dict[str, Any]) -> bytes:
    """The result grid as one PNG (export)."""
    response = record["response"]
    if response["kind"] == "attack":
        titles = ["input", "saliency", "|delta|", "adversarial", "adv. saliency"]
        cells = [
            [
                r["input_png"],
                r["before"]["map"]["png"],
                r["perturbation_png"],
                r["adversarial_png"],
                r["after"]["map"]["png"],
            ]
            for r in response["rows"]
        ]
        labels = [
            f"{r['model']}\n{r['before']['prediction']['class_name']} -> {r['after']['prediction']['class_name']}"
            for r in response["rows"]
        ]
    else:
        titles = ["input", "saliency"]
        cells = [[r["input_png"], r["view"]["map"]["png"]] for r in response["rows"]]
        labels = [f"{r['model']}\n{r['view']['prediction']['class_name']}" for r in response["rows"]]
    return render.compose_grid([[_png(c) for c in row] for row in cells], labels, titles)
