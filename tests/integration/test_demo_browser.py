"""`laneface demo --serve` as a person uses it: the demo's records behind the real service, the dashboard in
headless Chromium (Debian ``chromium`` + the ``playwright`` package, as in test_dashboard_browser.py).

The officer signs in with the demo's development key, sees the demo's passages, opens the history of a
traveller whose crossing was confirmed, and adjudicates an occupant with the live best shot and the enrolled
document photo side by side. Screenshots go to ``$LANEFACE_DASHBOARD_SHOTS`` when it is set (docs/img).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from live_server import serve
from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS_ENV, _unavailable
from typer.testing import CliRunner

from laneface.cli.app import app as cli_app
from laneface.cli.demo import demo_app
from laneface.config import load_settings
from laneface.models import ModelStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

LFW = Path(__file__).resolve().parents[3] / "shared" / "data" / "lfw" / "lfw-deepfunneled"
if not LFW.is_dir():
    pytest.skip(f"LFW not present at {LFW}", allow_module_level=True)
pytestmark = [pytest.mark.models, pytest.mark.shared]


@dataclass
class Demo:
    url: str
    officer: str
    auditor: str
    passage_ids: list[str]
    shots: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("demo")
    run = CliRunner().invoke(cli_app, ["--data-dir", str(data), "demo", "--passages", "4", "--lfw-dir", str(LFW)])
    assert run.exit_code == 0, run.output
    ids = [line.split()[0] for line in run.stdout.splitlines() if line.startswith("sim")]
    assert len(ids) == 4
    settings = load_settings(data_dir=data)
    app, keys = demo_app(settings, ModelStore.from_settings(settings))
    with serve(app) as url:
        yield Demo(url, keys["officer"], keys["auditor"], ids, tmp_path_factory.mktemp("demo_shots"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.is_file():
        _unavailable(f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=demo.url)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    try:
        yield pg
        assert not errors, errors
    finally:
        context.close()


def _shot(page: Page, demo: Demo, name: str) -> None:
    path = demo.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    target = os.environ.get(SHOTS_ENV)
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def _images_loaded(page: Page, scope: str, at_least: int = 1) -> None:
    page.wait_for_function(
        """([scope, n]) => {
            const imgs = [...document.querySelectorAll(`${scope} .thumb img`)];
            const loading = document.querySelectorAll(`${scope} .thumb-loading`).length;
            return imgs.length >= n && loading === 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
        }""",
        arg=[scope, at_least],
    )


def test_officer_sees_the_demo_opens_a_history_and_adjudicates_side_by_side(page: Page, demo: Demo) -> None:
    page.goto("/dashboard/#live")
    page.fill("#signin-key", demo.officer)
    page.click("#signin-submit")
    page.wait_for_selector("#view-live:not([hidden])")
    page.wait_for_selector("#live-list article.passage")
    shown = page.locator("#live-list .passage-id").all_inner_texts()
    # the demo's passages first (the latest), then the older crossings of the departing travellers' history
    assert sorted(shown[: len(demo.passage_ids)]) == sorted(demo.passage_ids)
    assert all(p.startswith("H-") for p in shown[len(demo.passage_ids) :])
    _images_loaded(page, "#live-list")
    _shot(page, demo, "demo-01-live")

    # a traveller the lane identified: the automatic confirmation is in the ledger
    match = page.locator("#live-list tr[data-decision=match]").first
    doc_id = match.locator("td").nth(4).inner_text().strip()
    assert doc_id.startswith("DOC")
    page.goto(f"/dashboard/#history/{doc_id}")
    page.wait_for_selector("#history-movements tbody tr")
    movements = page.locator("#history-movements tbody tr").evaluate_all("rows => rows.map(r => r.dataset.movement)")
    assert movements and set(movements) <= {"arrival", "departure"}
    _shot(page, demo, "demo-02-history")

    # adjudication: the live best shot beside the enrolled document photo, with score and threshold
    page.goto("/dashboard/#live")
    page.wait_for_selector("#live-list tr[data-decision=match]")
    row = page.locator("#live-list tr[data-decision=match]").first
    candidate = row.locator("td").nth(4).inner_text().strip()
    row.get_by_role("button", name="Adjudicate").click()
    page.locator("#review-dialog").wait_for(state="visible")
    _images_loaded(page, "#review-dialog", at_least=2)
    photos = page.locator("#review-photo img")
    assert photos.count() == 2
    assert photos.nth(1).get_attribute("data-document") == candidate
    assert "threshold" in page.locator("#review-score").inner_text()
    boxes = [photos.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and boxes[1]["x"] > boxes[0]["x"] + boxes[0]["width"] - 1
    _shot(page, demo, "demo-03-adjudication")
    page.check("input[name=decision][value=confirmed]")
    page.fill("#review-note", "Same person as the passport photo.")
    page.click("#review-submit")
    page.locator("#review-dialog").wait_for(state="hidden")

    events = httpx.get(
        f"{demo.url}/v1/audit-events",
        headers={"X-API-Key": demo.auditor},
        params={"action": "biometric.read", "limit": 1000},
    ).json()["items"]
    assert any(e["object_type"] == "document_photo" for e in events)
