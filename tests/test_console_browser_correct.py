"""A site manager corrects a misspelt name from the console in a real browser (headless Chromium) on the demo
(`kiosk collector demo`): from the registration's row on the events page to the form, the form sent, and the name
corrected on the events page and in the CSV the export page downloads.

The form is also a screenshot, in Chinese and English at a desktop's size, and so is the corrected row on the
events page. `KIOSK_SCREENSHOTS=1` keeps them as the README's pictures, docs/screenshots/console-correct-*.png:

    KIOSK_SCREENSHOTS=1 .venv/bin/pytest tests/test_console_browser_correct.py

else they go to the test's temporary folder (the checks run either way).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import DESKTOP, PHONE, Browser
from tests.test_console_demo import Demo

pytestmark = pytest.mark.slow  # the demo, Chromium
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
MISSPELT, RIGHT = "王芳", "汪芳"  # a registration of the demo's north gate (Joy City), and the name it should say


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


def registration_row(browser: Browser, name: str) -> str:
    """The event id of the registration by hand named `name` on /events?kind=manual (zh)."""
    browser.open("/events?kind=manual&lang=zh")
    row = browser.wait(lambda: next((tr for tr in browser.all("table.events tbody tr") if name in tr.text), None),
                       f"the registration of {name}")
    return str(row.get_attribute("data-id"))


def test_a_manager_corrects_a_misspelt_name_and_sees_it_on_the_events_page_and_in_the_csv(
        demo: Demo, browser: Browser, shots: Path) -> None:
    refused = browser.login("manager", demo.manager_password)
    assert refused == "", refused
    event_id = registration_row(browser, MISSPELT)
    link = browser.find(f"tr[data-id='{event_id}'] a.correct-link")
    href = str(link.get_attribute("href")).removeprefix(browser.base_url)
    for language, title in (("en", "Correct a registration"), ("zh", "更正人工登记")):  # zh last: the form used
        browser.size(*DESKTOP)
        browser.open(f"{href}&lang={language}")
        assert browser.text("h1") == title
        assert browser.find("input[name='field.name']").get_attribute("value") == MISSPELT
        wide = browser.js("return document.documentElement.scrollWidth;")
        assert isinstance(wide, int) and wide <= DESKTOP[0], f"the form is {wide} px wide"
        browser.screenshot(shots / f"console-correct-{language}-desktop.png")
    browser.size(*PHONE, phone=True)  # and on a phone: nothing to scroll sideways
    browser.open(f"{href}&lang=zh")
    wide = browser.js("return document.documentElement.scrollWidth;")
    assert isinstance(wide, int) and wide <= PHONE[0], f"the form is {wide} px wide on a phone"
    browser.size(*DESKTOP)
    browser.fill("input[name='field.name']", RIGHT)
    browser.fill("input[name=note]", "姓名录入错误")
    browser.submit("form.correct")
    assert browser.path.startswith("/events"), browser.path
    row = browser.text(f"tr[data-id='{event_id}']")
    assert RIGHT in row and MISSPELT in row and "console:manager" in row  # corrected, what it was, by whom
    assert browser.find(f"tr[data-id='{event_id}'] .was").text == MISSPELT
    browser.js("arguments[0].scrollIntoView({block: 'center'});", browser.find(f"tr[data-id='{event_id}']"))
    browser.screenshot(shots / "console-correct-events-zh-desktop.png")  # the row as the manager sees it now

    browser.open("/export?lang=zh")
    got = browser.download(lambda: browser.find("form.filters button[type=submit]").click(), ".csv")
    table = list(csv.reader(io.StringIO(got.read_text(encoding="utf-8-sig"))))
    head = table[0]
    mine = [r for r in table[1:] if r[head.index("编号")] == event_id]
    assert len(mine) == 1, head
    assert mine[0][head.index("姓名")] == RIGHT and mine[0][head.index("更正人")] == "console:manager"
    assert not any(cell == MISSPELT for r in table[1:] for cell in r)  # the misspelling shows nowhere
