"""Logins, sessions, the second factor and the login backoff through the Authenticator, on SQLite and on
PostgreSQL (issue 14, "Security"): no default account, a fresh random token per login kept hashed, the ways a
session ends, CSRF per session, TOTP once only, and the backoff no stranger can turn into a lockout.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher, Type

from kiosk.console.auth import Authenticator, Login, Refused, SessionRules, console_services
from kiosk.console.console_db import open_console_store
from kiosk.console.console_store import ConsoleStore
from kiosk.console.passwords import Passwords
from kiosk.console.totp import totp
from kiosk.console.trail import Trail
from kiosk.console.users import Users
from tests.pg_server import create_database

T0 = 1_800_000_000.0
PASSWORD = "correct horse battery"
CONSOLE_TABLES = ("console_users", "console_sessions", "console_failures", "console_known", "console_trail")


class CountingHasher(PasswordHasher):
    """A cheap argon2id (tests log in thousands of times) that counts the passwords it checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@dataclass
class Console:
    url: str
    store: ConsoleStore
    auth: Authenticator
    users: Users
    trail: Trail
    hasher: CountingHasher

    def add(self, name: str, role: str = "viewer", sites: frozenset[str] | None = None) -> bytes | None:
        return self.users.add(name, role, sites, PASSWORD, actor="cli:test", address="local").totp_secret

    def login(self, name: str, at: float, address: str = "10.0.0.1", password: str = PASSWORD,
              code: str | None = None) -> Login:
        done = self.auth.login(name, password, code, address, at)
        assert isinstance(done, Login), done
        return done

    def everything(self) -> str:
        """Every row of the console's tables, as text: what a stolen copy of the database shows."""
        path = self.url.removeprefix("sqlite:///")
        if path != self.url:
            with sqlite3.connect(path) as db:
                return repr([db.execute(f"SELECT * FROM {t}").fetchall() for t in CONSOLE_TABLES])
        with psycopg.connect(self.url) as db:
            return repr([db.execute(f"SELECT * FROM {t}").fetchall() for t in CONSOLE_TABLES])  # type: ignore[call-overload]


@pytest.fixture(name="url", params=["sqlite", "postgres"])
def url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector.db'}"
    return create_database(request.getfixturevalue("pg_url"), f"console_{uuid.uuid4().hex[:12]}")


@pytest.fixture(name="console")
def console_fixture(url: str) -> Iterator[Console]:
    hasher = CountingHasher()
    with open_console_store(url) as store:
        auth, users, trail = console_services(store, Passwords(hasher), clock=lambda: T0)
        yield Console(url, store, auth, users, trail, hasher)


def refused(done: Login | Refused, reason: str) -> float:
    assert isinstance(done, Refused) and done.reason == reason, done
    return done.wait


# --- Accounts and logins ----------------------------------------------------------------------------------------

def test_there_is_no_default_account(console: Console) -> None:
    assert console.users.list() == []
    for name, password in (("admin", "admin"), ("admin", "admin123456"), ("root", PASSWORD)):
        refused(console.auth.login(name, password, None, "10.0.0.1", T0 + 3600 * len(name + password)),
                "credentials")


def test_an_unknown_account_and_a_wrong_password_are_refused_alike(console: Console) -> None:
    console.add("bob")
    console.hasher.verified = 0
    refused(console.auth.login("nobody", PASSWORD, None, "10.0.0.1", T0), "credentials")
    refused(console.auth.login("bob", "not the password", None, "10.0.0.2", T0), "credentials")
    assert console.hasher.verified == 2  # one password check each: the time tells nothing either
    console.users.disable("bob", actor="root", address="local")
    refused(console.auth.login("bob", PASSWORD, None, "10.0.0.3", T0 + 5), "credentials")  # the right one, disabled


