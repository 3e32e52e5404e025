"""The console's store: accounts, sessions, login failures and the audit trail, in the collector's own database.

`open_console_store(url)` takes the collector's database URL (kiosk/collector/database.py): a SQLite file gets
a connection of its own (console_sqlite.py), a PostgreSQL server a small pool of its own (console_pg.py). All
the SQL is here, written once: the two backends only say how a transaction is opened and how one is made to
wait for another (`_lock`). Every write that must not interleave with the same write of another process (a
login's attempt counted against its backoff, a trail entry chained to the last) takes that lock first, so two
`kiosk collector serve` processes on one PostgreSQL share sessions, backoff and trail and never fork the chain.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from kiosk.closing import ClosedOnExit
from kiosk.collector.schema import Dialect
from kiosk.console import console_schema as q
from kiosk.console.accounts import Account
from kiosk.console.backoff import Backoff, Failures, Keys
from kiosk.errors import KioskError

BACKOFF_LOCK = 0x6B696F736B01  # advisory lock keys (PostgreSQL): login attempts, the trail's chain
TRAIL_LOCK = 0x6B696F736B02


class ConsoleStore(ClosedOnExit):
    dialect: Dialect

    # --- what a backend provides -----------------------------------------------------------------------------
    def _write(self, doing: str) -> contextlib.AbstractContextManager[Any]:
        """One transaction; yields something with execute(sql, args) -> cursor."""
        raise NotImplementedError

    def _read(self, doing: str) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _lock(self, db: Any, key: int) -> None:
        """Within a transaction: wait for any other holding `key` until it commits."""
        raise NotImplementedError

    def _x(self, db: Any, sql: str, args: list[Any] | tuple[Any, ...] = ()) -> Any:
        return db.execute(self.dialect.sql(sql), args)

    def _migrate_with(self, db: Any) -> None:
        """Apply the console's migrations not yet recorded (the caller holds the migration lock)."""
        from kiosk.collector.schema import MIGRATIONS_TABLE

        self._x(db, MIGRATIONS_TABLE.format(real=self.dialect.real))
        done = {row[0] for row in self._x(db, "SELECT name FROM migrations").fetchall()}
        for name, tables in q.MIGRATIONS:
            if name not in done:
                for statement in tables(self.dialect):
                    self._x(db, statement)
                self._x(db, "INSERT INTO migrations VALUES (?, ?)", [name, time.time()])

    # --- accounts --------------------------------------------------------------------------------------------
    def add_user(self, account: Account, password: str, totp_secret: str | None, at: float) -> None:
        with self._write(f"add the account {account.name!r}") as db:
            row = [account.name, account.role, q.sites_text(account.sites), password, totp_secret, at, at]
            if self._x(db, q.INSERT_USER, row).rowcount == 0:
                raise KioskError(f"there is a console account {account.name!r} already")

    def credentials(self, name: str) -> q.Credentials | None:
        with self._read("read an account") as db:
            row = self._x(db, q.SELECT_USER, [name]).fetchone()
        return q.credentials_of(row) if row is not None else None

    def users(self) -> list[q.UserInfo]:
        with self._read("read the accounts") as db:
            return [q.credentials_of(row).info for row in self._x(db, q.SELECT_USERS).fetchall()]

    def change_user(self, name: str, at: float, end_sessions: bool, **columns: object) -> int | None:
        """Set `columns` of the account (password, disabled, totp_secret, role, sites), ending its sessions if
        asked; the number of sessions ended, or None when there is no such account."""
        allowed = {"password", "disabled", "totp_secret", "totp_step", "role", "sites"}
        assert columns and set(columns) <= allowed  # names of this module's callers, never input
        sets = ", ".join(f"{column} = ?" for column in columns)
        with self._write(f"change the account {name!r}") as db:
            if self._x(db, f"UPDATE console_users SET {sets}, changed_at = ? WHERE name = ?",
                       [*columns.values(), at, name]).rowcount == 0:
                return None
            if not end_sessions:
                return 0
            return int(self._x(db, "DELETE FROM console_sessions WHERE name = ?", [name]).rowcount)

    def use_totp_step(self, name: str, step: int) -> bool:
        """Record `step` as the account's last TOTP step used, if it is later than the last one (False: the code
        was used already, here or by another process)."""
        with self._write("record a second-factor code") as db:
            return bool(self._x(db, "UPDATE console_users SET totp_step = ? WHERE name = ? AND "
                                    "(totp_step IS NULL OR totp_step < ?)", [step, name, step]).rowcount)

    # --- login attempts (backoff) ----------------------------------------------------------------------------
    def take_attempt(self, keys: Keys, name: str, rules: Backoff, now: float) -> tuple[float, float | None]:
        """The wait still due for a login under `keys` (then nothing is counted), else 0 with the attempt
        counted as a failure until `logged_in` says otherwise: one transaction, one at a time. With it, the
        time of the address's failure before (None: none), for `logged_in` to put back."""
        with self._write("count a login attempt") as db:
            self._lock(db, BACKOFF_LOCK)
            found = {key: Failures(int(count), last) for key, count, last in self._x(
                db, "SELECT key, failures, last_at FROM console_failures WHERE key IN (?, ?, ?)",
                [keys.account, keys.address, keys.pair]).fetchall()}
            known = self._x(db, "SELECT 1 FROM console_known WHERE name = ? AND address = ? AND at >= ?",
                            [name, keys.address, now - rules.known_for]).fetchone() is not None
            wait = rules.wait(found.get(keys.account), found.get(keys.address), found.get(keys.pair), known, now)
            before = found.get(keys.address)
            if wait > 0:
                return wait, None
            for key in (keys.account, keys.address, keys.pair):
                counted = rules.counted(found.get(key), now)
                self._x(db, q.UPSERT_FAILURES, [key, counted.count, counted.last])
            self._x(db, "DELETE FROM console_failures WHERE last_at < ?", [now - rules.forget])
            return 0.0, None if before is None or now - before.last >= rules.forget else before.last

    def logged_in(self, name: str, keys: Keys, at: float, address_before: float | None, new_hash: str | None,
                  rules: Backoff) -> None:
        """A login (its attempt counted at `at`) succeeded: clear the account's failures, take the attempt back
        from the address's (its count, and its time unless a later failure came since), know the address for
        the account, note the time (and the password's new hash, if it was rehashed)."""
        with self._write("record a login") as db:
            self._lock(db, BACKOFF_LOCK)
            self._x(db, "DELETE FROM console_failures WHERE key IN (?, ?)", [keys.account, keys.pair])
            self._x(db, "UPDATE console_failures SET failures = failures - 1, last_at = CASE WHEN last_at = ? "
                        "THEN ? ELSE last_at END WHERE key = ?", [at, address_before or at, keys.address])
            self._x(db, "DELETE FROM console_failures WHERE key = ? AND failures <= 0", [keys.address])
            self._x(db, q.UPSERT_KNOWN, [name, keys.address, at])
            self._x(db, "DELETE FROM console_known WHERE at < ?", [at - rules.known_for])
            if new_hash is not None:
                self._x(db, "UPDATE console_users SET password = ? WHERE name = ?", [new_hash, name])
            self._x(db, "UPDATE console_users SET last_login = ? WHERE name = ?", [at, name])

    # --- sessions --------------------------------------------------------------------------------------------
    def add_session(self, id_hash: str, name: str, csrf: str, address: str, at: float, *, idle: float,
                    absolute: float, most: int, replacing: str | None = None) -> None:
        """A new session (the expired ones of every account ended, and the account's oldest past `most`)."""
        with self._write("start a session") as db:
            self._x(db, q.EXPIRE_SESSIONS, [at - absolute, at - idle])
            if replacing is not None:
                self._x(db, "DELETE FROM console_sessions WHERE id_hash = ?", [replacing])
            self._x(db, q.INSERT_SESSION, [id_hash, name, csrf, address, at, at])
            self._x(db, q.TRIM_SESSIONS, [name, name, most])

    def session(self, id_hash: str) -> q.SessionRow | None:
        with self._read("read a session") as db:
            row = self._x(db, q.SELECT_SESSION, [id_hash]).fetchone()
        return q.session_of(row) if row is not None else None

    def touch_session(self, id_hash: str, at: float) -> None:
        with self._write("note a session's use") as db:
            self._x(db, "UPDATE console_sessions SET seen_at = ? WHERE id_hash = ? AND seen_at < ?",
                    [at, id_hash, at])

    def drop_session(self, id_hash: str) -> str | None:
        """End one session; whose it was (None: there was none)."""
        with self._write("end a session") as db:
            row = self._x(db, "SELECT name FROM console_sessions WHERE id_hash = ?", [id_hash]).fetchone()
            self._x(db, "DELETE FROM console_sessions WHERE id_hash = ?", [id_hash])
        return None if row is None else str(row[0])

    def drop_sessions(self, name: str) -> int:
        with self._write("end sessions") as db:
            return int(self._x(db, "DELETE FROM console_sessions WHERE name = ?", [name]).rowcount)

    def sessions(self) -> list[q.SessionInfo]:
        with self._read("read the sessions") as db:
            return [q.SessionInfo(*row) for row in self._x(db, q.SELECT_SESSIONS).fetchall()]

    # --- the trail -------------------------------------------------------------------------------------------
    def append_trail(self, at: float, actor: str, action: str, detail: str, address: str) -> q.TrailEntry:
        """Chain one entry after the last (under the trail's lock: no two processes chain to the same one)."""
        with self._write("append to the console trail") as db:
            self._lock(db, TRAIL_LOCK)
            last = self._x(db, "SELECT seq, hash FROM console_trail ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (int(last[0]) + 1, bytes(last[1])) if last is not None else (1, q.GENESIS)
            entry = q.TrailEntry(seq, at, actor, action, detail, address, prev,
                                 q.entry_hash(prev, seq, at, actor, action, detail, address))
            self._x(db, q.INSERT_TRAIL, [entry.seq, entry.at, entry.actor, entry.action, entry.detail,
                                         entry.address, entry.prev_hash, entry.hash])
        return entry

    def trail_newest(self, since: float | None, until: float | None, before: int | None,
                     limit: int) -> list[q.TrailEntry]:
        """Entries in [since, until), newest first, those with a seq below `before` (keyset paging)."""
        where, args = _trail_filter(since, until)
        if before is not None:
            where, args = [*where, "seq < ?"], [*args, before]
        sql = f"SELECT {q.TRAIL_COLUMNS} FROM console_trail{_where(where)} ORDER BY seq DESC LIMIT ?"
        with self._read("read the console trail") as db:
            return [q.trail_entry_of(row) for row in self._x(db, sql, [*args, limit]).fetchall()]

    def trail_oldest(self, since: float | None, until: float | None, after: int, limit: int) -> list[q.TrailEntry]:
        """Entries in [since, until) with a seq above `after`, oldest first (verify, export)."""
        where, args = _trail_filter(since, until)
        sql = f"SELECT {q.TRAIL_COLUMNS} FROM console_trail{_where([*where, 'seq > ?'])} ORDER BY seq LIMIT ?"
        with self._read("read the console trail") as db:
            return [q.trail_entry_of(row) for row in self._x(db, sql, [*args, after, limit]).fetchall()]


def _trail_filter(since: float | None, until: float | None) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    if since is not None:
        where, args = [*where, "at >= ?"], [*args, since]
    if until is not None:
        where, args = [*where, "at < ?"], [*args, until]
    return where, args


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""
