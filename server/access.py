"""Demo access: with ``EXPLAINLAB_ACCESS_TOKENS`` (a token file, explainlab/access_tokens.py) every page and API call
needs a token; without it the lab is open, as on one's own machine.

A caller shows its token as ``Authorization: Bearer <token>`` (scripts), as the cookie that /login sets (browsers), or
once in a shared link ``/any/page?token=<token>``, which sets the cookie and redirects to the page without it. Open to
all: /healthz, /login, /logout and /static. A missing or wrong token answers 401 in JSON, a browser's page request
goes to /login and an htmx request is sent there too. The file is re-read when it changes, so removing a line revokes a
token without a restart; a file edited into a bad state keeps the last good tokens and logs why. Each user has their
own rate-limit bucket (server/limits.py).
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from pathlib import Path
from urllib.parse import urlencode

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from explainlab.access_tokens import TokenFileError, read_tokens
from server.errors import ApiError, error_json

log = logging.getLogger(__name__)

COOKIE = "explainlab_access"
COOKIE_DAYS = 30
OPEN_PATHS = frozenset({"/healthz", "/login", "/logout", "/favicon.ico"})
OPEN_PREFIX = "/static/"
LINK_TOKEN = re.compile(r"([?&]token=)[^&\s\"]*")


class RedactLinkTokens(logging.Filter):
    """Keeps a shared link's token out of the access log (uvicorn logs every request's path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(LINK_TOKEN.sub(r"\1<redacted>", a) if isinstance(a, str) else a for a in record.args)
        return True


class AccessList:
    """The tokens of a token file, re-read whenever the file's size or modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._tokens = read_tokens(self.path)  # a bad file stops the server at start
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _refresh(self) -> None:
        stamp = self._stamp()
        if stamp == self._seen:
            return
        with self._lock:
            self._seen = stamp
            if stamp is None:
                log.error("access: token file %s is gone: nobody can sign in until it is back", self.path)
                self._tokens = {}
                return
            try:
                self._tokens = read_tokens(self.path)
                log.info("access: token file %s re-read, %d tokens", self.path, len(self._tokens))
            except TokenFileError as error:
                log.error("access: %s; keeping the %d tokens read before", error, len(self._tokens))

    def user(self, token: str | None) -> str | None:
        """The name the token belongs to, or None; every stored token is compared in constant time."""
        if not token:
            return None
        self._refresh()
        found = None
        for known, name in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = name
        return found


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def set_access_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")  # fmt: skip


def login_url(target: str) -> str:
    return "/login?" + urlencode({"next": safe_next(target)})


class AccessGate:
    """ASGI middleware: lets a request through when it carries a known token, with ``request.state.user`` set."""

    def __init__(self, app: ASGIApp, access: AccessList) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        link_token = request.query_params.get("token") if request.method in ("GET", "HEAD") else None
        token = bearer_token(request) or link_token or request.cookies.get(COOKIE)
        user = self.access.user(token)
        if user is None:
            await refusal(request, given=bool(token))(scope, receive, send)
            return
        if link_token and token == link_token:  # a shared link: keep the token in a cookie, not in the address bar
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response = RedirectResponse(path + (f"?{urlencode(rest)}" if rest else ""), 303)
            set_access_cookie(response, request, token)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


def refusal(request: Request, given: bool) -> Response:
    """401 for scripts, the sign-in page for a browser's page request, an htmx redirect for htmx."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request") == "true":
        current = URL(request.headers.get("hx-current-url", "/"))
        page = current.path + (f"?{current.query}" if current.query else "")
        return Response(status_code=401, headers={"HX-Redirect": login_url(page)})
    accept = request.headers.get("accept", "")
    if request.method in ("GET", "HEAD") and "text/html" in accept and not bearer_token(request):
        return RedirectResponse(login_url(target), 303)
    message = (
        "the access token is not valid (it may have been revoked); ask the lab's host for a new one"
        if given
        else "this lab needs an access token: send 'Authorization: Bearer <token>', or sign in at /login"
    )
    response = error_json(ApiError(401, "unauthorized", message))
    response.headers["WWW-Authenticate"] = 'Bearer realm="explainlab"'
    return response
