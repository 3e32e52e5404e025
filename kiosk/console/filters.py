"""The events page's filters, read from a URL's query: every value bounded and checked, dates in the collector's
zone. Pure (no database): kiosk/console/pages_events.py turns them into the store's query.

    /events?site=&device=&since=&until=&verdict=&reason=&subject=&kind=&after=

since / until: a day (2026-11-27) or a time (2026-11-27T14:00, as a datetime-local field sends it) in the
collector's zone; `until` a day alone includes that day. subject: a subject reference (32 hex digits), or, when
the collector has the deployment's subject key, the id on a code (also 32 hex digits: both are searched).
A bad value is a ValueError with a message for the person (the page answers 400 with it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from urllib.parse import urlencode

from kiosk.audit.day import day_bounds
from kiosk.audit.events import subject_reference
from kiosk.terms import EVENT_KINDS, REASON_WORDS, VERDICTS

MAX_SITE = 64  # characters (an account's sites are this long at most, kiosk/console/accounts.py)
MAX_CURSOR = 200
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_DEVICE = re.compile(r"[0-9a-f]{16}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")
NAMES = ("site", "device", "since", "until", "verdict", "reason", "subject", "kind")


@dataclass(frozen=True)
class Filters:
    """What the person asked for, as typed (for the form and the links) and as the query needs it."""

    typed: dict[str, str]  # name -> the value as given (checked), for the form and the pager's links
    site: str | None = None
    device: str | None = None
    since: float | None = None
    until: float | None = None
    verdict: str | None = None
    reason: str | None = None
    subjects: tuple[str, ...] = ()  # the references to match: one, or two when an id may have been typed
    kind: str | None = None
    after: str | None = None  # the opaque cursor of the page before

    def link(self, after: str | None = None) -> str:
        """/events with these filters (and a cursor): the pager's links."""
        items = [(name, value) for name, value in self.typed.items() if value]
        if after:
            items.append(("after", after))
        return "/events" + (f"?{urlencode(items)}" if items else "")

    def first_page(self) -> Filters:
        return replace(self, after=None)


def parse(query: Mapping[str, str], zone: tzinfo, subject_key: bytes | None) -> Filters:
    """The filters of an /events URL's query; ValueError names the one that is wrong."""
    typed = {name: (query.get(name) or "").strip() for name in NAMES}
    site = _bounded(typed["site"], MAX_SITE, "site") or None
    device = typed["device"].lower() or None
    if device is not None and not _DEVICE.fullmatch(device):
        raise ValueError("device: a kiosk's device id is 16 hex digits")
    since = moment(typed["since"], zone, end=False, name="since")
    until = moment(typed["until"], zone, end=True, name="until")
    if since is not None and until is not None and until <= since:
        raise ValueError("until: must be after since")
    verdict = typed["verdict"] or None
    if verdict is not None and verdict not in VERDICTS:
        raise ValueError(f"verdict: one of {', '.join(VERDICTS)}")
    reason = typed["reason"] or None
    if reason is not None and reason not in REASON_WORDS:
        raise ValueError("reason: not a reason the kiosks give")
    kind = typed["kind"] or None
    if kind is not None and kind not in EVENT_KINDS:
        raise ValueError(f"kind: one of {', '.join(EVENT_KINDS)}")
    after = query.get("after") or None
    if after is not None and (len(after) > MAX_CURSOR or not after.isprintable()):
        raise ValueError("after: not a page of this list")
    return Filters(typed, site, device, since, until, verdict, reason, subjects(typed["subject"], subject_key),
                   kind, after)


def subjects(text: str, subject_key: bytes | None) -> tuple[str, ...]:
    """The references a typed subject stands for: itself (a reference), and with the deployment's key also the
    reference of it taken as the id on a code (16 bytes too, so the two cannot be told apart by their look)."""
    if not text:
        return ()
    if not _HEX32.fullmatch(text):
        raise ValueError("subject: a subject reference or the id on a code, 32 hex digits")
    given = text.lower()
    if subject_key is None:
        return (given,)
    return (given, subject_reference(bytes.fromhex(given), subject_key))


def moment(text: str, zone: tzinfo, *, end: bool, name: str) -> float | None:
    """Epoch seconds of a day or a time typed in the collector's zone; a day as an end: the next midnight."""
    if not text:
        return None
    try:
        if _DAY.fullmatch(text):
            start, next_day = day_bounds(date.fromisoformat(text), zone)
            return next_day if end else start
        if _TIME.fullmatch(text):
            return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=zone).timestamp()
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"{name}: a day (2026-11-27) or a time (2026-11-27T14:00)")


def _bounded(text: str, limit: int, name: str) -> str:
    if len(text) > limit or not text.isprintable():
        raise ValueError(f"{name}: at most {limit} printable characters")
    return text


def today(now: float, zone: tzinfo) -> tuple[float, float, list[float]]:
    """Today's local midnight, the next one, and the start of each hour between (23 or 25 on a DST day)."""
    start, end = day_bounds(datetime.fromtimestamp(now, zone).date(), zone)
    hours, at = [], start
    while at < end:
        hours.append(at)
        at += 3600
    return start, end, hours


def hour_label(at: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(at, zone).strftime("%H")


def input_value(at: float | None, zone: tzinfo) -> str:
    """A time as a datetime-local field shows it."""
    return "" if at is None else datetime.fromtimestamp(at, zone).strftime("%Y-%m-%dT%H:%M")
