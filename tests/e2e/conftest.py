"""End-to-end world: the real server on the shipped zoo, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import SHARED_DATA
from tests.live_server import REPO, live_server

SCREENSHOTS = Path(os.environ.get("EXPLAINLAB_SCREENSHOTS", REPO / "tests" / "e2e" / "screenshots"))
CHROMIUM = os.environ.get("EXPLAINLAB_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the .ci/run script does)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"],
    }  # fmt: skip


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}, "accept_downloads": True}


@pytest.fixture(scope="session")
def lab_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    runs = tmp_path_factory.mktemp("e2e-runs")
    env = {"EXPLAINLAB_MODELS": str(REPO / "models"), "EXPLAINLAB_RUNS_DIR": str(runs)}
    env["EXPLAINLAB_DATA"] = str(SHARED_DATA)  # the real test sets, for test-set runs
    with live_server(env, runs / "server.log") as base:
        yield base


@pytest.fixture(scope="session")
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def explained_run(page: Page, lab_url: str) -> str:
    """The lab's default models and map on the default image, explained without an attack; the run's address."""
    page.goto(lab_url + "/")
    page.locator("#attack").select_option("none")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#result-grid tr.model-row")).to_have_count(3, timeout=60_000)
    return page.url
