"""The console's tables (accounts, sessions, login failures, known addresses, its audit trail), the rows the store
gives, and the trail's chain hash; one SQL for SQLite and PostgreSQL (kiosk/collector/schema.py's Dialect).

The tables live in the collector's database beside its own, each named console_..., made by the console's own
named migrations (console_0001_...) recorded in the collector's `migrations` table. The trail refuses UPDATE
and DELETE by trigger: the store only ever appends to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.collector.schema import Dialect
from kiosk.console.accounts import Account, role_of

GENESIS = bytes(32)  # the previous hash of the first trail entry


def _tables(d: Dialect) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS console_users (
            name {d.key} PRIMARY KEY, role TEXT NOT NULL, sites TEXT, password TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0, totp_secret TEXT, totp_step {d.bigint},
            created_at {d.real} NOT NULL, changed_at {d.real} NOT NULL, last_login {d.real})""",
        # Only the SHA-256 of a session's token is kept: a copy of the database opens no session.
        f"""CREATE TABLE IF NOT EXISTS console_sessions (
            id_hash {d.key} PRIMARY KEY, name {d.key} NOT NULL, csrf TEXT NOT NULL, address TEXT NOT NULL,
            created_at {d.real} NOT NULL, seen_at {d.real} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS console_sessions_name ON console_sessions (name)",
        f"""CREATE TABLE IF NOT EXISTS console_failures (
            key {d.key} PRIMARY KEY, failures INTEGER NOT NULL, last_at {d.real} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS console_failures_last ON console_failures (last_at)",
        f"""CREATE TABLE IF NOT EXISTS console_known (
            name {d.key} NOT NULL, address {d.key} NOT NULL, at {d.real} NOT NULL, PRIMARY KEY (name, address))""",
        f"""CREATE TABLE IF NOT EXISTS console_trail (
            seq {d.bigint} PRIMARY KEY, at {d.real} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            detail TEXT NOT NULL, address TEXT NOT NULL, prev_hash {d.blob} NOT NULL, hash {d.blob} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS console_trail_at ON console_trail (at)",
        *(_SQLITE_APPEND_ONLY if d.placeholder == "?" else _POSTGRES_APPEND_ONLY),
    ]


_SQLITE_APPEND_ONLY = [
    f"""CREATE TRIGGER IF NOT EXISTS console_trail_no_{verb.lower()} BEFORE {verb} ON console_trail
        BEGIN SELECT RAISE(ABORT, 'the console trail is append-only'); END""" for verb in ("UPDATE", "DELETE")]
_POSTGRES_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION console_trail_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'the console trail is append-only'; END $$""",
    """CREATE TRIGGER console_trail_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON console_trail
        FOR EACH STATEMENT EXECUTE FUNCTION console_trail_append_only()""",
]

# Named, ordered, each applied once; never edit one that has shipped. The prefix keeps them apart from the
# collector's own in the one `migrations` table.
MIGRATIONS: list[tuple[str, Callable[[Dialect], list[str]]]] = [
    ("console_0001_users_sessions_failures_trail", _tables),
]

_USER = ("name, role, sites, disabled, totp_secret IS NOT NULL, created_at, changed_at, last_login, password, "
         "totp_secret, totp_step")
SELECT_USER = f"SELECT {_USER} FROM console_users WHERE name = ?"
SELECT_USERS = f"SELECT {_USER} FROM console_users ORDER BY name"
INSERT_USER = ("INSERT INTO console_users (name, role, sites, password, totp_secret, created_at, changed_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING")
SELECT_SESSION = (f"SELECT s.id_hash, s.csrf, s.created_at, s.seen_at, {', '.join('u.' + c for c in _USER.split(', '))}"
                  " FROM console_sessions s JOIN console_users u ON u.name = s.name WHERE s.id_hash = ?")
SELECT_SESSIONS = ("SELECT s.name, u.role, s.address, s.created_at, s.seen_at FROM console_sessions s "
                   "JOIN console_users u ON u.name = s.name ORDER BY s.name, s.created_at")
INSERT_SESSION = ("INSERT INTO console_sessions (id_hash, name, csrf, address, created_at, seen_at) "
                  "VALUES (?, ?, ?, ?, ?, ?)")
# The newest sessions of an account stay; older ones past the limit are ended.
TRIM_SESSIONS = ("DELETE FROM console_sessions WHERE name = ? AND id_hash NOT IN "
                 "(SELECT id_hash FROM console_sessions WHERE name = ? ORDER BY created_at DESC LIMIT ?)")
EXPIRE_SESSIONS = "DELETE FROM console_sessions WHERE created_at < ? OR seen_at < ?"
UPSERT_FAILURES = ("INSERT INTO console_failures (key, failures, last_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at")
UPSERT_KNOWN = ("INSERT INTO console_known (name, address, at) VALUES (?, ?, ?) "
                "ON CONFLICT (name, address) DO UPDATE SET at = excluded.at")
TRAIL_COLUMNS = "seq, at, actor, action, detail, address, prev_hash, hash"
INSERT_TRAIL = f"INSERT INTO console_trail ({TRAIL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class UserInfo:
    """An account as the users list shows it: never its password hash nor its TOTP secret."""

    account: Account
    created_at: float
    changed_at: float
    last_login: float | None


@dataclass(frozen=True)
class Credentials:
    """What a login checks: the account, its password hash, its TOTP secret (base32) and the last step used."""

    info: UserInfo
    password: str
    totp_secret: str | None
    totp_step: int | None


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    csrf: str
    created: float
    seen: float
    user: Credentials


@dataclass(frozen=True)
class SessionInfo:
    """A session as the users page shows it: whose, from where, since when; no token, no hash."""

    name: str
    role: str
    address: str
    created: float
    seen: float


@dataclass(frozen=True)
class TrailEntry:
    seq: int
    at: float
    actor: str  # the account's name ("" for an unknown one), or "cli:USER" for the command line
    action: str
    detail: str  # canonical JSON (an object)
    address: str
    prev_hash: bytes
    hash: bytes

    def details(self) -> dict[str, Any]:
        value = json.loads(self.detail)
        return value if isinstance(value, dict) else {}


def entry_hash(prev_hash: bytes, seq: int, at: float, actor: str, action: str, detail: str, address: str) -> bytes:
    """SHA-256 over the previous entry's hash and this one's canonical content, as the kiosk's log chains."""
    content = json.dumps({"seq": seq, "at": at, "actor": actor, "action": action, "detail": detail,
                          "address": address}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev_hash + content.encode()).digest()


def sites_text(sites: frozenset[str] | None) -> str | None:
    return None if sites is None else json.dumps(sorted(sites), ensure_ascii=False)


def credentials_of(row: Sequence[Any]) -> Credentials:
    name, role, sites, disabled, has_totp, created, changed, last_login, password, secret, step = row
    account = Account(name, role_of(role), None if sites is None else frozenset(json.loads(sites)),
                      bool(disabled), bool(has_totp))
    return Credentials(UserInfo(account, created, changed, last_login), password, secret,
                       None if step is None else int(step))


def session_of(row: Sequence[Any]) -> SessionRow:
    id_hash, csrf, created, seen, *user = row
    return SessionRow(id_hash, csrf, created, seen, credentials_of(user))


def trail_entry_of(row: Sequence[Any]) -> TrailEntry:
    seq, at, actor, action, detail, address, prev_hash, hash_ = row
    return TrailEntry(int(seq), at, actor, action, detail, address, bytes(prev_hash), bytes(hash_))
