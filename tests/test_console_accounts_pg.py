"""Two `kiosk collector serve` processes on one PostgreSQL serve one console (issue 14): sessions, login
backoff, second-factor codes and the trail are in the database, shared by every store object and process on it.
And the console's tables come by its own named migrations, in the collector's `migrations` table.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher, Type

from kiosk.collector.database import open_store
from kiosk.console.auth import Authenticator, Login, Refused, console_services
from kiosk.console.console_db import open_console_store
from kiosk.console.console_store import BACKOFF_LOCK, TRAIL_LOCK
from kiosk.console.passwords import Passwords
from kiosk.console.totp import totp
from kiosk.console.users import Users
from tests.pg_server import create_database

T0 = 1_800_000_000.0
PASSWORD = "correct horse battery"
CHEAP = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID))


@pytest.fixture
def db_url(pg_url: str) -> str:
    return create_database(pg_url, f"two_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def two(db_url: str) -> Iterator[tuple[Authenticator, Authenticator, Users]]:
    """Two collectors' Authenticators, each on a store of its own, on one database."""
    with open_console_store(db_url) as one, open_console_store(db_url) as other:
        auth_one, users, _ = console_services(one, CHEAP)
        auth_other, _, _ = console_services(other, CHEAP)
        yield auth_one, auth_other, users


def test_a_session_started_at_one_collector_goes_on_at_the_other_and_ends_at_either(
        two: tuple[Authenticator, Authenticator, Users]) -> None:
    one, other, users = two
    users.add("bob", "manager", frozenset({"A"}), PASSWORD, actor="cli:test", address="local")
    login = one.login("bob", PASSWORD, None, "10.0.0.1", T0)
    assert isinstance(login, Login)
    session = other.session(login.token, T0 + 60)
    assert session is not None and session.account.name == "bob" and session.csrf_ok(login.csrf)
    other.logout(login.token, "10.0.0.1", T0 + 61)
    assert one.session(login.token, T0 + 62) is None
    again = other.login("bob", PASSWORD, None, "10.0.0.1", T0 + 70)
    assert isinstance(again, Login)
    users.disable("bob", actor="root", address="local")  # through a third store object: ends it everywhere
    assert one.session(again.token, T0 + 71) is None and other.session(again.token, T0 + 71) is None


def test_the_backoff_and_used_codes_are_one_for_both(two: tuple[Authenticator, Authenticator, Users]) -> None:
    one, other, users = two
    secret = users.add("root", "admin", None, PASSWORD, actor="cli:test", address="local").totp_secret
    assert secret is not None
    assert one.login("root", "a wrong guess", None, "203.0.113.9", T0) == Refused("credentials")
    assert other.login("root", PASSWORD, totp(secret, T0), "203.0.113.9", T0 + 0.5) == Refused("wait", 0.5)
    code = totp(secret, T0 + 30)
    assert isinstance(one.login("root", PASSWORD, code, "10.0.0.1", T0 + 30), Login)
    assert other.login("root", PASSWORD, code, "10.0.0.2", T0 + 31) == Refused("code")  # taken at the other


LOGIN_ELSEWHERE = """
import json, sys
from argon2 import PasswordHasher, Type
from kiosk.console.auth import console_services
from kiosk.console.console_db import open_console_store
from kiosk.console.console_store import BACKOFF_LOCK, TRAIL_LOCK
from kiosk.console.passwords import Passwords
with open_console_store(sys.argv[1]) as store:
    auth, _, _ = console_services(store, Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1,
                                                                  type=Type.ID)))
    done = auth.login("bob", sys.argv[2], None, "10.0.0.9", float(sys.argv[3]))
    print(json.dumps({"token": getattr(done, "token", None), "refused": getattr(done, "reason", None)}))
"""


def test_a_login_in_another_process_is_a_session_here(db_url: str) -> None:
    with open_console_store(db_url) as store:
        auth, users, trail = console_services(store, CHEAP)
        users.add("bob", "viewer", None, PASSWORD, actor="cli:test", address="local")
        done = subprocess.run([sys.executable, "-c", LOGIN_ELSEWHERE, db_url, PASSWORD, str(T0)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        token = json.loads(done.stdout)["token"]
        session = auth.session(token, T0 + 5)
        assert session is not None and session.account.name == "bob"
        assert (trail.entries()[0].action, trail.entries()[0].address) == ("login", "10.0.0.9")
        wrong = subprocess.run([sys.executable, "-c", LOGIN_ELSEWHERE, db_url, "a wrong guess", str(T0 + 10)],
                               capture_output=True, text=True, timeout=120)
        assert json.loads(wrong.stdout)["refused"] == "credentials"
        assert auth.login("bob", PASSWORD, None, "10.0.0.9", T0 + 10.25) == Refused("wait", 0.75)


def _migrations(url: str) -> list[str]:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return sorted(row[0] for row in db.execute("SELECT name FROM migrations"))
    with psycopg.connect(url) as conn:
        return sorted(row[0] for row in conn.execute("SELECT name FROM migrations"))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("console_first", [True, False])
def test_the_consoles_tables_come_by_named_migrations_beside_the_collectors(
        request: pytest.FixtureRequest, tmp_path: Path, backend: str, console_first: bool) -> None:
    url = (f"sqlite:///{tmp_path / 'collector.db'}" if backend == "sqlite" else
           create_database(request.getfixturevalue("pg_url"), f"mig_{uuid.uuid4().hex[:12]}"))
    opened = [lambda: open_console_store(url), lambda: open_store(url)]
    for open_ in opened if console_first else reversed(opened):
        open_().close()
        if backend == "sqlite":  # made readable by its owner only, whichever made it
            assert Path(url.removeprefix("sqlite:///")).stat().st_mode & 0o777 == 0o600
    names = _migrations(url)
    assert "console_0001_users_sessions_failures_trail" in names
    assert any(not name.startswith("console_") for name in names)  # the collector's own, in the same table
    with open_console_store(url) as store:  # opened again: nothing applied twice, what is there stays
        console_services(store, CHEAP)[1].add("bob", "viewer", None, PASSWORD, actor="cli:test", address="local")
    with open_console_store(url) as store:
        assert [info.account.name for info in store.users()] == ["bob"]
    assert _migrations(url) == names
    if backend == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("what", ["login attempt", "trail entry"])
def test_what_must_not_interleave_waits_for_the_other_process(db_url: str, what: str) -> None:
    """Another process in the middle of counting a login attempt (or chaining a trail entry) holds its lock:
    this one's waits until that commits, rather than reading the same rows and writing over them."""
    lock = BACKOFF_LOCK if what == "login attempt" else TRAIL_LOCK
    with open_console_store(db_url) as store:
        auth, users, trail = console_services(store, CHEAP)
        users.add("bob", "viewer", None, PASSWORD, actor="cli:test", address="local")
        done = threading.Event()

        def act() -> None:
            if what == "login attempt":
                auth.login("bob", "a wrong guess", None, "10.0.0.1", T0)
            else:
                trail.append("bob", "export", {}, "10.0.0.1", T0)
            done.set()

        with psycopg.connect(db_url) as other, other.transaction():
            other.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
            worker = threading.Thread(target=act)
            worker.start()
            assert not done.wait(1.0), f"the {what} did not wait for the other process"
        assert done.wait(60)
        worker.join()
