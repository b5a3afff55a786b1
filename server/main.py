"""App factory: ``create_app(settings)``; the lifespan starts the compute worker, the zoo opens lazily."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from explainlab.provenance import resolve_device
from explainlab.runtime import configure_runtime
from explainlab.zoo.listing import short_id
from server import errors
from server.access import AccessGate, AccessList, RedactLinkTokens
from server.errors import ApiError
from server.routes import api, jobs, map_checks, pages, signin
from server.services import Lab
from server.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    configure_runtime(settings.threads)
    lab = Lab(settings, resolve_device(settings.device))
    templates = Jinja2Templates(directory=str(settings.templates_dir))
    templates.env.filters["short_id"] = short_id

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lab.worker.start()
        log.info("explainlab serving %s on %s", settings.models, lab.device)
        yield
        await lab.jobs.shutdown()
        lab.worker.stop()

    app = FastAPI(
        title="explainlab",
        summary="Do a model's explanations survive adversarial perturbation?",
        description="Predictions, attribution maps and attacks on the models of the zoo; every error is "
        '`{"error": {"code", "message", "field"}}` with a 4xx status for bad input.',
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from static/vendor: no CDN
        redoc_url=None,
    )
    app.state.lab, app.state.templates, app.state.settings = lab, templates, settings
    app.state.access = AccessList(settings.access_tokens) if settings.access_tokens else None
    app.mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static")

    def render_page_error(request: Request, error: ApiError) -> HTMLResponse:
        return templates.TemplateResponse(request, "fragments/error.html", {"error": error}, status_code=error.status)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="explainlab API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    errors.install(app, render_page_error)
    app.include_router(api.router)
    app.include_router(map_checks.router)
    app.include_router(jobs.router)
    app.include_router(pages.router)
    app.include_router(signin.router)
    if app.state.access is not None:
        app.add_middleware(AccessGate, access=app.state.access)
        logging.getLogger("uvicorn.access").addFilter(RedactLinkTokens())
        declare_bearer_auth(app)
    return app


def declare_bearer_auth(app: FastAPI) -> None:
    """With demo access on, the OpenAPI document says that every operation takes a bearer token (/docs: Authorize)."""
    plain = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = plain()
            schema.setdefault("components", {})["securitySchemes"] = {
                "accessToken": {"type": "http", "scheme": "bearer", "description": "a token of the lab's token file"}
            }
            schema["security"] = [{"accessToken": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
