"""Demo access over real HTTP (server/access.py): with a token file every page and API call needs a token — a bearer
header for scripts, a cookie from /login or from a shared ?token= link for browsers — open paths stay open, each
user has their own rate-limit bucket, and removing a line revokes a token while the lab keeps running."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from explainlab.access_tokens import add_token
from server.access import COOKIE
from tests.live_server import REPO, live_server

pytestmark = pytest.mark.xdist_group("api")


@pytest.fixture(scope="module")
def lab(zoo_ids: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root, _ = zoo_ids
    runs = tmp_path_factory.mktemp("runs-access")
    tokens = runs / "tokens.txt"
    for name in ("alice", "bob", "carol"):
        add_token(tokens, name)
    env = {"EXPLAINLAB_MODELS": str(root), "EXPLAINLAB_RUNS_DIR": str(runs), "EXPLAINLAB_RATE_LIMIT": "3",
           "EXPLAINLAB_ACCESS_TOKENS": str(tokens)}  # fmt: skip
    with live_server(env, runs / "server.log") as base:
        yield base, tokens


def token_of(tokens: Path, name: str) -> str:
    return next(line.split()[1] for line in tokens.read_text().splitlines() if line.split()[0] == name)


def client(base: str, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, timeout=60, headers=headers, follow_redirects=False)


def test_without_a_token_only_the_open_paths_answer(lab: tuple[str, Path]) -> None:
    base, _ = lab
    with client(base) as anyone:
        refused = anyone.get("/models")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["error"]["code"] == "unauthorized" and "Authorization: Bearer" in refused.text
        wrong = anyone.post("/explain", json={"gallery": "mnist-1"}, headers={"authorization": "Bearer " + "x" * 32})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]["message"]
        page = anyone.get("/models?x=1", headers={"accept": "text/html"})  # a browser goes to the sign-in page
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fmodels%3Fx%3D1"
        htmx = anyone.post("/lab", headers={"hx-request": "true", "hx-current-url": f"{base}/runs/abc"})
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=%2Fruns%2Fabc"
        assert anyone.get("/healthz").json()["status"] == "ok"
        assert anyone.get("/static/css/app.css").status_code == 200
        assert "Access token" in anyone.get("/login").text


def test_a_bearer_token_runs_the_api_and_each_user_has_their_own_bucket(lab: tuple[str, Path], ids: list[str]) -> None:
    base, tokens = lab
    body = {"gallery": "mnist-1", "models": ids[:1], "method": "saliency"}
    with client(base, token_of(tokens, "alice")) as alice, client(base, token_of(tokens, "bob")) as bob:
        assert [alice.post("/explain", json=body).status_code for _ in range(3)] == [200, 200, 200]
        assert alice.post("/explain", json=body).status_code == 429  # alice's 3 a minute are spent
        assert bob.post("/explain", json=body).status_code == 200  # same address, another user
        schema = alice.get("/openapi.json").json()
        assert schema["security"] == [{"accessToken": []}]
        assert schema["components"]["securitySchemes"]["accessToken"]["scheme"] == "bearer"


def test_a_shared_link_leaves_a_cookie_and_drops_the_token_from_the_address(lab: tuple[str, Path]) -> None:
    base, tokens = lab
    carol = token_of(tokens, "carol")
    with client(base) as browser:
        opened = browser.get(f"/leaderboard?token={carol}&q=1&q=2")
        assert opened.status_code == 303 and opened.headers["location"] == "/leaderboard?q=1&q=2"
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={carol}") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        page = browser.get("/leaderboard")  # the cookie from now on
        assert page.status_code == 200 and "carol" in page.text and 'action="/logout"' in page.text
        assert browser.get(f"/models?token={'y' * 32}", headers={"accept": "text/html"}).status_code == 303
        signed_out = browser.post("/logout")
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
        assert browser.get("/models").status_code == 401


def test_the_sign_in_form(lab: tuple[str, Path]) -> None:
    base, tokens = lab
    with client(base) as browser:
        bad = browser.post("/login", data={"token": "z" * 32, "next": "/models"})
        assert bad.status_code == 401 and "not valid" in bad.text and 'value="/models"' in bad.text
        empty = browser.post("/login", data={"token": "", "next": "/models"})
        assert empty.status_code == 401 and "Enter your access token" in empty.text
        good = browser.post("/login", data={"token": token_of(tokens, "bob"), "next": "//evil.example/x"})
        assert good.status_code == 303 and good.headers["location"] == "/"  # never to another site
        assert browser.get("/models").status_code == 200


def test_removing_a_line_revokes_the_token_while_the_lab_runs(lab: tuple[str, Path]) -> None:
    base, tokens = lab
    bob = token_of(tokens, "bob")
    with client(base, bob) as script:
        assert script.get("/models").status_code == 200
        kept = [line for line in tokens.read_text().splitlines() if not line.startswith("bob ")]
        tokens.write_text("\n".join(kept) + "\n")
        assert script.get("/models").status_code == 401
    with client(base, token_of(tokens, "alice")) as alice:
        assert alice.get("/models").status_code == 200


def test_serve_refuses_a_bad_token_file_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "tokens.txt"
    bad.write_text("alice tooshort-token\n")
    done = subprocess.run([sys.executable, "-m", "explainlab", "serve", "--port", "1", "--access-tokens", str(bad)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and f"token file {bad}, line 1: a token is 20-256 characters" in done.stderr
    assert "tooshort" not in done.stderr
