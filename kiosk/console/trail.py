"""The console's own audit trail: who did what, when, from where; append-only and chained like the kiosk's log.

Every entry's hash is SHA-256 over the previous entry's hash and its own canonical content (seq, time, actor,
action, detail, address), so editing, removing or reordering an entry breaks the chain at that entry, and
`verify()` names the first one broken. The store only ever appends (its tables refuse UPDATE and DELETE by
trigger). Admins read it page by page (`entries`) and export it (`rows`).

Actions recorded (the detail names the object): login, login_failed (reason), logout, sessions_ended,
export, report, trace (case reference and query), enrol, revoke, rename, upload, publish, correct, purge,
user_add, user_passwd, user_disable, user_enable, user_totp, user_change. Nothing secret goes in: a detail
key that names one (password, code, token, secret, csrf, cookie) is refused, and the caller never has one to
give (auth.py records a failed login's name only when it is an account's: people type passwords there too).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from kiosk.console.console_schema import GENESIS, TrailEntry, entry_hash
from kiosk.console.console_store import ConsoleStore

MAX_DETAIL = 4096  # characters of an entry's detail (canonical JSON)
MAX_TEXT = 128  # characters of its actor and address
PAGE = 1000  # entries read at a time by verify() and rows()
ROW_COLUMNS = ("seq", "at", "actor", "action", "detail", "address", "hash")
_ACTION = re.compile(r"[a-z][a-z_]{0,31}")
_SECRET_KEYS = re.compile(r"password|passwd|passphrase|secret|token|csrf|cookie|^(code|otp|totp)$", re.IGNORECASE)


@dataclass(frozen=True)
class Broken:
    """The first entry where the chain does not hold, and how."""

    seq: int
    problem: str


class Trail:
    def __init__(self, store: ConsoleStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def append(self, actor: str, action: str, detail: Mapping[str, object], address: str,
               at: float | None = None) -> TrailEntry:
        """Record one entry (at `at`, else now). ValueError: an action that is not a word, a detail too long or
        naming a secret."""
        if not _ACTION.fullmatch(action):
            raise ValueError(f"a trail action is a lower-case word: {action[:40]!r}")
        _refuse_secrets(detail)
        text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        if len(text) > MAX_DETAIL:
            raise ValueError(f"a trail entry's detail is at most {MAX_DETAIL} characters, not {len(text):,}")
        return self.store.append_trail(self.clock() if at is None else at, actor[:MAX_TEXT], action, text,
                                       address[:MAX_TEXT])

    def entries(self, since: float | None = None, until: float | None = None, after: int | None = None,
                limit: int = 100) -> list[TrailEntry]:
        """Entries in [since, until), newest first; `after`: the seq of the last one shown (the next page)."""
        return self.store.trail_newest(since, until, after, max(1, min(limit, PAGE)))

    def rows(self, since: float | None = None, until: float | None = None) -> Iterator[list[tuple[object, ...]]]:
        """Entries in [since, until), oldest first, as rows of ROW_COLUMNS (the detail as JSON, the hash in hex),
        a page at a time: an export's memory does not grow with the trail."""
        after = 0
        while page := self.store.trail_oldest(since, until, after, PAGE):
            yield [(e.seq, e.at, e.actor, e.action, e.detail, e.address, e.hash.hex()) for e in page]
            after = page[-1].seq

    def verify(self) -> Broken | None:
        """Walk the whole chain; the first entry that is missing, edited or out of place (None: it all holds)."""
        prev_seq, prev_hash = 0, GENESIS
        while page := self.store.trail_oldest(None, None, prev_seq, PAGE):
            for e in page:
                if e.seq != prev_seq + 1:
                    return Broken(e.seq, f"entries {prev_seq + 1} to {e.seq - 1} are missing")
                if e.prev_hash != prev_hash:
                    return Broken(e.seq, "it does not link to the entry before it")
                if e.hash != entry_hash(e.prev_hash, e.seq, e.at, e.actor, e.action, e.detail, e.address):
                    return Broken(e.seq, "its content does not match its hash (edited)")
                prev_seq, prev_hash = e.seq, e.hash
        return None


def _refuse_secrets(detail: object) -> None:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if _SECRET_KEYS.search(str(key)):
                raise ValueError(f"a trail entry holds nothing secret: no {str(key)[:40]!r} in its detail")
            _refuse_secrets(value)
    elif isinstance(detail, list | tuple):
        for value in detail:
            _refuse_secrets(value)
