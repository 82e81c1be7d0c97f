"""The /report page in headless Chromium (Debian's chromium and chromium-driver, driven through
selenium): it renders without console errors, and a screenshot is kept as a test artefact
(tests/artefacts/report.png, git-ignored)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from log_importer.loggen import generate

from .calls import SITES, TOKEN

ARTEFACTS = Path(__file__).resolve().parent.parent / "artefacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,2000")


@pytest.fixture
def browser():
    """A headless Chromium with a fresh profile; stopped after the test."""
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium and "
                    "chromium-driver (see the Makefile)")
    profile = tempfile.mkdtemp(prefix="report-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + ("--user-data-dir=" + profile,):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def imported(ep, lines=3000):
    """Import a generated log into `ep` with log-importer (as `make demo` does)."""
    from log_importer.cli import main as importer_main

    path = Path(tempfile.mkdtemp(prefix="report-log-")) / "access.log"
    try:
        path.write_bytes(b"".join(text + b"\n" for text in generate(lines, "combined", 3, False)))
        state = path.parent / "state"
        assert importer_main(["--url", ep.url, "--token-auth", TOKEN, "--idsite", "1",
                              "--state-dir", str(state), str(path)]) == 0
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def test_the_report_page_renders_in_chromium_without_console_errors(make_endpoint, browser):
    ep = make_endpoint(sites=SITES)
    imported(ep)
    browser.get(ep.url + "/report")
    assert browser.title == "Tracking endpoint report"
    body = browser.find_element("tag name", "body").text
    for heading in ("Visits and actions per day", "Channels", "Top pages", "Site search keywords",
                    "Events", "Goals and ecommerce", "Bots excluded"):
        assert heading in body
    bars = browser.find_elements("css selector", "svg rect.day")
    assert bars and all(b.size["width"] > 0 for b in bars)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_console_error_would_be_seen(make_endpoint, browser):
    """The check above can fail: a page that loads a missing resource logs an error."""
    ep = make_endpoint()
    browser.get(ep.url + "/nothing-here")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors and "404" in errors[0]["message"]
