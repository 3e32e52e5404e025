"""The console's security rules at its edge, on a real `kiosk collector serve`: headers on every answer, the
session cookie (HTTP and HTTPS), CSRF on every POST, capped bodies read only after the session is checked,
nothing secret in URLs or the access log, and the serve flags the console brings (subject key, time zone,
retention, trust root).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk.audit.events import subject_reference
from tests.collector_process import self_signed_certificate
from tests.console_web import PASSWORD, ConsoleSite, Scan, csrf_of, kiosk_cli, trust_folder

pytestmark = pytest.mark.slow  # collector processes, kiosks synced through `kiosk sync`, argon2 logins
CSP = {"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'",
       "form-action 'self'", "base-uri 'none'"}
EVENING = datetime(2026, 11, 20, 20, 0, tzinfo=ZoneInfo("UTC")).timestamp()  # 04:00 the next day in Shanghai
SUBJECT_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("console-security")
    (folder / "subject.key").write_text(KEY.hex() + "\n")
    console = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust_folder(folder / "trust"),
                               extra=("--access-log", "--timezone", "Asia/Shanghai", "--subject-key",
                                      str(folder / "subject.key")))
    try:
        console.origin = time.time()
        console.add_user("ann", "viewer", ["Joy City"])
        console.add_user("root", "admin")
        console.kiosk("k1", "Joy City", [Scan(EVENING, subject=subject_reference(SUBJECT_ID, KEY)),
                                         Scan(console.origin - 60, subject="ab" * 16)], name="Gate 1")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def test_every_console_answer_carries_the_security_headers(site: ConsoleSite) -> None:
    ann, anonymous = site.login("ann"), site.browser()
    answers = {
        "login form": anonymous.get("/login"),
        "refused login": anonymous.post("/login", data={"username": "x", "password": "y", "csrf_token": "z"}),
        "redirect": anonymous.get("/"),
        "401 fragment": anonymous.get("/overview/fragment"),
        "overview": ann.get("/"), "fragment": ann.get("/overview/fragment"), "events": ann.get("/events"),
        "403": ann.get("/events?site=East Gate"), "400": ann.get("/events?verdict=no"),
        "404": ann.get("/events?device=0123456789abcdef"),
        "css": ann.get("/static/console.css"), "js": ann.get("/static/console.js"),
        "missing static": ann.get("/static/nothing.js"),
        "csrf refused": ann.post("/logout", data={"csrf_token": "forged"}),
    }
    expected_status = {"redirect": 303, "401 fragment": 401, "403": 403, "400": 400, "404": 404,
                       "missing static": 404, "csrf refused": 403, "refused login": 403}
    for what, answer in answers.items():
        assert answer.status_code == expected_status.get(what, 200), what
        directives = {d.strip() for d in answer.headers["content-security-policy"].split(";")}
        assert directives >= CSP and "unsafe-inline" not in answer.headers["content-security-policy"], what
        assert answer.headers["x-content-type-options"] == "nosniff", what
        assert answer.headers["referrer-policy"] in ("no-referrer", "same-origin"), what
        if what not in ("css", "js", "missing static"):
            assert answer.headers["cache-control"] == "no-store", what
    assert answers["css"].headers["content-type"].startswith("text/css")


def test_the_session_cookie_is_httponly_strict_and_host_only_secure_under_tls(site: ConsoleSite,
                                                                              tmp_path: Path) -> None:
    plain = site.sign_in(site.browser(), "ann").headers.get_list("set-cookie")
    session = next(c for c in plain if c.startswith("kiosk_session="))
    assert {"HttpOnly", "Path=/", "SameSite=strict"} <= {p.strip() for p in session.split(";")}
    assert "Secure" not in session and "Domain" not in session
    secure = ConsoleSite.start(tmp_path / "tls", f"sqlite:///{tmp_path}/tls.db", site.trust_dir,
                               https=self_signed_certificate(tmp_path))
    try:
        secure.add_user("ann", "viewer", ["Joy City"])
        browser = secure.browser()
        form = browser.get("/login")
        login_cookie = form.headers["set-cookie"]
        assert login_cookie.startswith("__Host-kiosk_login=") and "Secure" in login_cookie
        answer = secure.sign_in(browser, "ann")
        cookies = answer.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("__Host-kiosk_session="))
        parts = {p.strip() for p in session.split(";")}
        assert {"HttpOnly", "Secure", "Path=/", "SameSite=strict"} <= parts and not any(
            p.lower().startswith("domain") for p in parts)
        assert browser.get("/").status_code == 200
        browser.cookies.clear()
        browser.cookies.set("kiosk_session", session.split(";")[0].split("=", 1)[1])  # the plain name: not ours
        assert browser.get("/").status_code == 303
    finally:
        secure.stop()


def test_every_post_needs_the_sessions_csrf_token(site: ConsoleSite) -> None:
    ann, other = site.login("ann", fresh=True), site.login("ann", fresh=True)  # two sessions
    token, others = csrf_of(ann.get("/").text), csrf_of(other.get("/").text)
    assert token != others
    for data in ({}, {"csrf_token": ""}, {"csrf_token": token[:-1] + "x"}, {"csrf_token": others}):
        refused = ann.post("/logout", data=data)
        assert refused.status_code == 403, data
        assert ann.get("/").status_code == 200  # still signed in: nothing happened
    assert ann.post("/logout", data={"csrf_token": token}).status_code == 303
    assert ann.get("/").status_code == 303  # the session is gone on the server, not only from the browser
    # The login form: its pre-session token, in a cookie and in the form, must agree.
    anonymous = site.browser()
    form = anonymous.get("/login")
    for cookie, field in ((None, csrf_of(form.text)), (csrf_of(form.text), "forged"), (csrf_of(form.text), "")):
        anonymous.cookies.clear()
        if cookie:
            anonymous.cookies.set("kiosk_login", cookie)
        answer = anonymous.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": field})
        assert answer.status_code == 403 and "kiosk_session" not in answer.headers.get("set-cookie", "")


def test_a_second_factor_is_asked_of_an_admin_and_a_new_login_replaces_the_old_session(site: ConsoleSite) -> None:
    browser = site.browser()
    refused = site.sign_in(browser, "root", code="000000")
    assert refused.status_code == 401 and 'role="alert">请填写正确的动态验证码' in refused.text
    assert "kiosk_session" not in refused.headers.get("set-cookie", "")
    assert site.login("root").get("/").status_code == 200  # with the code of its authenticator
    first = site.login("ann", fresh=True)
    old = first.cookies["kiosk_session"]
    assert first.get("/login").headers["location"] == "/"  # signed in already: no form
    form = site.browser().get("/login")  # a form left open in another tab: signing in again from it
    first.cookies.set("kiosk_login", form.cookies["kiosk_login"])
    again = first.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": csrf_of(form.text)})
    assert again.status_code == 303 and first.cookies["kiosk_session"] != old
    replay = site.browser()
    replay.cookies.set("kiosk_session", old)
    assert replay.get("/").status_code == 303  # rotated at login: the old token opens nothing


def raw(site: ConsoleSite, request: bytes) -> tuple[int, float]:
    """Send a request's head (no body) and wait for the answer: its status and the seconds it took."""
    port = int(site.url.rsplit(":", 1)[1])
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        status, _ = _status(sock)
    return status, time.monotonic() - start