def test_each_login_gets_a_fresh_random_token_kept_only_as_its_sha256(console: Console) -> None:
    console.add("bob")
    first, second = console.login("bob", T0), console.login("bob", T0 + 5)
    assert first.token != second.token and first.csrf != second.csrf
    assert len(first.token) == 43 and set(first.token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")  # secrets.token_urlsafe(32)
    stored = console.everything()
    for login in (first, second):
        assert login.token not in stored
        assert hashlib.sha256(login.token.encode()).hexdigest() in stored
    assert console.auth.session(first.token, T0 + 10) is not None  # two browsers, two sessions


def test_a_login_replaces_the_browsers_session_before_it(console: Console) -> None:
    console.add("bob")
    old = console.login("bob", T0)
    new = console.auth.login("bob", PASSWORD, None, "10.0.0.1", T0 + 5, replacing=old.token)
    assert isinstance(new, Login)
    assert console.auth.session(old.token, T0 + 6) is None and console.auth.session(new.token, T0 + 6) is not None


def test_logout_disable_a_new_password_and_a_new_role_each_end_the_sessions(console: Console) -> None:
    console.add("bob", "manager", frozenset({"A"}))
    token = console.login("bob", T0).token
    console.auth.logout(token, "10.0.0.1", T0 + 1)
    assert console.auth.session(token, T0 + 2) is None
    changes = [lambda: console.users.disable("bob", actor="root", address="local"),
               lambda: console.users.passwd("bob", PASSWORD, actor="root", address="local"),
               lambda: console.users.change("bob", "viewer", None, actor="root", address="local")]
    for i, change in enumerate(changes):
        console.users.enable("bob", actor="root", address="local")
        token = console.login("bob", T0 + 10 * i).token
        assert console.auth.session(token, T0 + 10 * i + 1) is not None
        change()
        assert console.auth.session(token, T0 + 10 * i + 2) is None
    console.users.enable("bob", actor="root", address="local")  # enabling again brings no session back
    assert console.auth.session(token, T0 + 13) is None


def test_a_session_of_an_account_disabled_by_any_path_is_refused(console: Console) -> None:
    console.add("bob")
    token = console.login("bob", T0).token
    console.store.change_user("bob", T0, end_sessions=False, disabled=1)  # the row says disabled, sessions stay
    assert console.auth.session(token, T0 + 1) is None


def test_an_admin_ends_anyones_sessions(console: Console) -> None:
    console.add("bob")
    tokens = [console.login("bob", T0 + i * 5, address=f"10.0.0.{i + 1}").token for i in range(3)]
    assert sorted(s.address for s in console.auth.sessions()) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert console.auth.end_sessions("bob", actor="root", address="10.9.9.9", now=T0 + 20) == 3
    assert all(console.auth.session(token, T0 + 21) is None for token in tokens)
    last = console.trail.entries(limit=1)[0]
    assert (last.actor, last.action, last.details(), last.address) == ("root", "sessions_ended",
                                                                       {"account": "bob", "sessions": 3}, "10.9.9.9")


def test_sessions_end_after_30_idle_minutes_and_12_hours_whatever(console: Console) -> None:
    console.add("bob")
    token = console.login("bob", T0).token
    assert console.auth.session(token, T0 + 29 * 60) is not None  # used: the idle clock starts again
    assert console.auth.session(token, T0 + 29 * 60 + 30 * 60) is None  # 30 minutes unused
    token = console.login("bob", T0 + 7200).token
    at = T0 + 7200
    while at + 25 * 60 < T0 + 7200 + 12 * 3600:
        at += 25 * 60
        assert console.auth.session(token, at) is not None  # used every 25 minutes
    assert console.auth.session(token, T0 + 7200 + 12 * 3600 - 1) is not None
    assert console.auth.session(token, T0 + 7200 + 12 * 3600) is None  # 12 hours after the login


def test_the_expiry_times_are_parameters(console: Console) -> None:
    console.add("bob")
    auth = Authenticator(console.store, console.trail, Passwords(CountingHasher()),
                         SessionRules(idle=60, absolute=150, touch_every=0))
    login = auth.login("bob", PASSWORD, None, "10.0.0.1", T0)
    assert isinstance(login, Login)
    assert auth.session(login.token, T0 + 59) is not None and auth.session(login.token, T0 + 118) is not None
    assert auth.session(login.token, T0 + 150) is None
    login = auth.login("bob", PASSWORD, None, "10.0.0.1", T0 + 200)
    assert isinstance(login, Login) and auth.session(login.token, T0 + 260) is None


def test_csrf_tokens_are_per_session_and_checked(console: Console) -> None:
    console.add("bob")
    a, b = console.login("bob", T0), console.login("bob", T0 + 5)
    session = console.auth.session(a.token, T0 + 6)
    assert session is not None and session.csrf == a.csrf and len(a.csrf) >= 43
    assert session.csrf_ok(a.csrf)
    assert not session.csrf_ok(b.csrf) and not session.csrf_ok(None) and not session.csrf_ok("")
    assert not session.csrf_ok(a.csrf[:-1])


def test_forged_and_hostile_tokens_open_nothing(console: Console) -> None:
    console.add("bob")
    login = console.login("bob", T0)
    for token in ("", "x" * 100_000, hashlib.sha256(login.token.encode()).hexdigest(), login.token + "A",
                  login.csrf, "' OR 1=1 --"):
        assert console.auth.session(token, T0 + 1) is None
        console.auth.logout(token)
    assert console.auth.session(login.token, T0 + 2) is not None


# --- The second factor ------------------------------------------------------------------------------------------

def test_admins_and_tracers_need_a_totp_code_each_taken_once(console: Console) -> None:
    secret = console.add("root", "admin")
    assert secret is not None and console.add("health", "tracer") is not None and console.add("bob") is None
    at = T0 + 15
    refused(console.auth.login("root", PASSWORD, None, "10.0.0.1", at), "code")
    refused(console.auth.login("root", PASSWORD, "000000" if totp(secret, at + 1) != "000000" else "111111",
                               "10.0.0.1", at + 1), "code")
    code = totp(secret, at + 3)
    assert console.login("root", at + 3, code=code).account.role == "admin"
    refused(console.auth.login("root", PASSWORD, code, "10.0.0.2", at + 10), "code")  # a replayed code
    refused(console.auth.login("root", PASSWORD, totp(secret, at - 30), "10.0.0.3", at + 12), "code")  # older
    assert console.login("root", at + 30, address="10.0.0.4", code=totp(secret, at + 30)).account.totp
    assert console.login("bob", at + 40).account.totp is False  # a viewer without one: the password alone


def test_a_new_totp_secret_retires_the_old_one(console: Console) -> None:
    old = console.add("root", "admin")
    assert old is not None
    new = console.users.reset_totp("root", actor="cli:test", address="local")
    refused(console.auth.login("root", PASSWORD, totp(old, T0), "10.0.0.1", T0), "code")
    assert console.login("root", T0 + 60, code=totp(new, T0 + 60)).account.name == "root"


def test_a_password_hash_of_an_older_setting_is_renewed_at_login(console: Console) -> None:
    console.add("bob")  # hashed with the cheap setting of this test
    auth = Authenticator(console.store, console.trail)  # the real one: argon2-cffi's defaults
    assert isinstance(auth.login("bob", PASSWORD, None, "10.0.0.1", T0), Login)
    assert console.store.credentials("bob").password.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # type: ignore[union-attr]
    assert isinstance(auth.login("bob", PASSWORD, None, "10.0.0.1", T0 + 5), Login)


def test_nothing_secret_is_stored_or_logged(console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = console.add("root", "admin")
    assert secret is not None
    refused(console.auth.login("root", "wrong password", None, "10.0.0.1", T0), "credentials")
    refused(console.auth.login(PASSWORD, PASSWORD, None, "10.0.0.2", T0), "credentials")  # typed into the name
    code = totp(secret, T0 + 60)
    login = console.login("root", T0 + 60, code=code)
    console.auth.logout(login.token, "10.0.0.1", T0 + 70)
    stored, logged = console.everything(), caplog.text
    for secret_text in (PASSWORD, "wrong password", login.token):
        assert secret_text not in stored and secret_text not in logged
    assert code not in logged
    for entry in console.trail.entries():
        assert PASSWORD not in entry.actor + entry.detail and login.token not in entry.detail
        assert code not in entry.detail and "wrong" not in entry.detail
    assert [e.action for e in console.trail.entries()][:4] == ["logout", "login", "login_failed", "login_failed"]
