"""Each kind of report in a real browser: headless Chromium (Debian's ``chromium`` package, driven
by Playwright's Python package; never Playwright's own browser download) opens the file with every
network request refused. No console errors, every section visible, every figure drawn (plotly's
``.main-svg``), no script from the data ran, and a screenshot is saved in the test's folder."""

from __future__ import annotations

import shutil

import pytest

from envfoundry.report import SECTION_IDS, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL = ("`make report-deps` installs it as root on Debian/Ubuntu (apt-get install chromium); the tests use the "
           "system browser, never `playwright install`")  # fmt: skip


def browser_driver():
    """Playwright's ``sync_playwright``; the test is skipped, saying how to install them, when
    Chromium or Playwright is missing (``make test`` installs both)."""
    pytest.importorskip("plotly", reason="the report needs plotly (pip install -e '.[report]')")
    if CHROMIUM is None:
        pytest.skip(f"headless Chromium is not installed: {INSTALL}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"Playwright's Python package is not installed (pip install -e '.[dev]'); {INSTALL}")
    return sync_playwright


@pytest.mark.parametrize("kind", ["train_run", "archive_run", "eval_file", "evolve_run"])
def test_the_report_renders_in_headless_chromium_without_errors(kind, request, tmp_path):
    sync_playwright = browser_driver()  # before the run is made: a skip costs nothing
    report = write_report(request.getfixturevalue(kind), tmp_path / "report.html")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            shot = open_and_check(browser, report, tmp_path / f"report-{kind}.png")
        finally:
            browser.close()
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def open_and_check(browser, report, shot):
    """Open ``report`` offline, check it as the module's docstring says, screenshot it to ``shot``."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems, fetched = [], []
    page.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def offline(route):  # the report must need nothing but its own file
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(report.as_uri(), wait_until="load")
    figures = page.locator(".plotly-graph-div")
    assert figures.count() > 0
    # plotly draws each figure's SVG as the page loads; wait until every one has it.
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.plotly-graph-div'))
                                     .every(div => div.querySelector('.main-svg'))""", timeout=30_000)  # fmt: skip
    for section_id in SECTION_IDS:
        assert page.locator(f"section#{section_id}").is_visible(), section_id
        assert page.locator(f"section#{section_id} > h2").is_visible(), section_id
        body = page.locator(f"section#{section_id} > :not(h2)").first  # a figure, a table or the one line
        assert body.is_visible(), section_id
    for index in range(figures.count()):
        assert figures.nth(index).locator(".main-svg").count() >= 1
        assert figures.nth(index).bounding_box()["height"] > 100
    assert page.evaluate("window.__pwned") is None, "markup from the data ran in the page"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert not problems, problems
    assert not fetched, fetched
    return shot