def _status(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split()[1]), data


def test_console_posts_are_capped_and_sessions_checked_before_the_body_is_read(site: ConsoleSite) -> None:
    ann = site.login("ann")
    cookie = f"kiosk_session={ann.cookies['kiosk_session']}"
    huge = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 50000000\r\n"
    for path, cookies, expected in (("/login", "", 413), ("/logout", cookie, 413), ("/logout", "", 303)):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{huge}" + (f"Cookie: {cookies}\r\n" if cookies else "") + "\r\n"
        status, seconds = raw(site, head.encode())
        assert status == expected and seconds < 5, (path, status, seconds)  # answered with the body never sent
    chunked = (f"POST /logout HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    assert raw(site, chunked.encode())[0] == 411
    body = "csrf_token=" + "x" * 70_000
    assert ann.post("/logout", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
                    ).status_code == 413
    assert ann.get("/").status_code == 200


def test_nothing_secret_in_urls_or_the_access_log(site: ConsoleSite) -> None:
    browser = site.browser()
    form = browser.get("/login").text
    assert re.search(r'<form method="post" action="/login"', form) and 'type="password"' in form
    assert site.sign_in(browser, "ann").status_code == 303
    token = browser.cookies["kiosk_session"]
    csrf = csrf_of(browser.get("/events").text)
    browser.post("/logout", data={"csrf_token": csrf})
    time.sleep(0.3)
    log = site.collector.log_path.read_text()
    assert '"GET /events HTTP/1.1" 200' in log and '"POST /login HTTP/1.1" 303' in log  # the log is on
    for secret in (PASSWORD, token, csrf, "password=", "csrf_token="):
        assert secret not in log


def test_a_subject_is_found_by_its_reference_or_by_the_id_on_the_code(site: ConsoleSite) -> None:
    ann = site.login("ann")
    reference = subject_reference(SUBJECT_ID, KEY)
    by_id = ann.get(f"/events?subject={SUBJECT_ID.hex()}").text
    by_reference = ann.get(f"/events?subject={reference}").text
    rows = re.findall(r'<tr data-id="([0-9A-Z]{26})"', by_id)
    assert len(rows) == 1 and rows == re.findall(r'<tr data-id="([0-9A-Z]{26})"', by_reference)
    assert reference in by_id and SUBJECT_ID.hex() not in by_id.split("<table", 1)[1]  # rows show the reference
    assert len(re.findall(r"<tr data-id", ann.get(f"/events?subject={'ab' * 16}").text)) == 1
    assert "<tr data-id" not in ann.get(f"/events?subject={'12' * 16}").text


def test_times_are_shown_and_read_in_the_collectors_zone(site: ConsoleSite) -> None:
    ann = site.login("ann")
    page = ann.get("/events").text
    assert "2026-11-21 04:00:00" in page and "2026-11-20 20:00:00" not in page
    assert "Asia/Shanghai (UTC+08:00)" in page
    assert "<tr data-id" in ann.get("/events?since=2026-11-21&until=2026-11-21").text  # Shanghai's 21st
    assert "<tr data-id" not in ann.get("/events?since=2026-11-20&until=2026-11-20").text  # UTC's 20th
    assert "<tr data-id" in ann.get("/events?since=2026-11-21T03:59&until=2026-11-21T04:01").text


def test_a_disabled_account_is_signed_out_at_once(site: ConsoleSite) -> None:
    site.add_user("dora", "viewer", ["Joy City"])
    dora = site.login("dora")
    assert dora.get("/").status_code == 200
    assert kiosk_cli("collector", "user", "disable", "dora", "--db", site.collector.db_url).returncode == 0
    assert dora.get("/").status_code == 303 and dora.get("/overview/fragment").status_code == 401


def test_retention_purges_old_events_at_start_and_the_trail_records_it(tmp_path: Path) -> None:
    from kiosk.console.console_db import open_console_store
    from kiosk.console.trail import Trail

    site = ConsoleSite.start(tmp_path / "c", f"sqlite:///{tmp_path}/r.db", trust_folder(tmp_path / "trust"))
    try:
        now = time.time()
        site.kiosk("k1", "Joy City", [Scan(now - 3 * 86400 + i) for i in range(5)] + [Scan(now - 60)])
    finally:
        site.stop()
    again = ConsoleSite.start(tmp_path / "c2", f"sqlite:///{tmp_path}/r.db", site.trust_dir,
                              extra=("--retention-days", "2"))
    try:
        deadline = time.monotonic() + 30
        with again.collector.store() as store:
            while store.count() != 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert store.count() == 1
        with open_console_store(again.collector.db_url) as console:
            purges = [e for e in Trail(console).entries() if e.action == "purge"]
        assert len(purges) == 1 and json.loads(purges[0].detail)["events"] == 5
    finally:
        again.stop()


@pytest.mark.parametrize("flags, words", [
    (("--timezone", "Mars/Olympus"), "--timezone"),
    (("--subject-key", "/nonexistent/subject.key"), "--subject-key"),
    (("--retention-days", "0"), "--retention-days"),
    (("--session-idle", "0"), "--session-idle"),
    (("--trust-root", "{tmp}"), "--trust-root"),
])
def test_serve_refuses_bad_console_flags_in_one_line(tmp_path: Path, flags: tuple[str, ...], words: str) -> None:
    args = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    done = subprocess.run([sys.executable, "-m", "kiosk", "collector", "serve", "--db", f"sqlite:///{tmp_path}/x.db",
                           "--port", "1", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and words in done.stderr, done.stderr
