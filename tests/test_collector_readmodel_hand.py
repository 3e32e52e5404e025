"""`hand_rows`: what an export needs before its first row (its columns and its corrections), in one read of the
events_hand index: the registrations in [since, until) and the corrections from `since` on with no end (a
correction made after the range still corrects a registration in it), at the sites in scope, of one kiosk if
asked. On SQLite and on a real PostgreSQL server; the events and the expected answers are made here.
"""

from __future__ import annotations

import json

from kiosk.collector.store import ROW_COLUMNS
from tests.test_collector_readmodel import (  # noqa: F401 - backend and open_store are fixtures
    DAY,
    HOSTILE,
    SHANGHAI,
    OpenStore,
    backend,
    day_start,
    open_store,
    send_all,
    site_kiosks,
)

T = day_start(DAY, SHANGHAI)
ID, KIND, DEVICE, DETAILS = (ROW_COLUMNS.index(c) for c in ("id", "kind", "device", "details"))


def test_registrations_in_the_range_and_corrections_from_its_start_on(open_store: OpenStore) -> None:  # noqa: F811
    store = open_store()
    kiosks = site_kiosks(store, per_site=2)
    gate, gate_b, elsewhere = kiosks[0], kiosks[1], kiosks[2]  # the first two at HOSTILE[0], the third not
    assert gate.site == gate_b.site == HOSTILE[0] != elsewhere.site
    before = gate.add(T + 50, "manual", details={"name": "early"})
    inside = gate.add(T + 100, "manual", temperature=36.6, details={"name": "张三", "phone": "138"})
    gate.add(T + 150, "scan", verdict="pass", reason="ok", subject_ref="ab" * 16)  # not made by hand
    fixed = gate.add(T + 300, "correction", operator="wang",
                     details={"corrects": inside.id, "fields": {"name": "张山"}, "was": {"name": "张三"}})
    late_fix = gate.add(T + 5000, "correction", operator="zhao",
                        details={"corrects": inside.id, "fields": {"phone": ""}, "was": {"phone": "138"}})
    after = gate.add(T + 6000, "manual", details={"name": "late"})
    other = gate_b.add(T + 200, "manual", details={"address": "<b>1</b>"})
    far = elsewhere.add(T + 400, "manual", details={"name": "far"})
    send_all(store, kiosks, T + 7000)

    rows = store.hand_rows(T + 80, T + 1000)
    assert {r[ID] for r in rows} == {inside.id, fixed.id, late_fix.id, other.id, far.id}
    assert before.id not in {r[ID] for r in rows} and after.id not in {r[ID] for r in rows}
    row = next(r for r in rows if r[ID] == inside.id)
    assert len(row) == len(ROW_COLUMNS) and row[KIND] == "manual"
    assert row[DEVICE] == f"gate {gate.name} ({gate.id[:8]})"  # the kiosk as enrolled, as rows(names=True)
    assert json.loads(str(row[DETAILS])) == {"name": "张三", "phone": "138"}

    scoped = store.hand_rows(T + 80, T + 1000, frozenset({HOSTILE[0]}))
    assert {r[ID] for r in scoped} == {inside.id, fixed.id, late_fix.id, other.id}
    assert store.hand_rows(T + 80, T + 1000, frozenset()) == []
    assert {r[ID] for r in store.hand_rows(T + 80, T + 1000, device=gate_b.id)} == {other.id}
    assert {r[ID] for r in store.hand_rows(None, None, device=gate.id)} == {
        before.id, inside.id, fixed.id, late_fix.id, after.id}
