"""The users page (issue 14, "Users (admin)"): an admin adds, disables, enables accounts, sets passwords, gives a
new second factor and ends sessions from a browser; each change takes effect at once for the account's own
browsers and is in the console's trail. A real `kiosk collector serve`; accounts signed in through the form.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from kiosk.console.console_db import open_console_store
from kiosk.console.totp import from_base32, totp
from kiosk.console.trail import Trail
from tests.console_web import PASSWORD, ConsoleSite, Scan, csrf_of, trust_folder

pytestmark = pytest.mark.slow  # a collector process, accounts hashed with argon2
JOY = "Joy City"
NEW_PASSWORD = "a new password, long enough"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("users")
    console = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust_folder(folder / "trust"))
    try:
        console.add_user("root", "admin")
        console.add_user("mia", "manager", [JOY])
        console.kiosk("k1", JOY, [Scan(time.time() - 60, subject="a" * 32)], name="Gate 1")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    """A form of the users page, sent as the browser sends it (with the page's CSRF token)."""
    token = csrf_of(client.get("/users").text)
    return client.post(path, data={"csrf_token": token, **fields})


def trail_of(site: ConsoleSite, actor: str) -> list[tuple[str, dict[str, object]]]:
    with open_console_store(site.collector.db_url) as store:
        return [(e.action, e.details()) for e in Trail(store).entries(limit=200) if e.actor == actor]


def login_after_backoff(site: ConsoleSite, name: str, password: str = PASSWORD) -> httpx.Client:
    """A login right after a refused one: the backoff (a second or two) is waited out, as a person would."""
    client = site.browser()
    for _ in range(5):
        answer = site.sign_in(client, name, password)
        if answer.status_code != 429:
            break
        time.sleep(1.0)
    assert answer.status_code == 303, answer.status_code
    return client


def signed_in(client: httpx.Client) -> bool:
    return client.get("/").status_code == 200


def test_an_admin_adds_a_manager_who_then_signs_in_to_their_site(site: ConsoleSite) -> None:
    root = site.login("root")
    answer = post(root, "/users/add", name="ned", role="manager", sites="Joy City\r\nEast Gate\n", password=PASSWORD,
                  password2=PASSWORD)
    assert answer.status_code == 200 and "ned" in answer.text
    row = re.search(r'<tr data-user="ned">.*?</tr>', answer.text, re.S)
    assert row and JOY in row.group(0) and ("场所管理员" in row.group(0))
    ned = site.login("ned")
    assert JOY in ned.get("/").text and ned.get("/users").status_code == 403
    assert ("user_add", {"account": "ned", "role": "manager", "sites": ["East Gate", JOY]}) in trail_of(site, "root")


def test_refusals_are_one_line_and_add_nothing(site: ConsoleSite) -> None:
    root = site.login("root")
    mismatch = "两次输入的密码不一致"  # the two passwords differ
    for fields, words in (
            ({"name": "pat", "role": "viewer", "password": PASSWORD, "password2": PASSWORD + "x"}, mismatch),
            ({"name": "pat", "role": "viewer", "password": "short", "password2": "short"}, "at least 10"),
            ({"name": "pat", "role": "boss", "password": PASSWORD, "password2": PASSWORD}, "not a role"),
            ({"name": "pat", "role": "admin", "sites": JOY, "password": PASSWORD, "password2": PASSWORD}, "admin"),
            ({"name": "mia", "role": "viewer", "password": PASSWORD, "password2": PASSWORD}, "already"),
            ({"name": "p\u202eat", "role": "viewer", "password": PASSWORD, "password2": PASSWORD}, "invisible"),
            ({"name": "", "role": "viewer", "password": PASSWORD, "password2": PASSWORD}, "required")):
        answer = post(root, "/users/add", **fields)
        message = re.search(r'<p class="message alarm" role="alert">([^<]*)</p>', answer.text)
        assert answer.status_code == 400 and message and words in html.unescape(message.group(1)), fields
    assert 'data-user="pat"' not in root.get("/users").text
    assert post(root, "/users/disable", name="nobody").status_code == 404


def test_a_tracer_gets_a_second_factor_shown_once_that_signs_them_in(site: ConsoleSite) -> None:
    root = site.login("root")
    answer = post(root, "/users/add", name="tess", role="tracer", password=PASSWORD, password2=PASSWORD)
    secret = re.search(r"<p class=\"ref\" data-secret>([A-Z2-7]+)</p>", answer.text)
    assert answer.status_code == 200 and secret is not None
    assert re.search(r'<img src="data:image/svg\+xml[^"]+" alt="otpauth QR">', answer.text)
    assert "otpauth://totp/" in answer.text and answer.headers["cache-control"] == "no-store"
    assert secret.group(1) not in root.get("/users").text  # shown once: never again
    site.totp["tess"] = from_base32(secret.group(1))
    tess = site.login("tess")
    assert tess.get("/trace").status_code == 200
    # A new second factor: the old secret's codes stop working, the new one's work.
    renewed = post(root, "/users/totp", name="tess")
    fresh = re.search(r"<p class=\"ref\" data-secret>([A-Z2-7]+)</p>", renewed.text)
    assert fresh and fresh.group(1) != secret.group(1) and not signed_in(tess)  # its sessions ended
    old_code = totp(from_base32(secret.group(1)), time.time())
    assert site.sign_in(site.browser(), "tess", code=old_code).status_code == 401
    site.totp["tess"] = from_base32(fresh.group(1))
    assert signed_in(login_after_backoff(site, "tess"))


def test_disabling_ends_sessions_at_once_and_enabling_lets_them_back(site: ConsoleSite) -> None:
    root = site.login("root")
    post(root, "/users/add", name="dora", role="viewer", password=PASSWORD, password2=PASSWORD)
    dora = site.login("dora")
    assert signed_in(dora)
    assert post(root, "/users/disable", name="dora").status_code == 200
    assert dora.get("/").status_code == 303  # back to the login page, no data
    assert site.sign_in(site.browser(), "dora").status_code == 401
    row = re.search(r'<tr data-user="dora">.*?</tr>', root.get("/users").text, re.S)
    assert row and "已停用" in row.group(0)
    assert post(root, "/users/enable", name="dora").status_code == 200
    assert signed_in(login_after_backoff(site, "dora"))
    refused = post(root, "/users/disable", name="root")  # an admin cannot lock themself out
    assert refused.status_code == 400 and signed_in(root)
    actions = [action for action, detail in trail_of(site, "root") if detail.get("account") == "dora"]
    assert actions[:3] == ["user_enable", "user_disable", "user_add"]


def test_a_new_password_ends_sessions_and_replaces_the_old(site: ConsoleSite) -> None:
    root = site.login("root")
    post(root, "/users/add", name="olga", role="viewer", password=PASSWORD, password2=PASSWORD)
    olga = site.login("olga")
    assert post(root, "/users/password", name="olga", password=NEW_PASSWORD, password2=NEW_PASSWORD).status_code == 200
    assert not signed_in(olga)
    assert site.sign_in(site.browser(), "olga").status_code == 401
    assert signed_in(login_after_backoff(site, "olga", NEW_PASSWORD))
    entries = trail_of(site, "root")
    assert any(action == "user_passwd" and detail["account"] == "olga" for action, detail in entries)
    assert all(NEW_PASSWORD not in str(detail) for _, detail in entries)  # nothing secret in the trail


def test_an_admin_ends_anyones_sessions_and_sees_how_many_are_open(site: ConsoleSite) -> None:
    first, second = site.login("mia", fresh=True), site.login("mia", fresh=True)  # two sessions
    root = site.login("root")
    row = re.search(r'<tr data-user="mia">.*?</tr>', root.get("/users").text, re.S)
    sessions = re.search(r'class="sessions">(\d+)<', row.group(0)) if row else None
    assert sessions and int(sessions.group(1)) >= 2
    answer = post(root, "/users/sessions", name="mia")
    assert answer.status_code == 200 and not signed_in(first) and not signed_in(second)
    assert any(action == "sessions_ended" and detail["account"] == "mia" for action, detail in trail_of(site, "root"))


def test_only_admins_manage_users_and_every_change_needs_the_csrf_token(site: ConsoleSite) -> None:
    mia = site.login("mia")
    assert mia.get("/users").status_code == 403
    token = csrf_of(mia.get("/").text)
    for work in ("add", "password", "disable", "enable", "sessions", "totp"):
        answer = mia.post(f"/users/{work}", data={"csrf_token": token, "name": "root", "role": "admin",
                                                  "password": PASSWORD, "password2": PASSWORD})
        assert answer.status_code == 403, work
    root = site.login("root")
    forged = root.post("/users/disable", data={"name": "mia", "csrf_token": "forged"})
    assert forged.status_code == 403 and signed_in(site.login("mia"))
    anonymous = site.browser()
    assert anonymous.get("/users").status_code == 303
    assert anonymous.post("/users/disable", data={"name": "mia"}).status_code == 303
    assert "argon2" not in root.get("/users").text  # no password hash on the page
