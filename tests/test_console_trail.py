"""The console's own audit trail (issue 14: "every login, failed login, export, trace, enrolment, revocation,
upload and user change, with who and when, append-only and chained like the kiosk's log; admins can read and
export it"), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kiosk.console.console_db import open_console_store
from kiosk.console.console_store import ConsoleStore
from kiosk.console.trail import ROW_COLUMNS, Trail
from tests.pg_server import create_database

T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector.db'}"
    return create_database(request.getfixturevalue("pg_url"), f"trail_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(url: str) -> Iterator[ConsoleStore]:
    with open_console_store(url) as opened:
        yield opened


def raw(url: str, *statements: str) -> None:
    """SQL straight to the database, as someone with the database's password (not the console) would."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            for statement in statements:
                db.execute(statement)
        return
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[call-overload]


def appended(trail: Trail, n: int) -> None:
    for i in range(n):
        trail.append(f"user{i % 3}", "export", {"site": "Joy City", "rows": i}, f"10.0.0.{i % 7}", T0 + i)


def test_each_entry_hashes_the_previous_hash_and_its_own_content(store: ConsoleStore) -> None:
    trail = Trail(store)
    appended(trail, 5)
    entries = list(reversed(trail.entries()))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    previous = bytes(32)
    for e in entries:
        content = json.dumps({"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail,
                              "address": e.address}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e.prev_hash == previous and e.hash == hashlib.sha256(previous + content.encode()).digest()
        previous = e.hash
    assert entries[2].details() == {"site": "Joy City", "rows": 2} and entries[2].address == "10.0.0.2"
    assert trail.verify() is None


@pytest.mark.parametrize("statement", ["UPDATE console_trail SET actor = 'nobody' WHERE seq = 2",
                                       "DELETE FROM console_trail WHERE seq = 2", "DELETE FROM console_trail"])
def test_the_database_refuses_to_change_or_remove_an_entry(store: ConsoleStore, url: str, statement: str) -> None:
    appended(Trail(store), 3)
    with pytest.raises((sqlite3.Error, psycopg.Error), match="append-only"):
        raw(url, statement)
    assert Trail(store).verify() is None and len(Trail(store).entries()) == 3


def _drop_guards(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "DROP TRIGGER console_trail_no_update; DROP TRIGGER console_trail_no_delete"
    return "DROP TRIGGER console_trail_append_only ON console_trail"


TAMPERING = {  # what someone with the database's password does, once the triggers are dropped; what verify says
    "edited": (["UPDATE console_trail SET detail = '{\"rows\":0,\"site\":\"Joy City\"}' WHERE seq = 3"], 3, "edited"),
    "removed": (["DELETE FROM console_trail WHERE seq = 3"], 4, "missing"),
    "rechained": (["UPDATE console_trail SET actor = 'nobody' WHERE seq = 3"], 3, "edited"),
    "moved": (["UPDATE console_trail SET seq = 100 WHERE seq = 3", "UPDATE console_trail SET seq = 3 WHERE seq = 4",
               "UPDATE console_trail SET seq = 4 WHERE seq = 100"], 3, "link"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
def test_verify_names_the_first_entry_tampered_with(store: ConsoleStore, url: str, tampering: str) -> None:
    trail = Trail(store)
    appended(trail, 6)
    statements, first, words = TAMPERING[tampering]
    raw(url, *_drop_guards(url).split("; "), *statements)
    broken = trail.verify()
    assert broken is not None and broken.seq == first and words in broken.problem, broken


def test_a_rehashed_entry_breaks_the_link_of_the_next(store: ConsoleStore, url: str) -> None:
    trail = Trail(store)
    appended(trail, 5)
    third = trail.entries(after=4, limit=1)[0]
    detail = '{"rows":0,"site":"Joy City"}'
    content = json.dumps({"seq": 3, "at": third.at, "actor": third.actor, "action": third.action, "detail": detail,
                          "address": third.address}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    forged = hashlib.sha256(third.prev_hash + content.encode()).hexdigest()
    set_hash = (f"UPDATE console_trail SET detail = '{detail}', hash = X'{forged}' WHERE seq = 3"
                if url.startswith("sqlite") else
                f"UPDATE console_trail SET detail = '{detail}', hash = '\\x{forged}'::bytea WHERE seq = 3")
    raw(url, *_drop_guards(url).split("; "), set_hash)
    broken = trail.verify()
    assert broken is not None and broken.seq == 4 and "link" in broken.problem


def test_admins_read_it_newest_first_a_page_at_a_time_and_export_it_oldest_first(store: ConsoleStore) -> None:
    trail = Trail(store)
    appended(trail, 250)
    first = trail.entries(limit=100)
    assert [e.seq for e in first] == list(range(250, 150, -1))
    assert [e.seq for e in trail.entries(after=first[-1].seq, limit=100)] == list(range(150, 50, -1))
    assert [e.seq for e in trail.entries(since=T0 + 10, until=T0 + 20)] == list(range(20, 10, -1))
    rows = [row for page in trail.rows() for row in page]
    assert ROW_COLUMNS == ("seq", "at", "actor", "action", "detail", "address", "hash")
    assert [row[0] for row in rows] == list(range(1, 251))
    assert rows[0][1:6] == (T0, "user0", "export", '{"rows":0,"site":"Joy City"}', "10.0.0.0")
    assert rows[-1][6] == first[0].hash.hex()
    assert [row[0] for page in trail.rows(since=T0 + 100, until=T0 + 102) for row in page] == [101, 102]


@pytest.mark.parametrize(("detail", "action"), [
    ({"password": "hunter2hunter2"}, "user_passwd"), ({"form": {"csrf_token": "abc"}}, "export"),
    ({"code": "123456"}, "login_failed"), ({"session_token": "abc"}, "login"), ({"list": [{"secret": 1}]}, "trust"),
    ({"ok": True}, "Login!"), ({"ok": True}, ""), ({"note": "x" * 5000}, "rename")])
def test_nothing_secret_and_nothing_unbounded_goes_in(store: ConsoleStore, detail: dict[str, Any], action: str) -> None:
    with pytest.raises(ValueError):
        Trail(store).append("root", action, detail, "10.0.0.1", T0)
    assert Trail(store).entries() == []


def test_what_the_console_records_goes_in_as_given(store: ConsoleStore) -> None:
    trail = Trail(store, clock=lambda: T0 + 5)
    query = {"subject": "ref:3f2a9c1b", "since": T0 - 86400, "until": T0, "window": 900, "passes": 3}
    entry = trail.append("health", "trace", {"case": "2026-017 <b>", "query": query}, "2001:db8::7")
    assert (entry.at, entry.actor, entry.action, entry.address) == (T0 + 5, "health", "trace", "2001:db8::7")
    assert trail.entries()[0].details() == {"case": "2026-017 <b>", "query": query}


APPENDER = """
import sys, time
from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
with open_console_store(sys.argv[1]) as store:
    trail = Trail(store)
    time.sleep(max(0.0, float(sys.argv[4]) - time.time()))  # both start at once, their store open
    for i in range(int(sys.argv[3])):
        trail.append(sys.argv[2], "export", {"i": i}, "10.0.0.1")
"""


def test_two_processes_appending_at_once_keep_one_chain(url: str) -> None:
    with open_console_store(url):
        pass  # the tables made once, before the two race
    start = str(time.time() + 3)
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, url, name, "150", start], stderr=subprocess.PIPE,
                                text=True) for name in ("serve-1", "serve-2")]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    with open_console_store(url) as store:
        trail = Trail(store)
        assert trail.verify() is None
        rows = [row for page in trail.rows() for row in page]
    assert [row[0] for row in rows] == list(range(1, 301))
    assert sorted({row[2] for row in rows}) == ["serve-1", "serve-2"]
