"""The sanity check in Chromium: after a run, "Sanity check" swaps in one row per model with the trained map, the
map after each layer is randomized (output first) with its similarity, the runner-up class's map and the flags; then
the independent order (the page without JavaScript: test_certify.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.xdist_group("e2e")

ROW = "#sanity tr.sanity-row"
STAGES = ["trained", "fc2", "fc1", "conv2", "conv1"]  # SmallCNN


def test_sanity_check_the_runs_maps(page: Page, explained_run: str, shots: Path) -> None:
    run_url = explained_run
    if page.locator("#sanity-method").count():
        page.locator("#sanity-method").select_option("saliency")
    page.get_by_role("button", name="Sanity check").click()
    expect(page.locator(ROW)).to_have_count(3, timeout=60_000)
    expect(page).to_have_url(run_url)  # a fragment under the grid, the run's address kept
    expect(page.locator("#sanity-check h2")).to_contain_text("cascading · saliency")
    for row in page.locator(ROW).all():
        stages = row.locator(".stages figure.stage")
        assert [s.get_attribute("data-stage") for s in stages.all()] == STAGES
        expect(stages.nth(4).locator("dd.metric-topk")).to_have_text(re.compile(r"^\d+ %$"))
        expect(row.locator('figure[data-stage="other class"] figcaption')).to_contain_text("explains")
        expect(row.locator("td.verdicts .badge").first).to_be_visible()
        images = row.locator("img").all()
        assert len(images) == 7 and all((i.get_attribute("src") or "").startswith("data:image/png") for i in images)
    # the natural model's map follows its weights; a robust model's is drawn by its first layer (docs/sanity_checks.md)
    natural = page.locator(f'{ROW}[data-model*="-natural-"]')
    expect(natural.locator('[data-code="follows_weights"]')).to_be_visible()
    page.locator("#sanity-check").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "sanity-check.png"), full_page=True)
    page.locator("#sanity-order").select_option("independent")
    page.get_by_role("button", name="Sanity check").click()
    expect(page.locator("#sanity-check h2")).to_contain_text("independent", timeout=60_000)
    expect(page.locator(f"{ROW} .stages figcaption").nth(1)).to_have_text("fc2")
