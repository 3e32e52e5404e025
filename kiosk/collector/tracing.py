"""A trace: where one subject was, and who else was at the same site within a window of each visit.

Visits are the subject's scans (by its subject reference) in [since, until) at the
sites of the scope, found by the index on (subject_ref, at); the others of each visit
are the scans and hand registrations at that site within +-window of it, found by the
index on (site, at). Events logged without a site ("") say nothing of where they were:
their others are only those of the same kiosk. Each other person is listed once per
visit (their first event in the window); a registration is one person, shown with its
fields as corrected.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kiosk.collector import console_sql as sql
from kiosk.collector.dialect import Tx
from kiosk.collector.readmodel import MAX_CONTACTS, MAX_VISITS, Contact, Trace, Visit
from kiosk.collector.readrows import event_of, fixes_for, labels


def trace_in(tx: Tx, subject_ref: str, since: float, until: float, window: float,
             sites: Collection[str] | None) -> Trace:
    text, args = sql.visits(sites)
    found = tx.all(text, [subject_ref, since, until, *args, MAX_VISITS + 1])
    names = labels(tx)
    around: list[tuple[Any, list[Any], bool]] = []
    for row in found[:MAX_VISITS]:
        visit = event_of(row)
        near = tx.all(sql.NEAR, [visit.site, visit.at - window, visit.at + window, MAX_CONTACTS + 1])
        truncated = len(near) > MAX_CONTACTS
        others = [other for other in near[:MAX_CONTACTS]
                  if other[-1] == row[-1] or visit.site != ""]  # no site: the same kiosk's only
        around.append((row, others, truncated))
    fixes = fixes_for(tx, [other for _, others, _ in around for other in others])
    visits = []
    for row, others, truncated in around:
        visit = event_of(row)
        contacts: dict[str, Contact] = {}
        for other in others:
            event = event_of(other)
            if event.subject_ref == subject_ref or event.id == visit.id:
                continue
            fix = fixes.get(event.id) if event.kind == "manual" else None
            fields = fix.details(event.details) if fix else dict(event.details) if event.kind == "manual" else {}
            temperature, reason = fix.values(event.temperature, event.reason) if fix else (event.temperature,
                                                                                          event.reason)
            contact = Contact(event.id, event.at, event.kind, event.subject_ref, event.verdict, reason, temperature,
                              event.lane, other[-1], fields)
            contacts.setdefault(contact.who, contact)
        visits.append(Visit(visit.id, visit.at, visit.site, visit.lane, row[-1], names.get(row[-1], row[-1][:8]),
                            visit.verdict, visit.reason, visit.temperature, list(contacts.values()), truncated))
    return Trace(subject_ref, since, until, window, visits, len(found) > MAX_VISITS)
