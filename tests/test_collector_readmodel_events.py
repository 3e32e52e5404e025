"""The console's events list (keyset pages, newest first), a trace, and site-limited rows and exports.

On SQLite and on a real PostgreSQL server; the kiosks, their events and the expected answers
are made here (tests/test_collector_readmodel.py has the kiosks and the stores).
"""

from __future__ import annotations

import base64
import csv
import json
import random
from pathlib import Path

import pytest

from kiosk.audit.events import Event
from kiosk.collector import reads
from kiosk.collector.readmodel import MAX_PAGE, EventQuery, EventRow
from kiosk.collector.store import CollectorStore
from kiosk.collector.views import export_all
from kiosk.errors import StoreError
from tests.test_collector_readmodel import (  # noqa: F401 - backend and open_store are fixtures
    DAY,
    HOSTILE,
    SHANGHAI,
    Kiosk,
    Made,
    OpenStore,
    backend,
    busy_day,
    day_start,
    open_store,
    send_all,
    site_kiosks,
)

T = day_start(DAY, SHANGHAI)


def newest_first(made: list[Made]) -> list[str]:
    return [m.event.id for m in sorted(made, key=lambda m: (m.event.at, m.device_id, m.event.id), reverse=True)]


def all_pages(store: CollectorStore, query: EventQuery, limit: int) -> list[list[EventRow]]:
    pages, after = [], None
    while True:
        page = store.events_page(query, after, limit)
        pages.append(page.rows)
        if page.next is None:
            return pages
        after = page.next


@pytest.fixture
def filled(open_store: OpenStore) -> tuple[CollectorStore, list[Kiosk]]:  # noqa: F811 - the fixture above
    store = open_store()
    kiosks = site_kiosks(store)
    busy_day(kiosks, T, random.Random(1), n=40)
    for kiosk in kiosks[:2]:  # events at the same instant on two kiosks: the key's device id and id order them
        kiosk.add(T + 86400 - 0.5, "scan", verdict="pass", reason="ok", subject_ref="ee" * 16)
    send_all(store, kiosks, T + 86400)
    return store, kiosks


