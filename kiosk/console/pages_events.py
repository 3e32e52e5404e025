"""The events list (/events): filtered (kiosk/console/filters.py), newest first, a page at a time by keyset (the
cursor of the last row shown, never an offset), hand registrations shown with their corrections applied and the
values they replaced. Every query carries the account's sites: a site, kiosk or cursor outside them is 403/404.
A kiosk that stores raw subject ids (its status says so) has them shown as references (the --subject-key's) to an
account that may not trace, and not at all without the key, as in exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kiosk.audit.words import event_words
from kiosk.collector.readmodel import EventPage, EventQuery, EventRow
from kiosk.console.exporting import reference_of
from kiosk.console.filters import Filters, input_value, parse
from kiosk.console.page import sites_for
from kiosk.console.pages_correct import link as correction_link
from kiosk.console.web import ConsoleParts, Page, call, needs, render
from kiosk.console.words import reason_word
from kiosk.device_names import label
from kiosk.terms import EVENT_KINDS, PERSON_FIELDS, REASON_WORDS, VERDICTS, Language, word

PAGE_SIZE = 50  # events a page


@dataclass(frozen=True)
class RowView:
    id: str
    at: float
    kind: str  # in words
    site: str
    lane: str
    kiosk: str  # "Gate 2 (3f2a9c1b)"
    verdict: str | None
    reason: str  # in words (a device or admin event says what happened)
    temperature: float | None
    subject: str | None
    fields: list[tuple[str, str, str | None]]  # (field in words, value, the value it replaced or None)
    corrected: tuple[float, str] | None  # (when, by whom) of the newest correction
    correct: str | None = None  # a registration's correction form (kiosk/console/pages_correct.py), if allowed


def _row(row: EventRow, lang: Language, hidden: Mapping[str, str | None] | None = None) -> RowView:
    """`hidden`: a raw id shown as its reference (kiosks that store raw ids, for an account that may not trace)."""
    event, fix = row.event, row.fix
    subject = event.subject_ref if hidden is None else hidden.get(event.subject_ref or "")
    index = 0 if lang == "zh" else 1
    temperature, reason = fix.values(event.temperature, event.reason) if fix else (event.temperature, event.reason)
    said = event_words(event.kind, event.details)
    fields: list[tuple[str, str, str | None]] = []
    if event.kind == "manual":
        now = fix.details(event.details) if fix else dict(event.details)
        for key in sorted(set(now) | (set(event.details) if fix else set())):
            before = event.details.get(key)
            value = now.get(key)
            was = None if fix is None or before == value or before in (None, "") else str(before)
            fields.append((word(PERSON_FIELDS, key, lang), "" if value is None else str(value), was))
    elif event.kind == "correction" and isinstance(changed := event.details.get("fields"), dict):
        for key, value in sorted(changed.items()):
            fields.append((word(PERSON_FIELDS, str(key), lang), str(value), None))
    reason_text = said[index] if said else reason_word(reason, lang)
    return RowView(event.id, event.at, word(EVENT_KINDS, event.kind, lang), event.site, event.lane, row.device_name,
                   event.verdict, reason_text, temperature, subject, fields,
                   (fix.at, fix.operator) if fix else None)


def _query(filters: Filters, sites: frozenset[str] | None, subject: str | None) -> EventQuery:
    return EventQuery(sites, filters.device, filters.since, filters.until, filters.verdict, filters.reason, subject,
                      filters.kind)


async def _subject(parts: ConsoleParts, filters: Filters, sites: frozenset[str] | None) -> str | None:
    """The reference to look for: with the deployment's key, a typed id's reference when it has events, else the
    text as a reference (both are 32 hex digits; a reference that is also another person's id is 2^-128 likely)."""
    if not filters.subjects:
        return None
    if len(filters.subjects) == 2:
        probe: EventPage = await call(parts.store.events_page, _query(filters, sites, filters.subjects[1]), None, 1)
        if probe.rows:
            return filters.subjects[1]
    return filters.subjects[0]


@needs("events")
async def events_page(request: Request, parts: ConsoleParts) -> Response:
    account, language = request.state.account, request.state.language
    filters = parse(request.query_params, parts.tz, parts.subject_key)
    sites = await call(sites_for, account, filters.site, parts.store)
    kiosks = [k for k in await call(parts.store.kiosks, sites) if account.sees(k.site or "")]
    if filters.device is not None and filters.device not in {k.device.id for k in kiosks}:
        raise LookupError(filters.device)  # a kiosk of a site the account may not see: as if there were none
    subject = await _subject(parts, filters, sites)
    page: EventPage = await call(parts.store.events_page, _query(filters, sites, subject), filters.after, PAGE_SIZE)
    all_sites = await call(sites_for, account, None, parts.store)
    site_names = sorted(all_sites) if all_sites is not None else sorted(s for s in await call(parts.store.sites) if s)
    # Every kiosk's, not only those of the account's sites: a kiosk's site is that of its newest event.
    raw = set() if account.may("trace") else {k.device.id for k in await call(parts.store.kiosks, None)
                                              if k.raw_subjects}
    references = {r.event.subject_ref: reference_of(r.event.subject_ref, parts.subject_key)
                  for r in page.rows if r.device_id in raw and r.event.subject_ref}
    context: dict[str, Any] = {
        "rows": [replace(_row(row, language, references if row.device_id in raw else None),
                         correct=correction_link(row, filters.link(filters.after))
                         if row.event.kind == "manual" and account.may("correct") and account.sees(row.event.site)
                         else None) for row in page.rows],
        "filters": filters,
        "next_link": filters.link(page.next) if page.next else None,
        "first_link": filters.link() if filters.after else None,
        "sites": site_names, "kiosks": sorted((label(k.device.name, k.device.id), k.device.id) for k in kiosks),
        "verdicts": list(VERDICTS), "reasons": sorted(REASON_WORDS), "kinds": list(EVENT_KINDS),
        "has_key": parts.subject_key is not None,
        "since_value": input_value(filters.since, parts.tz), "until_value": input_value(filters.until, parts.tz)}
    return render(request, "events.html", **context)


PAGES = [Page("/events", events_page, nav=("记录", "Events"), order=20)]
