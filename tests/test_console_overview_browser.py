"""The summary of many sites in a real browser (headless Chromium), as the city's manager meets it: in Chinese and
English, at a desktop's size and a phone's; on a phone each site is a card and nothing scrolls sideways; a site's
name opens its detail; the summary refreshes itself without a reload.

Each view is also a screenshot. `KIOSK_SCREENSHOTS=1` keeps them as the README's pictures,
docs/screenshots/console-overview-summary-<zh|en>-<desktop|phone>.png:

    KIOSK_SCREENSHOTS=1 .venv/bin/pytest tests/test_console_overview_browser.py

else they go to the test's temporary folder (the checks run either way).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser
from tests.console_web import PASSWORD, ConsoleSite, Scan, trust_folder
from tests.test_console_browser_pages import LANGUAGES, SHOTS, SIZES, look, with_language
from tests.test_console_overview_summary import LATE_AT, SILENT_AT, SITES, age_last_sync, expected, scans_of

pytestmark = pytest.mark.slow  # a collector, a dozen kiosks synced through `kiosk sync`, Chromium


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("console-summary-browser")
    console = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust_folder(folder / "trust"),
                                extra=("--timezone", "UTC"))
    try:
        now = console.origin = time.time()
        console.add_user("city", "manager")
        for i, site in enumerate(SITES):
            console.kiosk(f"k{i}", site, scans_of(i, now), name=f"Gate {i}")
        for key, site, name, silent in (("quiet", SILENT_AT, "Quiet Gate", 7200), ("late", LATE_AT, "Late", 1200)):
            kiosk = console.kiosk(key, site, [Scan(now - 1, subject="f" * 32)], name=name)
            age_last_sync(console.collector.db_url, kiosk.identity.id, silent)
        yield console
    finally:
        console.stop()


@pytest.fixture(scope="module")
def browser(city: ConsoleSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    started = Browser.start(tmp_path_factory.mktemp("chromium"), city.url)
    refused = started.login("city", PASSWORD)
    assert refused == "", refused
    yield started
    started.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return SHOTS if os.environ.get("KIOSK_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")


def whole_page(browser: Browser, path: Path, size: str) -> None:
    """The picture of the whole page, not one screen of it (the sites' rows run below): the screen made as tall."""
    width, height = SIZES[size]
    tall = browser.js("return document.documentElement.scrollHeight;")
    assert isinstance(tall, int)
    browser.size(width, min(tall, 3000), phone=size == "phone")
    browser.screenshot(path)
    browser.size(width, height, phone=size == "phone")


def shown_figures(browser: Browser, site: str) -> dict[str, int]:
    cells = browser.all(f'table.summary tr[data-site="{site}"] td[data-figure]')
    return {str(c.get_attribute("data-figure")): int(c.text.split()[-1]) for c in cells
            if c.get_attribute("data-figure") not in ("online", "problems")}


def test_the_summary_in_both_languages_at_both_sizes(city: ConsoleSite, browser: Browser, shots: Path) -> None:
    for language in LANGUAGES:
        for size in SIZES:
            look(browser, shots, "overview-summary", language, size, with_language("/", language))
            whole_page(browser, shots / f"console-overview-summary-{language}-{size}.png", size)
            rows = browser.all("table.summary tbody tr")
            assert len(rows) == len(SITES)
            header = browser.find("table.summary thead")
            if size == "phone":  # a card per site: no table head, each figure with its label beside it
                assert not header.is_displayed()
                assert browser.js("return getComputedStyle(arguments[0]).display;", rows[0]) == "grid"
            else:
                assert header.is_displayed()
            assert shown_figures(browser, SITES[4]) == expected(scans_of(4, city.origin))
    silent = [li.text for li in browser.all("ul.alerts li.alarm") if "Quiet Gate" in li.text]
    assert silent and silent[0].startswith(f"{SILENT_AT}: Quiet Gate")  # the last view was English


def test_a_sites_name_opens_its_detail_and_the_summary_refreshes_itself(city: ConsoleSite, browser: Browser) -> None:
    browser.size(*SIZES["desktop"])
    browser.open("/?lang=zh")
    browser.find(f'table.summary tr[data-site="{SILENT_AT}"] th a').click()
    browser.wait(lambda: browser.all(f'section.site[data-site="{SILENT_AT}"]'), "the site's detail")
    assert not browser.all("table.summary") and "Quiet Gate" in browser.text(f'section.site[data-site="{SILENT_AT}"]')
    browser.open("/")
    before = shown_figures(browser, SITES[2])
    browser.js("window.keptAcrossRefresh = 'still here';")  # gone if the page were loaded again
    city.kiosk("k2", SITES[2], [Scan(time.time() - 0.5, subject="e" * 32)])
    browser.js("document.dispatchEvent(new Event('visibilitychange'));")  # the page fetches its fragment at once
    browser.wait(lambda: shown_figures(browser, SITES[2])["scans"] == before["scans"] + 1, "the summary's new scan")
    assert browser.js("return window.keptAcrossRefresh;") == "still here", "the overview was loaded again"
