"""The lab's model picker on the shipped zoo: one model per method in view, the rest (seeds, sweeps, longer runs,
controls) folded away under their short names, and a variant picked for a run stays in view on its permalink."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.xdist_group("e2e")

ROW = "#result-grid tr.model-row"
VARIANT = "mnist-small_cnn-egat_saliency_l0.1_e16-s1"


def test_picker_folds_variants_and_reopens_them_on_the_permalink(page: Page, lab_url: str) -> None:
    page.goto(lab_url + "/")
    mnist = page.locator(".model-group").filter(has_text="mnist").first
    in_view = mnist.locator(":scope > label.model-pick")
    names = [re.split(r"\s", text.strip())[0] for text in in_view.all_inner_texts()]
    assert len(names) == len(set(names)) >= 9  # one model per method: natural, l1, pgd_at, ..., ig_sum_norm
    assert "pgd_at" in names and "egat" in names and "ig_norm_scratch" in names  # from scratch before a fine-tune
    variants = mnist.locator("details.variants")
    expect(variants).not_to_have_attribute("open", "")
    pick = variants.locator(f'input[value="{VARIANT}"]')
    expect(pick).to_be_hidden()
    variants.locator("summary").click()
    expect(pick).to_be_visible()
    label = variants.locator("label.model-pick", has=page.locator(f'input[value="{VARIANT}"]'))
    expect(label).to_contain_text("egat_saliency_l0.1_e16-s1")
    expect(label).to_contain_text(re.compile(r"PGD \d+ % · top-k \d+ %"))

    pick.check()
    mnist.locator('input[value="mnist-small_cnn-egat-s0"]').uncheck()
    page.locator("#attack").select_option("none")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(ROW)).to_have_count(3, timeout=60_000)
    expect(page.locator(f'{ROW}[data-model="{VARIANT}"]')).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{16}$"))

    page.reload()  # the permalink's page: the picked variant is shown checked, its group unfolded
    variants = page.locator(".model-group").filter(has_text="mnist").first.locator("details.variants")
    expect(variants).to_have_attribute("open", "")
    expect(variants.locator(f'input[value="{VARIANT}"]')).to_be_checked()
