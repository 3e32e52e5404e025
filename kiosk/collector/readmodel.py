"""What the web console asks of the collector's store, and the words it counts in. Pure.

The figures (overview) and their definitions; tests compute each from the events they made:

- scans: events of kind "scan" (a code read and decided), every verdict, retries included;
  passes, denies and retries are the scans of each verdict.
- registrations: events of kind "manual" (a person without a code, registered by hand).
  Their corrections (kind "correction") are no new people and are counted nowhere.
- fevers: scans and registrations the kiosk recorded with reason "fever" (by its policy's
  threshold, when they were made).
- people: at one site over a range, the distinct subject references among its scans, plus its
  registrations (nobody can tell whether two registrations are one person). Each site counts
  its own: a person seen at two sites is one at each, two in the sum.
- outages: a kiosk's camera, scanner or thermometer went from working (or unknown) to a problem
  state ("lost", "disconnected", ...): the kiosk logs that as an event of kind "device".

They come from roll-ups the store keeps while it stores each batch (kiosk/collector/rollup.py),
never from a scan of the events: per site, kiosk and hour the counts, per site and day the
subjects seen. Hours and days are those of the collector's time zone (`day_zone` of a store).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field

from kiosk.audit.corrections import Fix
from kiosk.audit.events import Event
from kiosk.collector.records import Device

MAX_PAGE = 500  # events in one page of the events list
MAX_VISITS = 500  # visits of one subject a trace shows
MAX_CONTACTS = 1000  # others present around one visit a trace shows
MAX_WINDOW = 24 * 3600.0  # seconds either side of a visit
MAX_TEXT = 200  # characters of one filter value (a site, a reason, a subject reference)
MAX_SITES = 10_000  # sites in one query's scope
MAX_HOURS = 24 * 93  # hour_starts of one overview: a quarter
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_DEVICE_ID = re.compile("[0-9a-f]{16}")
_ULID = re.compile("[0-7][0-9A-HJKMNP-TV-Z]{25}")


@dataclass(frozen=True)
class Figures:
    people: int | None = 0  # None in an hour's figures: people are counted over the whole range only
    scans: int = 0
    passes: int = 0
    denies: int = 0
    retries: int = 0
    fevers: int = 0
    registrations: int = 0


@dataclass(frozen=True)
class KioskState:
    """An enrolled kiosk as the console shows it: the store's Device, where it is, and its newest status."""

    device: Device  # last sync: device.last_seen; chain faults: device.faults; revoked: device.revoked_at
    site: str | None  # the site of its newest event; None: it has sent none
    status_at: float | None = None  # when its newest status came (the collector's clock); None: never sent one
    backlog: int | None = None  # events it had not sent yet, as it said then
    trust_issued_at: float | None = None
    trust_refreshed: float | None = None
    clock_offset: float | None = None  # the collector's clock minus the kiosk's, as the kiosk measured it
    devices: dict[str, str] = field(default_factory=dict)  # "camera"|"scanner"|"thermometer" -> its state
    outages: int = 0  # device outages logged in the range asked (see the module's definitions)
    raw_subjects: bool = False  # its newest status said its log stores raw subject ids, not references


@dataclass(frozen=True)
class SiteOverview:
    site: str  # "": events logged without a [log] site, and kiosks that have sent none
    kiosks: list[KioskState]
    figures: Figures  # over [start, end)
    hours: list[Figures]  # one per hour_starts: [hour_starts[i], hour_starts[i + 1]), the last up to `end`


@dataclass(frozen=True)
class Overview:
    start: float
    end: float
    hour_starts: list[float]
    sites: list[SiteOverview]  # by name

    @property
    def totals(self) -> Figures:
        """Every site's figures added up (people: each site's own, so a person at two sites is two)."""
        sums = [sum(getattr(s.figures, name) or 0 for s in self.sites) for name in _FIGURES]
        return Figures(*sums)


_FIGURES = ("people", "scans", "passes", "denies", "retries", "fevers", "registrations")


def _text(name: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT or _UNSTORABLE.search(value)):
        raise ValueError(f"{name}: a text of at most {MAX_TEXT} characters without NUL")


def check_range(since: float | None, until: float | None) -> None:
    for name, value in (("since", since), ("until", until)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{name}: not a time")


@dataclass(frozen=True)
class EventQuery:
    """The events list's filters; None: any. `sites` is the account's scope (None: every site, and "")."""

    sites: frozenset[str] | None = None
    device: str | None = None  # a device id
    since: float | None = None
    until: float | None = None
    verdict: str | None = None
    reason: str | None = None
    subject: str | None = None  # a subject reference, exactly as stored
    kind: str | None = None  # "scan", "manual", "correction", "device", ...

    def __post_init__(self) -> None:
        """ValueError (one line) for a value no query should carry: every value still goes as a parameter."""
        for name in ("device", "verdict", "reason", "subject", "kind"):
            _text(name, getattr(self, name))
        if self.sites is not None:
            if len(self.sites) > MAX_SITES:
                raise ValueError(f"sites: at most {MAX_SITES}")
            for site in self.sites:
                _text("site", site)
        check_range(self.since, self.until)


@dataclass(frozen=True)
class EventRow:
    event: Event  # as the kiosk logged it (details parsed; {} when unreadable)
    device_id: str
    device_name: str  # "Gate 2 (3f2a9c1b)": the name the collector enrolled it under, and its short id
    fix: Fix | None = None  # a registration's corrections, added up (kiosk.audit.corrections); None: none


@dataclass(frozen=True)
class EventPage:
    rows: list[EventRow]  # newest first
    next: str | None  # the cursor of the next (older) page; None: this is the last


Key = tuple[float, str, str]  # (at, device_id, id): the order of the events list


def encode_cursor(key: Key) -> str:
    """An opaque cursor: where the next page starts (after this row, going back in time)."""
    text = json.dumps([key[0], key[1], key[2]], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Key:
    """The key of a cursor `encode_cursor` made; ValueError (one line) for anything else."""
    problem = ValueError("not a cursor of the events list (start again from the first page)")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= 200 or not cursor.isascii():
        raise problem
    try:
        at, device, id_ = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise problem from None
    if not (isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at)
            and isinstance(device, str) and _DEVICE_ID.fullmatch(device)
            and isinstance(id_, str) and _ULID.fullmatch(id_)):
        raise problem
    return float(at), device, id_


@dataclass(frozen=True)
class Contact:
    """Someone else at the site around a visit: a code's subject, or a person registered by hand."""

    event_id: str
    at: float
    kind: str  # "scan" or "manual"
    subject_ref: str | None  # a scan's; None for a registration
    verdict: str | None
    reason: str | None
    temperature: float | None
    lane: str
    device_id: str
    fields: dict[str, object] = field(default_factory=dict)  # a registration's fields, corrections applied

    @property
    def who(self) -> str:
        """One person's key: the subject reference, or the registration's event id."""
        return self.subject_ref or f"registration {self.event_id}"


@dataclass(frozen=True)
class Visit:
    event_id: str
    at: float
    site: str
    lane: str
    device_id: str
    device_name: str
    verdict: str | None
    reason: str | None
    temperature: float | None
    others: list[Contact]  # each person once (their first event in the window), in time order
    others_truncated: bool = False  # more than MAX_CONTACTS were there


@dataclass(frozen=True)
class Trace:
    subject_ref: str
    since: float
    until: float
    window: float
    visits: list[Visit]  # in time order
    truncated: bool = False  # more than MAX_VISITS visits: the first MAX_VISITS are shown
