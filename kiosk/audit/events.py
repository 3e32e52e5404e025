"""Audit events and their hash chain. Pure: the time, ids and secrets are arguments.

Each event carries the hash of the one before it; an event's own hash covers
its fields and that link, so changing, removing or reordering any committed
event breaks the chain from there on (`kiosk log verify` names where).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field, fields

from kiosk.healthcode import STATUS_NAMES
from kiosk.verdict import Verdict

GENESIS = bytes(32)  # the "previous hash" of the first event
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: float | None = None, randomness: bytes | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 characters that sort by time."""
    millis = int((time.time() if now is None else now) * 1000)
    number = millis << 80 | int.from_bytes(randomness if randomness is not None else os.urandom(10), "big")
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def id_after(ulid: str) -> str:
    """The next ULID after `ulid` (same millisecond, randomness plus one)."""
    number = 0
    for char in ulid:
        number = number * 32 + _CROCKFORD.index(char)
    number += 1
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


@dataclass(frozen=True)
class Event:
    """One line of the log. Columns stay small: the log must hold millions of events."""

    id: str
    at: float  # epoch seconds (UTC); shown in local time
    kind: str  # "scan", "manual", "correction" (of a manual one), "purge", "admin", "device"
    site: str = ""
    lane: str = ""  # lane, gate, or vehicle / route on a bus
    device: str = ""
    verdict: str | None = None
    reason: str | None = None
    status: str | None = None  # green / amber / red, after the status list
    code_kind: str | None = None  # dynamic / printed
    kid: str | None = None
    iss: str | None = None
    code_iat: int | None = None
    subject_ref: str | None = None  # HMAC of the subject, or the raw id where the authority requires it
    temperature: float | None = None
    operator: str | None = None  # who registered a person by hand, or did an admin action
    details: dict[str, object] = field(default_factory=dict)  # manual entry fields, purge counts, ...

    def canonical(self) -> bytes:
        """The bytes the chain hashes: every field, in a fixed order and form."""
        # By hand, not dataclasses.asdict: that deep-copies, and verify() hashes millions of these.
        fields_ = {name: getattr(self, name) for name in _NAMES}
        return json.dumps(fields_, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


COLUMNS = [f.name for f in fields(Event)]
_NAMES = tuple(COLUMNS)


def chain_hash(previous: bytes, event: Event) -> bytes:
    return hashlib.sha256(previous + event.canonical()).digest()


def subject_reference(subject: bytes, secret: bytes | None) -> str:
    """HMAC-SHA256 of the subject with the deployment's secret (first 16 bytes, hex), or the raw id.

    With the secret the authority can link visits for contact tracing; a stolen
    kiosk reveals no ids. No secret means the site stores raw ids on purpose.
    """
    if secret is None:
        return subject.hex()
    return hmac.new(secret, subject, hashlib.sha256).hexdigest()[:32]


def scan_event(verdict: Verdict, *, at: float, site: str = "", lane: str = "", device: str = "",
               secret: bytes | None, event_id: str | None = None) -> Event:
    """The event of a verdict. The masked name is never stored, nor anything of an HC1 code's date of birth.

    An HC1 code's certificate type goes where a PHC1 code's kind does, and details say the format: a column
    of its own would change what the chain hashes, and old logs must still verify. A PHC1 event is as it was.
    """
    shown = verdict.credential
    return Event(
        id=event_id or new_id(at), at=at, kind="scan", site=site, lane=lane, device=device,
        verdict=verdict.verdict, reason=verdict.reason,
        status=STATUS_NAMES[verdict.status] if verdict.status is not None else None,
        code_kind=(shown.certificate or shown.kind) if shown else None,
        kid=verdict.kid.hex() if verdict.kid is not None else None,
        iss=shown.iss if shown else None, code_iat=shown.iat if shown else None,
        subject_ref=subject_reference(shown.subject, secret) if shown and shown.subject is not None else None,
        temperature=verdict.reading.celsius if verdict.reading else None,
        details={"format": verdict.format} if verdict.format not in (None, "phc1") else {},
    )