@pytest.mark.parametrize("split", [True, False], ids=["site-by-site", "one-query"])
def test_every_filter_pages_through_its_events_newest_first_each_once(
        filled: tuple[CollectorStore, list[Kiosk]], split: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    store, kiosks = filled
    monkeypatch.setattr(reads, "SPLIT_SITES", 32 if split else 0)
    made = [m for kiosk in kiosks for m in kiosk.made]
    subject = next(m.event.subject_ref for m in made if m.event.subject_ref)
    two_sites = frozenset(HOSTILE[1:3])
    cases = [
        (EventQuery(), made),
        (EventQuery(sites=two_sites), [m for m in made if m.event.site in two_sites]),
        (EventQuery(sites=frozenset({""})), [m for m in made if m.event.site == ""]),
        (EventQuery(sites=frozenset()), []),
        (EventQuery(sites=two_sites, verdict="deny"),
         [m for m in made if m.event.site in two_sites and m.event.verdict == "deny"]),
        (EventQuery(reason="fever"), [m for m in made if m.event.reason == "fever"]),
        (EventQuery(kind="manual"), [m for m in made if m.event.kind == "manual"]),
        (EventQuery(subject=subject), [m for m in made if m.event.subject_ref == subject]),
        (EventQuery(device=kiosks[3].id, since=T + 3600 * 6, until=T + 3600 * 18),
         [m for m in made if m.device_id == kiosks[3].id and T + 3600 * 6 <= m.event.at < T + 3600 * 18]),
        (EventQuery(sites=frozenset({HOSTILE[1]}), subject="' OR '1'='1"), []),
    ]
    for query, wanted in cases:
        pages = all_pages(store, query, 7)
        assert [row.event.id for page in pages for row in page] == newest_first(wanted), query
        assert all(len(page) <= 7 for page in pages) and (len(pages) == 1 or all(pages))


def test_a_row_is_the_event_as_logged_with_its_kiosk_named_as_enrolled(
        filled: tuple[CollectorStore, list[Kiosk]]) -> None:
    store, kiosks = filled
    made = {m.event.id: m for kiosk in kiosks for m in kiosk.made}
    names = {kiosk.id: f"gate {kiosk.name} ({kiosk.id[:8]})" for kiosk in kiosks}
    for row in store.events_page(EventQuery(), None, MAX_PAGE).rows:
        assert row.event == made[row.event.id].event
        assert (row.device_id, row.device_name) == (made[row.event.id].device_id, names[row.device_id])


def test_registrations_carry_their_corrections(open_store: OpenStore) -> None:  # noqa: F811
    store = open_store()
    kiosk, other = site_kiosks(store, per_site=1)[:2]
    first = kiosk.add(T + 100, "manual", operator="li", temperature=36.4, details={"name": "张三", "phone": "138"})
    second = kiosk.add(T + 200, "manual", operator="li", temperature=36.6, details={"name": "李四"})
    kiosk.add(T + 300, "correction", operator="wang", details={"corrects": first.id, "fields": {"name": "张山"},
                                                               "was": {"name": "张三"}})
    kiosk.add(T + 400, "correction", operator="zhao", temperature=38.2, reason="fever",
              details={"corrects": first.id, "fields": {"phone": ""}, "was": {"phone": "138", "temperature": 36.4}})
    other.add(T + 500, "correction", operator="x", details={"corrects": second.id, "fields": {"name": "冒名"},
                                                            "was": {"name": "李四"}})  # another kiosk's: not its
    send_all(store, [kiosk, other], T + 1000)

    rows = {row.event.id: row for row in store.events_page(EventQuery(kind="manual"), None, 10).rows}

    fix = rows[first.id].fix
    assert fix is not None and fix.count == 2 and fix.operator == "zhao"
    assert fix.details(first.details) == {"name": "张山"}
    assert fix.values(first.temperature, first.reason) == (38.2, "fever")
    assert rows[second.id].fix is None


@pytest.mark.parametrize("cursor", [
    "", "x", "!!!!", "A" * 201, "é", base64.urlsafe_b64encode(b"[1, 2]").decode(),
    base64.urlsafe_b64encode(json.dumps([1.0, "'; DROP TABLE events; --", "01KQWGXX00KMT3M5124ASS64AN"])
                             .encode()).decode(),
    base64.urlsafe_b64encode(json.dumps([1e400, "0123456789abcdef", "01KQWGXX00KMT3M5124ASS64AN"])
                             .replace("Infinity", "1e400").encode()).decode(),
    base64.urlsafe_b64encode(json.dumps([True, "0123456789abcdef", "01KQWGXX00KMT3M5124ASS64AN"])
                             .encode()).decode(),
    base64.urlsafe_b64encode(b"[" * 5000).decode()[:200],
    base64.urlsafe_b64encode(json.dumps([1.0, "0123456789abcdef", "01KQWGXX00KMT3M5124ASS64AN"])
                             .replace("]", " " * 200 + "]").encode()).decode(),  # a good key, but long: not ours
])
def test_a_tampered_cursor_is_one_clear_error_and_nothing_else(filled: tuple[CollectorStore, list[Kiosk]],
                                                               cursor: str) -> None:
    store, _ = filled
    count = store.count()
    with pytest.raises(ValueError) as refused:
        store.events_page(EventQuery(), cursor, 10)
    assert "\n" not in str(refused.value) and "cursor" in str(refused.value)
    assert store.count() == count


@pytest.mark.parametrize("query", [
    lambda: EventQuery(sites=frozenset({"a\x00b"})), lambda: EventQuery(reason="x" * 201),
    lambda: EventQuery(since=float("nan")), lambda: EventQuery(subject="\ud800"),
])
def test_a_filter_no_query_should_carry_is_refused(query: object) -> None:
    with pytest.raises(ValueError):
        query()  # type: ignore[operator]


def test_a_page_size_outside_the_bounds_is_refused(filled: tuple[CollectorStore, list[Kiosk]]) -> None:
    store, _ = filled
    for limit in (0, MAX_PAGE + 1, True):
        with pytest.raises(ValueError):
            store.events_page(EventQuery(), None, limit)


def test_rows_and_an_export_hold_only_the_sites_asked(filled: tuple[CollectorStore, list[Kiosk]],
                                                      tmp_path: Path) -> None:
    store, kiosks = filled
    made = [m for kiosk in kiosks for m in kiosk.made]
    mine = frozenset(HOSTILE[1:3])
    rows = [row for page in store.rows(sites=mine) for row in page]
    assert sorted(str(row[0]) for row in rows) == sorted(m.event.id for m in made if m.event.site in mine)
    assert [row for page in store.rows(sites=frozenset()) for row in page] == []
    out = tmp_path / "mine.csv"
    written = export_all(store, out, None, sites=mine, language="en")
    with out.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    site_column = lines[0].index("site")
    assert written == len(lines) - 1 == len(rows)
    assert {line[site_column] for line in lines[1:]} == set(mine)


# --- Trace -------------------------------------------------------------------------------------------------

def test_a_trace_finds_the_visits_and_who_else_was_there_within_the_window(
        open_store: OpenStore) -> None:  # noqa: F811
    store = open_store()
    gate, mall, other_site, no_site = (Kiosk("trace gate", "East"), Kiosk("trace mall", "East"),
                                       Kiosk("trace far", "West"), Kiosk("trace nowhere", ""))
    no_site_2 = Kiosk("trace nowhere 2", "")
    for kiosk in (gate, mall, other_site, no_site, no_site_2):
        store.enroll(kiosk.public, f"gate {kiosk.name}", 0.0)
    me, x, y, z = ("aa" * 16, "bb" * 16, "cc" * 16, "dd" * 16)

    def scan(kiosk: Kiosk, at: float, subject: str, verdict: str = "pass") -> Event:
        return kiosk.add(at, "scan", verdict=verdict, reason="ok", subject_ref=subject, temperature=36.5)

    scan(gate, T + 100, x)  # 900 s before the first visit: inside (the window's edges count)
    scan(mall, T + 99, y)  # 901 s before: outside
    visit1 = scan(gate, T + 1000, me)
    scan(mall, T + 1100, x)  # x again in the same window: listed once, at its first event
    hand = gate.add(T + 1500, "manual", operator="li", temperature=36.6, details={"name": "王五"})
    gate.add(T + 1600, "correction", operator="li", details={"corrects": hand.id, "fields": {"name": "王武"},
                                                             "was": {"name": "王五"}})
    scan(other_site, T + 1000, z)  # the same time at another site: not there
    scan(gate, T + 1900, me, "retry")  # the subject again: a visit of its own, not an "other"
    visit3 = scan(other_site, T + 50000, me)
    scan(other_site, T + 50010, z)
    visit4 = scan(no_site, T + 70000, me)
    scan(no_site, T + 70005, y)
    scan(no_site_2, T + 70005, z)  # no site on either: nothing says they were at the same place
    scan(gate, T + 90000, me)  # after `until`
    send_all(store, [gate, mall, other_site, no_site, no_site_2], T + 100000)

    trace = store.trace(me, T, T + 80000, 900.0)

    assert [(v.event_id, v.site) for v in trace.visits] == [(visit1.id, "East"), (trace.visits[1].event_id, "East"),
                                                            (visit3.id, "West"), (visit4.id, "")]
    first = trace.visits[0]
    assert [(c.who, c.at) for c in first.others] == [(x, T + 100), (f"registration {hand.id}", T + 1500)]
    assert first.others[1].fields == {"name": "王武"} and first.device_name == f"gate trace gate ({gate.id[:8]})"
    assert [c.who for c in trace.visits[1].others] == [x, f"registration {hand.id}"]  # T+1900: x at T+1100
    assert [c.who for c in trace.visits[2].others] == [z]
    assert [c.who for c in trace.visits[3].others] == [y]
    assert trace.truncated is False
    assert [v.event_id for v in store.trace(me, T, T + 80000, 900.0, frozenset({"West"})).visits] == [visit3.id]
    assert store.trace("ee" * 16, T, T + 80000, 900.0).visits == []
    for bad in (lambda: store.trace("", T, T + 1, 900.0), lambda: store.trace(me, T, T + 1, -1.0),
                lambda: store.trace(me, T, T + 1, 86401.0), lambda: store.trace(me, float("inf"), T, 900.0)):
        with pytest.raises(ValueError):
            bad()


def test_renaming_an_unknown_kiosk_is_a_store_error(filled: tuple[CollectorStore, list[Kiosk]]) -> None:
    store, kiosks = filled
    store.rename(kiosks[0].id, "North 1", 1.0)
    rows = store.events_page(EventQuery(device=kiosks[0].id), None, 1).rows
    assert rows[0].device_name == f"North 1 ({kiosks[0].id[:8]})"
    with pytest.raises(StoreError):
        store.rename("f" * 16, "North 2", 1.0)
