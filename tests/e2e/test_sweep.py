"""An ε sweep from the lab on the shipped zoo: started from an attack's grid, followed live (server-sent events),
drawn as top-k ∩ against ε per model with flipped predictions hollow, each point a link to that budget's grid; and
the same without JavaScript, on the job's own page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.xdist_group("e2e")

DONE = '#sweep section.sweep[data-state="done"]'


def test_sweep_from_the_grid_draws_one_line_per_model(page: Page, lab_url: str, shots: Path) -> None:
    page.goto(lab_url + "/")
    page.locator("#method").select_option("saliency")
    page.get_by_role("button", name="Run").click()  # the default comparison: natural, pgd_at, egat under PGD
    expect(page.locator("#result-grid tr.model-row")).to_have_count(3, timeout=60_000)
    page.locator("#sweep-eps").click()
    expect(page.locator("#sweep progress")).to_have_count(1, timeout=30_000)  # live progress while it runs
    expect(page.locator(DONE)).to_be_visible(timeout=120_000)
    chart = page.locator('#sweep figure[data-chart="sweep"]')
    expect(chart.locator("g.series")).to_have_count(3)
    # ε = 0 and the six budgets 0.25-2 times the run's 0.3; the run's own budget is marked
    expect(chart.locator('g.series[data-model="mnist-small_cnn-natural-s0"] circle')).to_have_count(7)
    expect(chart.locator(".threat-label")).to_have_text("ε = 0.3")
    expect(page.locator("#sweep .sweep-table tbody tr")).to_have_count(6)
    # at twice the threat model's budget PGD flips natural training's prediction: drawn hollow, red in the table
    expect(chart.locator('g.series[data-model="mnist-small_cnn-natural-s0"] circle.hollow').first).to_be_visible()
    expect(page.locator('#sweep .sweep-table tr[data-eps="0.6"] td.flipped').first).to_be_visible()
    page.screenshot(path=str(shots / "lab-sweep.png"), full_page=True)
    chart.locator('g.series[data-model="mnist-small_cnn-pgd_at-s0"] a').last.click()  # the point at ε = 0.6
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{16}$"))
    expect(page.locator("#result-grid h2")).to_contain_text("ε 0.6")


def test_without_javascript_the_job_page_follows_the_sweep(browser: Browser, lab_url: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(lab_url + "/")
    page.get_by_role("button", name="Run").click()  # the form posts and lands on the run's permalink
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{16}$"), timeout=60_000)
    page.locator("#sweep-eps").click()  # a plain form post: 303 to the job's page, which reloads until done
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f]{16}$"))
    expect(page.locator('section.sweep[data-state="done"]')).to_be_visible(timeout=120_000)
    expect(page.locator('figure[data-chart="sweep"] g.series')).to_have_count(3)
    context.close()
