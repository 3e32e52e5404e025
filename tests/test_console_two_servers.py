"""Two `kiosk collector serve` processes on one PostgreSQL serve one console (issue 14): the sessions, the login
backoff and the console's trail live in the database, so a site behind a load balancer, or a server restarted,
loses nothing. A browser logs in through one server and goes on through the other.

Cookies are kept per host, not per port (as in a browser), so one client's session cookie reaches both
servers on 127.0.0.1; each server is asked by its absolute URL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
from tests.collector_process import CollectorProcess
from tests.console_web import PASSWORD, ConsoleSite, Scan, csrf_of, trust_folder

SITE = "Joy City"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[tuple[ConsoleSite, CollectorProcess]]:
    from tests.pg_server import create_database

    folder = tmp_path_factory.mktemp("two-servers")
    url = create_database(pg_url, f"console_two_{uuid.uuid4().hex[:10]}")
    first = ConsoleSite.start(folder / "one", url, trust_folder(folder / "trust"), extra=("--timezone", "UTC"))
    (folder / "two").mkdir()
    second = CollectorProcess(url, folder / "two", extra=("--timezone", "UTC"))
    try:
        first.origin = time.time()
        first.add_user("mia", "manager", [SITE])
        first.add_user("max", "manager", [SITE])
        first.kiosk("k1", SITE, [Scan(first.origin - 60, subject="a" * 32)], name="Gate 1")
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_a_session_made_through_one_server_goes_on_through_the_other_and_ends_on_both(
        servers: tuple[ConsoleSite, CollectorProcess]) -> None:
    first, second = servers
    browser = first.login("mia")
    assert browser.cookies, "the login set no session cookie"
    page = browser.get(f"{second.url}/")
    assert page.status_code == 200, page.status_code  # not the login redirect: the session is the database's
    assert SITE in page.text and 'name="password"' not in page.text
    # Logged out through the second server (its CSRF token is the session's, wherever the form came from) ...
    out = browser.post(f"{second.url}/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code in (302, 303)
    # ... the first one no longer knows the session either.
    after = browser.get(f"{first.url}/")
    assert after.status_code == 303 and after.headers["location"].startswith("/login")


def test_failed_logins_at_one_server_make_the_other_wait(servers: tuple[ConsoleSite, CollectorProcess]) -> None:
    first, second = servers
    for _ in range(3):  # three wrong passwords for max at the first server: a wait of 4 s is due (1, 2, 4 ...)
        answer = first.sign_in(first.browser(), "max", "not the password at all")
        assert answer.status_code in (200, 401, 429), answer.status_code
    with httpx.Client(base_url=second.url, follow_redirects=False, timeout=30) as other:
        form = other.get("/login")
        answer = other.post("/login", data={"username": "max", "password": PASSWORD, "code": "",
                                            "csrf_token": csrf_of(form.text)})
    # The right password, but within the wait the first server's failures set: refused, not checked.
    assert answer.status_code == 429, (answer.status_code, answer.text[:300])


def test_both_servers_write_one_chained_trail(servers: tuple[ConsoleSite, CollectorProcess], tmp_path: Path) -> None:
    first, second = servers
    browser = first.login("mia")
    page = browser.get(f"{second.url}/")
    browser.post(f"{second.url}/logout", data={"csrf_token": csrf_of(page.text)})
    with open_console_store(second.db_url) as store:
        trail = Trail(store)
        entries = trail.entries(limit=1000)
        assert trail.verify() is None  # one chain, though two processes appended to it
    mine = [(e.actor, e.action) for e in entries if e.actor == "mia"]
    assert ("mia", "login") in mine and ("mia", "logout") in mine
    assert len({e.seq for e in entries}) == len(entries)
