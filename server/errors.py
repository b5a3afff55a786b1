"""Every failure becomes ``{"error": {"code", "message", "field"}}`` with a 4xx status for bad input (never a 500 for
bad input, never a hang); pages get the same message rendered in the error fragment."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from explainlab.errors import CheckpointError, ExplainlabError, IncompatibleError, InvalidInputError, UnknownNameError
from server.worker import QueueFullError
from server.zoo import UnknownModelError

log = logging.getLogger(__name__)

IMAGE_STATUS = {"too_large": 413, "unsupported_format": 415}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.retry_after: int | None = 1 if code == "busy" else None  # seconds, sent as Retry-After


def _loc(loc: tuple[Any, ...] | list[Any], prefix: str | None = None) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    if prefix:
        parts.insert(0, prefix)
    return ".".join(parts) or None


def validation_error(error: ValidationError | RequestValidationError, prefix: str | None = None) -> ApiError:
    """The first problem of a pydantic error, with its field path and pydantic's message (which states the bound)."""
    first = error.errors()[0]
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    loc = tuple(first.get("loc", ()))
    named = re.match(r"^([a-z_]+): ", message)  # a model-level check that names its field ("eps: ...")
    if not loc and named:
        loc, message = (named.group(1),), message[named.end() :]
    field = _loc(loc, prefix)
    if first.get("type") == "extra_forbidden":
        message = "unknown parameter"
        if prefix and hasattr(error, "title"):
            message += f" of {error.title}"
    allowed = first.get("ctx", {}).get("expected")
    if allowed:
        message += f" (allowed: {allowed})"
    return ApiError(422, "invalid_parameter", f"{field}: {message}" if field else message, field)


def to_api_error(error: Exception) -> ApiError:
    """Map library and server exceptions to HTTP errors."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, (ValidationError, RequestValidationError)):
        return validation_error(error)
    if isinstance(error, InvalidInputError):
        code = getattr(error, "code", "invalid_image")
        return ApiError(IMAGE_STATUS.get(code, 422), code, str(error), error.field)
    if isinstance(error, UnknownModelError):
        return ApiError(422, "unknown_model", str(error), error.field)
    if isinstance(error, UnknownNameError):
        return ApiError(422, "unknown_name", str(error), getattr(error, "field", None))
    if isinstance(error, IncompatibleError):
        return ApiError(422, "incompatible", str(error), getattr(error, "field", None))
    if isinstance(error, CheckpointError):
        return ApiError(503, "model_unavailable", f"a stored model could not be loaded: {error}")
    if isinstance(error, QueueFullError):
        return ApiError(503, "busy", str(error))
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return ApiError(503, "timeout", "the request took longer than the server's limit; lower steps or samples")
    if isinstance(error, ExplainlabError):
        return ApiError(422, "invalid_request", str(error))
    log.exception("unexpected error", exc_info=error)
    return ApiError(500, "internal", f"internal error ({type(error).__name__}); the server keeps running")


def error_json(error: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    body = {"error": {"code": error.code, "message": error.message, "field": error.field}}
    return JSONResponse(body, status_code=error.status, headers=headers)


def install(app: FastAPI, render_page_error: Any) -> None:
    """Register the handlers; ``render_page_error(request, ApiError)`` renders HTML for page routes."""

    def respond(request: Request, error: ApiError) -> Response:
        wants_html = request.url.path in ("/", "/lab") or request.headers.get("hx-request") == "true"
        return render_page_error(request, error) if wants_html else error_json(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        return respond(request, validation_error(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        message = str(error.detail) if error.status_code != 404 else f"no such page or endpoint: {request.url.path}"
        return error_json(ApiError(error.status_code, code, message))

    async def _mapped(request: Request, error: Exception) -> Response:
        return respond(request, to_api_error(error))

    for kind in (
        ApiError,
        ValidationError,
        ExplainlabError,
        UnknownModelError,
        QueueFullError,
        TimeoutError,
        Exception,
    ):
        app.add_exception_handler(kind, _mapped)
