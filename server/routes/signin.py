"""Signing in and out of a lab with demo access (server/access.py); without a token file /login goes to the lab."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.access import COOKIE, safe_next, set_access_cookie
from server.routes.pages import render_page

router = APIRouter(include_in_schema=False)


def _sign_in_page(request: Request, target: str, message: str | None = None, status: int = 200) -> HTMLResponse:
    context = {"next": target, "message": message}
    return render_page(request, "login.html", context, status)


@router.get("/login", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str = "/") -> Response:
    if request.app.state.access is None:
        return RedirectResponse(safe_next(next), 303)
    return _sign_in_page(request, safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    access = request.app.state.access
    form = await request.form()
    target = safe_next(str(form.get("next") or "/"))
    if access is None:
        return RedirectResponse(target, 303)
    token = str(form.get("token") or "").strip()
    if access.user(token) is None:
        message = "That token is not valid (it may have been revoked)." if token else "Enter your access token."
        return _sign_in_page(request, target, message, status=401)
    response = RedirectResponse(target, 303)
    set_access_cookie(response, request, token)
    return response


@router.post("/logout")
async def sign_out(request: Request) -> Response:
    response = RedirectResponse("/login" if request.app.state.access is not None else "/", 303)
    response.delete_cookie(COOKIE, path="/")
    return response
