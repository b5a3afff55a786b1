"""Click through the real lab in headless Chromium: gallery, three-model attack, ε slider, permalink, export, upload.

Screenshots go to tests/e2e/screenshots/ (gitignored); `make screenshots` copies the tour's into docs/screenshots/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api import images

pytestmark = pytest.mark.xdist_group("e2e")

ROW = "#result-grid tr.model-row"


def run_id(page: Page) -> str:
    return page.locator("#result-grid").get_attribute("data-run") or ""


def test_three_model_attack_slider_permalink_export(page: Page, lab_url: str, shots: Path, tmp_path: Path) -> None:
    page.goto(lab_url + "/")
    expect(page.locator("h2")).to_contain_text("Pick an image")
    checked = page.locator('input[name="models"]:checked')
    expect(checked).to_have_count(3)  # the default comparison: natural vs pgd_at vs egat (or the next model)
    page.locator('label.thumb[title^="mnist-"]').nth(7).click()
    expect(page.locator("#attack")).to_have_value("pgd")
    expect(page.locator("#method")).to_have_value("integrated_gradients")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(ROW)).to_have_count(3, timeout=60_000)
    first = run_id(page)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert page.url.endswith(f"/runs/{first}")  # htmx pushed the permalink
    rows = page.locator(ROW)
    for i in range(3):
        row = rows.nth(i)
        expect(row.locator("img.cell")).to_have_count(5)
        expect(row.locator(".metric-topk")).to_have_text(re.compile(r"^\d+ %$"))
        expect(row.locator(".badge").first).to_be_visible()
    page.screenshot(path=str(shots / "lab-attack-three-models.png"), full_page=True)

    # the robust models keep their label at eps 0.3 far more often than the natural one: the natural row flips
    natural = page.locator(f'{ROW}[data-model*="natural"]')
    if natural.count():
        expect(natural.locator('[data-code="prediction_flipped"]')).to_have_count(1)

    # move the epsilon slider: a new run replaces the grid after the debounce
    slider = page.locator("#eps-slider")
    slider.focus()
    for _ in range(12):
        slider.press("ArrowLeft")
    expect(page.locator("#eps-value")).not_to_have_text("0.300")
    expect(page.locator("#result-grid")).not_to_have_attribute("data-run", first, timeout=60_000)
    second = run_id(page)
    eps_shown = float(page.locator("#eps-value").inner_text())
    expect(page.locator("#result-grid h2")).to_contain_text(f"ε {eps_shown:.4g}"[:5])
    page.screenshot(path=str(shots / "lab-after-slider.png"), full_page=True)

    # open the permalink of the first run: the same grid, from the store
    page.goto(f"{lab_url}/runs/{first}")
    expect(page.locator(ROW)).to_have_count(3)
    assert run_id(page) == first

    # export the grid as PNG and the numbers as JSON
    with page.expect_download() as download:
        page.locator("#export-png").click()
    png = tmp_path / "grid.png"
    download.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as download:
        page.locator("#export-json").click()
    exported = tmp_path / "run.json"
    download.value.save_as(exported)
    record = json.loads(exported.read_text())
    assert record["response"]["run_id"] == first and len(record["response"]["rows"]) == 3
    assert second != first


def test_upload_explain_only(page: Page, lab_url: str, shots: Path, tmp_path: Path) -> None:
    picture = tmp_path / "digit-on-paper.png"
    picture.write_bytes(images.encoded("PNG", (300, 300)))  # a dark ring on a light page, any size
    page.goto(lab_url + "/")
    page.locator("#upload").set_input_files(str(picture))
    expect(page.locator('input[name="source"][value="upload"]')).to_be_checked()
    page.locator("#attack").select_option("none")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(ROW)).to_have_count(3, timeout=60_000)
    expect(page.locator("#result-grid")).to_have_attribute("data-kind", "explain")
    page.screenshot(path=str(shots / "lab-upload-explain.png"), full_page=True)


def test_bad_upload_shows_the_error(page: Page, lab_url: str, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    page.goto(lab_url + "/")
    page.locator("#upload").set_input_files(str(text))
    page.get_by_role("button", name="Run").click()
    expect(page.locator(".error-box")).to_contain_text("PNG, JPEG or WebP", timeout=30_000)


def test_method_select_swaps_params(page: Page, lab_url: str) -> None:
    page.goto(lab_url + "/")
    page.locator("#method").select_option("smoothgrad")
    expect(page.locator('#method-params input[name="mp.samples"]')).to_have_count(1)
    page.locator("#attack").select_option("topk")
    expect(page.locator('#attack-params input[name="ap.k"]')).to_have_count(1)


def test_works_without_javascript(browser, lab_url: str, shots: Path) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(lab_url + "/")
    page.get_by_role("button", name="Run").click()  # the form posts; the answer redirects to the permalink
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{16}$"), timeout=60_000)
    expect(page.locator(ROW)).to_have_count(3)
    context.close()


def test_models_and_leaderboard_pages(page: Page, lab_url: str, shots: Path) -> None:
    page.goto(lab_url + "/models")
    expect(page.locator("article.card").first).to_be_visible()
    expect(page.locator("h2").first).to_have_text("mnist")  # the lab's dataset first, then the others
    seed1 = page.locator('article.card[data-model="mnist-small_cnn-pgd_at-s1"]')
    expect(seed1.locator("code.model-id")).to_have_text("pgd_at-s1")  # seeds share a title; the id tells them apart
    # a gradient-masking warning that the stronger-attack re-run silenced is shown as explained, not as a failure
    explained = page.locator('article.card[data-model="mnist-small_cnn-ig_norm_scratch-s0"] .badge')
    expect(explained).to_have_attribute("data-code", "masking_explained")
    expect(explained).to_contain_text("silent under stronger attacks")
    # ... and one whose black-box breaks the stronger white-box attacks reproduce (bench/black_box_points.py --write)
    nearby = page.locator('article.card[data-model="mnist-small_cnn-trades-s1"] .badge[data-code="masking_explained"]')
    expect(nearby).to_contain_text("also fall to stronger white-box attacks")
    # the robustness curves from the shipped reports' eps sweeps: one line per main model, five budgets on the axis
    # (0, eps/4, eps/2, eps, 2 eps; the full box is a note), each point's number on hover
    curves = page.locator('figure[data-chart="robustness"]').first
    pgd_at = curves.locator('g.series[data-model="mnist-small_cnn-pgd_at-s0"]')
    expect(pgd_at.locator("circle")).to_have_count(5)
    expect(pgd_at.locator("circle title").nth(3)).to_have_text("pgd_at: ε 0.3 → 92.5 %")
    expect(curves.locator('g.series[data-model="mnist-small_cnn-pgd_at-s1"]')).to_have_count(0)  # a variant
    expect(curves.locator(".chart-legend li")).to_have_count(10)
    # beside it, how much of each main model's saliency map the label-keeping top-k attack leaves (map_curve.json)
    maps = page.locator('figure[data-chart="maps"]').first
    expect(maps.locator('g.series[data-model="mnist-small_cnn-pgd_at-s0"] circle')).to_have_count(5)
    expect(maps.locator(".chart-legend li")).to_have_count(10)
    expect(maps.locator(".chart-note")).to_contain_text("Ghorbani's top-k attack")
    page.screenshot(path=str(shots / "models.png"), full_page=True)
    page.locator("article.card h3 a").first.click()
    expect(page.locator("h2").first).to_have_text("Robustness")
    # a model's own page draws it bold against the dataset's main natural and PGD-AT models
    variant = "mnist-small_cnn-egat_saliency_l0.2-s1"
    page.goto(lab_url + f"/models/{variant}")
    accuracy = page.locator('figure[data-chart="robustness"]')
    expect(accuracy.locator("g.series.emphasis")).to_have_attribute("data-model", variant)
    expect(accuracy.locator(".chart-legend li")).to_have_count(4)  # natural, pgd_at, egat (its method), itself
    expect(page.locator('figure[data-chart="maps"] g.series.emphasis')).to_have_count(1)
    # a fired gradient-masking check next to the stronger-attack re-run that explains it, and every check's numbers
    page.goto(lab_url + "/models/mnist-small_cnn-ig_norm_scratch-s0")
    expect(page.locator("[data-strong]")).to_contain_text("worst case 32.1 %")
    expect(page.locator("[data-strong] .badge")).to_have_text("no check fired")
    page.locator("details.checks > summary").click()
    expect(page.locator("details.checks tr[data-check]")).to_have_count(6)
    expect(page.locator('tr[data-check="black_box_stronger"] .badge')).to_have_text("fired")
    expect(page.locator('tr[data-check="eps_not_monotone"] .badge')).to_have_text("silent")
    # a report says which classes its test images cover (CIFAR-10's first 1000 are 100 of each since the fix)
    page.goto(lab_url + "/models/cifar10-resnet20-egat_saliency-s0")
    expect(page.locator("[data-class-counts]")).to_have_text("the 1000 test images: 10 of 10 classes, 100 images each")
    expect(page.locator('[data-code="one_class"]')).to_have_count(0)
    page.goto(lab_url + "/leaderboard")
    expect(page.locator("table.board").first).to_be_visible()
    page.screenshot(path=str(shots / "leaderboard.png"), full_page=True)  # the README tour's, folds closed
    # one model per method in view, under its short id; the seeds, sweeps and controls fold under the table
    expect(page.locator('tr[data-model="mnist-small_cnn-pgd_at-s0"] code.model-id')).to_have_text("pgd_at")
    variant = page.locator('tr[data-model="mnist-small_cnn-pgd_at-s1"]')
    expect(variant).to_be_hidden()
    page.locator('details.board-variants[data-dataset="mnist"]:not(.claims-more) > summary').click()
    expect(variant).to_be_visible()
    # the papers' claims, from the shipped reports: RAR's natural-vs-Madry top-k gap is 15 points at n ~ 500
    claim = page.locator('tr[data-claim="topk_intersection:mnist-small_cnn-pgd_at-s0:mnist-small_cnn-natural-s0"]')
    expect(claim.locator(".badge")).to_have_text("holds")
    expect(page.locator("table.claims tbody tr").first).to_be_visible()
    # a second seed's claim row names its seed and compares with the reference's same seed; it is folded with the
    # other variants' comparisons under the main models' claims
    seed1 = page.locator('tr[data-claim="worst:mnist-small_cnn-egat_saliency_l0.2-s1:mnist-small_cnn-pgd_at-s1"]')
    expect(seed1).to_be_hidden()
    page.locator('details.claims-more[data-dataset="mnist"] > summary').click()
    expect(seed1).to_be_visible()
    expect(seed1.locator("td").nth(3).locator("a")).to_have_text("egat_saliency_l0.2-s1")
    # ... and the seeds' mean is a row of its own, not a link to one model
    pooled_key = "worst:mnist-small_cnn-egat_saliency_l0.2-s0+s1:mnist-small_cnn-pgd_at-s0+s1"
    pooled = page.locator(f'tr[data-claim="{pooled_key}"]')
    expect(pooled.locator("td").nth(4)).to_contain_text("pgd_at (mean of s0, s1)")
    expect(pooled.locator("td").nth(4).locator("a")).to_have_count(0)
    expect(pooled.locator("td").nth(4).locator(".seeds")).to_have_text("(87.5 / 87.8)")  # the seeds' own numbers
    expect(pooled.locator("td").nth(5).locator(".seed-error")).to_have_text("+ seeds")  # its error counts the seeds
    # its seed-1 pair's reports come from an AMD and an Intel CPU; RAR's attack moves with the kernels: the row says so
    expect(pooled.locator("td").nth(5).locator(".mixed-cpus")).to_have_text("mixed CPUs")
    same_cpu = 'tr[data-claim="topk_intersection:cifar10-resnet20-pgd_at-s0:cifar10-resnet20-natural-s0"]'
    expect(page.locator(same_cpu).locator(".mixed-cpus")).to_have_count(0)
    # both reports keep per-image results: the error of the difference is the paired one, and says so
    paired = page.locator('tr[data-claim="worst:mnist-small_cnn-egat_saliency_l0.2-s0:mnist-small_cnn-pgd_at-s0"]')
    expect(paired.locator("td").nth(5).locator(".paired")).to_have_text("paired")
    expect(paired.locator("td").nth(5).locator(".seed-error")).to_have_count(0)  # one seed a side: images only
    # the zoo ships six PGD-AT seeds: their spread is listed next to the claims it qualifies
    pgd_at_seeds = page.locator('table.seeds tr[data-recipe="mnist-small_cnn-pgd_at"] td').nth(1)
    expect(pgd_at_seeds).to_have_text("0, 1, 2, 3, 4, 5")


def test_api_docs_render_offline(page: Page, lab_url: str) -> None:
    page.goto(lab_url + "/docs")  # Swagger UI from static/vendor: the browser under test has no internet
    expect(page.locator(".swagger-ui .opblock-summary-path", has_text="/explain").first).to_be_visible(timeout=30_000)
    expect(page.locator(".swagger-ui .opblock-summary-path", has_text="/attack").first).to_be_visible()


def test_draw_a_digit(page: Page, lab_url: str, shots: Path) -> None:
    page.goto(lab_url + "/")
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + 0.5 * w, y0 + 0.15 * h)  # a "1": one vertical stroke
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x0 + 0.5 * w, y0 + (0.15 + 0.07 * step) * h)
    page.mouse.up()
    expect(page.locator('input[name="source"][value="draw"]')).to_be_checked()
    assert page.locator("#drawing").input_value().startswith("data:image/png;base64,")
    page.locator("#attack").select_option("none")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(ROW)).to_have_count(3, timeout=60_000)
    predicted = page.locator(f"{ROW} .pred-top b").all_inner_texts()
    assert predicted.count("1") >= 2, predicted  # a drawn stroke reads as a one for most models
