"""Every page of the web console on the demo (`kiosk collector demo`), in Chinese and English, at a desktop's
size (1280x800) and a phone's (390x844), in headless Chromium: each page opens in its language, is no error
page, and on a phone nothing makes the page wider than the screen (no sideways scrolling).

Each view is also a screenshot. `KIOSK_SCREENSHOTS=1` keeps them as the README's pictures,
docs/screenshots/console-<page>-<zh|en>-<desktop|phone>.png:

    KIOSK_SCREENSHOTS=1 .venv/bin/pytest tests/test_console_browser_pages.py

else they go to the test's temporary folder (the checks run either way).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.console.totp import totp
from tests.browser import DESKTOP, PHONE, Browser
from tests.test_console_demo import Demo

pytestmark = pytest.mark.slow  # the demo, Chromium, 44 pages
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SIZES = {"desktop": DESKTOP, "phone": PHONE}
LANGUAGES = {"zh": "zh-CN", "en": "en"}
PAGES = {"overview": "/", "events": "/events", "export": "/export", "report": "/report", "trace": "/trace",
         "kiosks": "/kiosks", "kiosk": None, "trust": "/trust", "users": "/users", "trail": "/trail"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    started = Demo.start(tmp_path_factory.mktemp("demo") / "stderr.log")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    started = Browser.start(tmp_path_factory.mktemp("chromium"), demo.url)
    yield started
    started.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return SHOTS if os.environ.get("KIOSK_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")


def look(browser: Browser, shots: Path, page: str, language: str, size: str, show: str) -> None:
    """Show the page (`show` loads it at this size), check it, and take its picture."""
    width, height = SIZES[size]
    browser.size(width, height, phone=size == "phone")
    if show:
        browser.open(show)
    where = f"{page} in {language} on a {size}"
    assert browser.js("return document.documentElement.lang;") == LANGUAGES[language], where
    assert not browser.all("section.problem"), f"{where}: an error page: {browser.text('main')}"
    # Against the screen's width, not innerWidth: a phone zooms out to fit a page too wide, so innerWidth grows too.
    wide = browser.js("return document.documentElement.scrollWidth;")
    assert isinstance(wide, int) and wide <= width, f"{where}: the page is {wide} px wide on a {width} px screen"
    browser.screenshot(shots / f"console-{page}-{language}-{size}.png")


def with_language(path: str, language: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={language}"


def test_every_page_in_both_languages_at_both_sizes(demo: Demo, browser: Browser, shots: Path) -> None:
    for language in LANGUAGES:
        for size in SIZES:
            look(browser, shots, "login", language, size, with_language("/login", language))
    refused = browser.login("admin", demo.admin_password, totp(demo.admin_secret, time.time()))
    assert refused == "", refused
    browser.open("/kiosks")
    car_park = next(a for a in browser.all("table.events a") if "Car Park" in a.text).get_attribute("href")
    assert car_park is not None
    pages = {**PAGES, "kiosk": car_park.removeprefix(browser.base_url)}
    for language in LANGUAGES:
        for page, path in pages.items():
            for size in SIZES:
                assert path is not None
                if page == "trace":  # with an answer on it: the person the demo names, as a tracer asks
                    browser.size(*SIZES[size], phone=size == "phone")
                    browser.open(with_language(path, language))
                    browser.fill("input[name=subject]", demo.traced)
                    browser.fill("input[name=window]", "15")
                    browser.fill("input[name=case]", "DEMO-2026-001")
                    browser.submit("form.filters")
                    look(browser, shots, page, language, size, "")
                    continue
                look(browser, shots, page, language, size, with_language(path, language))
