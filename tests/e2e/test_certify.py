"""Certified maps in Chromium: after a run, "Certify maps" swaps in one row per model with the map, the share of
noisy maps that keep each pixel in the top set, the certified pixels and the radius; without JavaScript the same
form opens a page, as the sanity check's does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.xdist_group("e2e")

ROW = "#certify tr.certify-row"


def test_certify_the_runs_maps(page: Page, explained_run: str, shots: Path) -> None:
    run_url = explained_run
    page.locator("#certify-sigma").select_option("0.06")
    page.get_by_role("button", name="Certify maps").click()
    expect(page.locator(ROW)).to_have_count(3, timeout=60_000)
    expect(page).to_have_url(run_url)  # a fragment under the grid, the run's address kept
    heading = page.locator("#certified h2")
    expect(heading).to_contain_text("σ 0.06 · n 200")
    expect(page.locator("#certified")).to_contain_text(re.compile(r"R = 0\.040"))  # 0.06 * Phi^-1(0.75)
    for row in page.locator(ROW).all():
        expect(row.locator("dd.metric-certified")).to_have_text(re.compile(r"^\d+ %$"))
        expect(row.locator("dd.metric-important")).to_have_text(re.compile(r"^\d+ of 78$"))
        assert row.locator("img").count() == 4 and all(
            (img.get_attribute("src") or "").startswith("data:image/png") for img in row.locator("img").all()
        )
    page.locator("#certified").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "certified-maps.png"), full_page=True)


@pytest.mark.parametrize(("button", "path", "row"), [("Certify maps", "certify", "certify-row"),
                                                   ("Sanity check", "sanity-check", "sanity-row")])  # fmt: skip
def test_map_checks_without_javascript_open_a_page(
    browser: Browser, lab_url: str, button: str, path: str, row: str
) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(lab_url + "/")
    page.locator("#attack").select_option("none")
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{16}$"), timeout=60_000)
    page.get_by_role("button", name=button).click()
    expect(page).to_have_url(re.compile(rf"/runs/[0-9a-f]{{16}}/{path}$"), timeout=60_000)
    expect(page.locator(f"tr.{row}")).to_have_count(3)
    expect(page.get_by_role("link", name="← back to the run")).to_be_visible()
    context.close()
