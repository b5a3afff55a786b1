"""The lab's ``score`` switch in the browser: the same models and image explained on the logit and on the centered
logit; the prediction stays, the caption says what was explained, and the saliency term's model (lambda_e 0.5, whose
logits share a large component) shows another map."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.xdist_group("e2e")

ROW = "#result-grid tr.model-row"
MODELS = ("mnist-small_cnn-pgd_at-s0", "mnist-small_cnn-egat_saliency-s0")


def run(page: Page, score: str) -> dict[str, tuple[str, str]]:
    """Pick the score, Run, and return per model its saliency map's PNG and its predicted class."""
    page.locator('#method-params select[name="mp.score"]').select_option(score)
    previous = page.locator("#result-grid").get_attribute("data-run") if page.locator("#result-grid").count() else None
    page.get_by_role("button", name="Run").click()
    if previous:
        expect(page.locator("#result-grid")).not_to_have_attribute("data-run", previous, timeout=60_000)
    expect(page.locator(ROW)).to_have_count(2, timeout=60_000)
    out = {}
    for model_id in MODELS:
        row = page.locator(f'{ROW}[data-model="{model_id}"]')
        out[model_id] = (
            row.locator('img[alt="saliency"]').get_attribute("src") or "",
            row.locator(".pred-top").first.inner_text(),
        )
    return out


def test_the_centered_logit_switch(page: Page, lab_url: str, shots) -> None:
    page.goto(lab_url + "/")
    checked = page.locator('input[name="models"]:checked')
    while checked.count():
        checked.first.uncheck()
    page.locator('input[name="models"][value="mnist-small_cnn-pgd_at-s0"]').check()
    mnist = page.locator(".model-group").filter(has_text="mnist").first
    mnist.locator("details.variants summary").click()
    page.locator('input[name="models"][value="mnist-small_cnn-egat_saliency-s0"]').check()
    page.locator('label.thumb[title^="mnist-"]').nth(3).click()
    page.locator("#method").select_option("saliency")
    expect(page.locator('#method-params select[name="mp.score"]')).to_have_value("logit")
    page.locator("#attack").select_option("none")

    logit = run(page, "logit")
    expect(page.locator("#result")).not_to_contain_text("centered logit")
    centered = run(page, "centered_logit")
    expect(page.locator("#result")).to_contain_text("of the centered logit")
    page.screenshot(path=str(shots / "lab-centered-logit.png"), full_page=True)
    for model_id in MODELS:
        assert centered[model_id][1] == logit[model_id][1]  # the same prediction: softmax ignores a shared shift
    assert centered["mnist-small_cnn-egat_saliency-s0"][0] != logit["mnist-small_cnn-egat_saliency-s0"][0]
