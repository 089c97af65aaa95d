"""The explorer page in headless Chromium (Debian's /usr/bin/chromium) driven with Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXPLORER_VARIANTS
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Milliseconds to wait for a request to come back and the page to update.
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def page(explorer_url):
    if not CHROMIUM.is_file() and shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        # Only the local server may be contacted; Gradio's theme would otherwise wait on web fonts.
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(explorer_url) else route.abort(),
        )
        page.goto(explorer_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name="Compare").wait_for()
        yield page
        browser.close()


def _gallery_images(page, elem_id: str):
    return page.locator(f"#{elem_id} img")


def test_page_loads_with_run(page):
    run_box = page.get_by_label("Run")
    assert run_box.input_value() == "smoke"
    assert page.get_by_text("No runs found").count() == 0


def test_compare_default_variants(page):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-button").click()
    status = page.locator("#compare-status")
    status.get_by_text("disagree on").wait_for()
    # none and the best three variants of the smoke run: four overlays.
    images = _gallery_images(page, "compare-overlays")
    images.nth(3).wait_for()
    assert images.count() == 4
    assert page.locator("#compare-table").get_by_text("per-image mIoU").count() == 1


def test_compare_uploaded_photo(page, voc_root):
    photo = next((voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg"))
    page.locator("#compare-upload input[type=file]").set_input_files(str(photo))
    page.locator("#compare-upload").get_by_text(photo.name).wait_for()
    page.locator("#compare-button").click()
    with Image.open(photo) as image:
        width, height = image.size
    page.locator("#compare-status").get_by_text(f"on a {width} x {height} image").wait_for()
    assert page.locator("#compare-table").inner_text().strip() == ""


def test_compare_bad_upload_message(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    page.locator("#compare-upload").get_by_label("Clear").click()
    page.locator("#compare-upload input[type=file]").set_input_files(str(bad))
    page.locator("#compare-upload").get_by_text("notes.png").wait_for()
    page.locator("#compare-button").click()
    page.locator("#compare-status").get_by_text("is not an image file").wait_for()
    assert "Traceback" not in page.content()


def test_timeline_slider_and_variants(page):
    page.get_by_role("tab", name="Timeline").click()
    status = page.locator("#timeline-status")
    status.get_by_text("Epoch 2").wait_for()

    number = page.locator("#timeline-epoch input[type=number]")
    # Opening the tab moves the slider to the last finished epoch when the variant list arrives,
    # which can land after the first status and undo an early entry, so the entry is repeated
    # until the page settles on it.
    for _ in range(3):
        number.fill("1")
        number.press("Enter")
        try:
            status.get_by_text("Epoch 1").wait_for(timeout=20_000)
            break
        except PlaywrightTimeoutError:
            continue
    status.get_by_text("Epoch 1").wait_for(timeout=1_000)
    # The gallery re-renders after the status, so its captions are awaited rather than read once.
    page.wait_for_function("() => document.querySelector('#timeline-frames').innerText.includes('epoch 1')")

    # Remove every selected variant but one: rows shrink to ground truth plus one variant.
    frames = _gallery_images(page, "timeline-frames")
    before = frames.count()
    remove = page.locator("#timeline-variants .token .token-remove")
    while remove.count() > 1:
        remove.first.click()
    page.wait_for_function(
        "count => document.querySelectorAll('#timeline-frames img').length < count", arg=before
    )
    tracked = before // (1 + len(EXPLORER_VARIANTS))
    page.wait_for_function(
        "count => document.querySelectorAll('#timeline-frames img').length === count", arg=2 * tracked
    )


def test_ranked_and_results_tabs(page):
    page.get_by_role("tab", name="Best and worst").click()
    page.locator("#ranked-button").click()
    page.locator("#ranked-status").get_by_text("rows are the best").wait_for()
    assert _gallery_images(page, "ranked-gallery").count() >= 9

    page.get_by_role("tab", name="Results").click()
    table = page.locator("#results-table")
    table.get_by_text("pretrained-base").wait_for()
    assert table.get_by_text("all-chandrop-sched").count() >= 1
