"""Demo access in Chromium: a visitor without a token lands on the sign-in page, signs in, runs the lab through htmx,
is sent back to sign in when the host revokes the token mid-session, and signs out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from explainlab.access_tokens import add_token
from tests.live_server import REPO, live_server

pytestmark = pytest.mark.xdist_group("e2e")

ROW = "#result-grid tr.model-row"


@pytest.fixture(scope="module")
def shared_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    runs = tmp_path_factory.mktemp("e2e-access")
    tokens = runs / "tokens.txt"
    names = {name: add_token(tokens, name) for name in ("board", "dana")}
    env = {"EXPLAINLAB_MODELS": str(REPO / "models"), "EXPLAINLAB_RUNS_DIR": str(runs),
           "EXPLAINLAB_ACCESS_TOKENS": str(tokens)}  # fmt: skip
    with live_server(env, runs / "server.log") as base:
        yield base, tokens, names


def test_sign_in_run_revoke_and_sign_out(page: Page, shared_lab: tuple[str, Path, dict[str, str]], shots: Path) -> None:
    base, tokens, names = shared_lab
    page.goto(base + "/models")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmodels$"))
    page.get_by_label("Access token").fill("not-the-token-not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-box")).to_contain_text("not valid")
    page.screenshot(path=str(shots / "sign-in.png"))
    page.get_by_label("Access token").fill(names["board"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/models")
    expect(page.locator(".signed-in")).to_contain_text("board")

    page.goto(base + "/")
    page.locator("#attack").select_option("none")
    page.get_by_role("button", name="Run").click()  # htmx, with the cookie
    expect(page.locator(ROW)).to_have_count(3, timeout=60_000)
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{16}$"))
    run_path = page.url.removeprefix(base)

    tokens.write_text(f"dana {names['dana']}\n")  # the host revokes 'board' while the page is open
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fruns%2F[0-9a-f]{16}$"))
    page.get_by_label("Access token").fill(names["dana"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + run_path)  # back on the permalink, as the new user
    expect(page.locator(ROW)).to_have_count(3)
    expect(page.locator(".signed-in")).to_contain_text("dana")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base + "/login")
    page.goto(base + "/leaderboard")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fleaderboard$"))
