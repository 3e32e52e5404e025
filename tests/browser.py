"""A real browser for the console's tests: the distribution's headless Chromium driven by Selenium.

    browser = Browser.start(tmp_path, base_url)      # one per test module: starting Chromium takes a second or two
    browser.login("ann", PASSWORD)                   # through the login form, as a person signs in
    browser.open("/events?verdict=deny")
    browser.text("table.events")                     # what a person reads there
    browser.quit()

Chromium comes from Debian's `chromium` and `chromium-driver` packages (version-matched); `./run.sh test`
installs them. Without them the tests fail and say so: a browser test that quietly skips tests nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP = (1280, 800)
PHONE = (390, 844)
WAIT = 30.0  # seconds a page may take to show what a test waits for: a hang guard, not a speed test
T = TypeVar("T")
# Quiet and self-contained: no first-run dialogs, no calls home, no updates, no sync, no QUIC.
FLAGS = ("--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
         "--disable-extensions", "--disable-dev-shm-usage", "--password-store=basic", "--lang=zh-CN")


def chromium_present() -> None:
    """Fail (never skip) when the distribution's Chromium or its driver is not installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"no {' and no '.join(missing)}: the browser tests need Debian's chromium and chromium-driver; "
                    "`./run.sh test` installs them", pytrace=False)


class Browser:
    """One headless Chromium with its own fresh profile and download folder."""

    def __init__(self, driver: WebDriver, base_url: str, downloads: Path) -> None:
        self.driver, self.base_url, self.downloads = driver, base_url.rstrip("/"), downloads

    @classmethod
    def start(cls, folder: Path, base_url: str) -> Browser:
        chromium_present()
        folder.mkdir(parents=True, exist_ok=True)
        downloads = folder / "downloads"
        downloads.mkdir(exist_ok=True)
        options = Options()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={folder / 'profile'}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
            options.add_argument(flag)
        if os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        options.unhandled_prompt_behavior = "ignore"  # an alert stays open for the test to see (XSS, confirm)
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False,
                                                  "intl.accept_languages": "zh-CN,zh"})
        try:
            driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER),
                                                                      log_output=str(folder / "chromedriver.log")))
        except WebDriverException as err:
            pytest.fail(f"Chromium did not start ({err.msg}); see {folder / 'chromedriver.log'}", pytrace=False)
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads),
                                                               "eventsEnabled": True})
        browser = cls(driver, base_url, downloads)
        browser.size(*DESKTOP)
        return browser

    def quit(self) -> None:
        self.driver.quit()

    # --- seeing -----------------------------------------------------------------------------------------------
    def size(self, width: int, height: int, *, phone: bool = False) -> None:
        """The page's viewport, exactly (a phone: its width, touch and its meta viewport obeyed)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone})

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        url: str = self.driver.current_url
        return url.removeprefix(self.base_url) or "/"

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str = "body") -> str:
        return str(self.find(css).text)

    def js(self, script: str, *args: object) -> object:
        return self.driver.execute_script(script, *args)

    def alert_shown(self) -> str | None:
        """The text of a JavaScript alert open now, if any (and it is closed)."""
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return None
        text = str(alert.text)
        alert.dismiss()
        return text

    def wait(self, found: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
        """What `found()` returns once it is truthy; fails naming `what` after `timeout` (a hang guard)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = found()
            except WebDriverException:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not seen in {timeout:g} s, at {self.path}:\n{self.text()[:1500]}")
            time.sleep(0.1)

    # --- doing --------------------------------------------------------------------------------------------------
    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def choose(self, css: str, value: str) -> None:
        """Pick the option whose value is `value` in the select at `css`."""
        self.find(f"{css} option[value='{value}']").click()

    def submit(self, form_css: str, button_css: str = "button[type=submit]") -> None:
        """Click the form's button as a person does (saying yes if the page asks to confirm), and wait until the
        next page replaced this one."""
        old = self.find("html")
        self.find(f"{form_css} {button_css}").click()
        with contextlib.suppress(NoAlertPresentException):
            self.driver.switch_to.alert.accept()
        self.wait(lambda: _gone(old), "the next page")

    def login(self, name: str, password: str, code: str = "") -> str:
        """Sign in through the form; the message the page shows when it refuses ("" when signed in)."""
        self.open("/login")
        self.fill("input[name=username]", name)
        self.fill("input[name=password]", password)
        self.fill("input[name=code]", code)
        self.submit("form[action='/login']")
        if self.path.split("?")[0] == "/":
            return ""
        return self.text(".message") if self.all(".message") else self.text()

    def logout(self) -> None:
        if self.all("form.logout"):
            self.submit("form.logout")
        self.driver.delete_all_cookies()

    def download(self, click: Callable[[], object], suffix: str) -> Path:
        """The file a click downloads (waits until Chromium has written all of it)."""
        for old in self.downloads.iterdir():
            old.unlink() if old.is_file() else shutil.rmtree(old)
        click()
        return self.wait(lambda: next((f for f in self.downloads.iterdir() if f.name.endswith(suffix)), None),
                         f"a downloaded *{suffix}")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))


def _gone(element: WebElement) -> bool:
    """The page `element` belonged to is gone (a new document loaded)."""
    try:
        element.is_enabled()
    except WebDriverException:  # stale: the document it was in was replaced
        return True
    return False
