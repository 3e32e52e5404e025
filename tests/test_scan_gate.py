"""The hold-off between scans of the same code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.scanner.scan_gate import ScanGate

# (sightings as (text, time), which of them are new scans)
CASES = [
    ("first sighting is a scan", [("A", 0.0)], [True]),
    ("consecutive frames are one scan", [("A", 0.0), ("A", 0.03), ("A", 0.07)], [True, False, False]),
    ("standing there a minute is one scan", [("A", t / 10) for t in range(600)], [True] + [False] * 599),
    ("back after the hold-off is a new scan", [("A", 0.0), ("A", 5.0)], [True, True]),
    ("back before the hold-off is not", [("A", 0.0), ("A", 4.99)], [True, False]),
    ("hold-off counts from the last sighting", [("A", 0.0), ("A", 4.0), ("A", 8.0), ("A", 13.0)],
     [True, False, False, True]),
    ("two people alternating", [("A", 0.0), ("B", 0.1), ("A", 0.2), ("B", 0.3)], [True, True, False, False]),
]


@pytest.mark.parametrize(("sightings", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gate(sightings: list[tuple[str, float]], expected: list[bool]) -> None:
    gate = ScanGate(5.0)
    assert [gate.admit(text, at) for text, at in sightings] == expected


def test_zero_holdoff_admits_every_sighting() -> None:
    gate = ScanGate(0)
    assert [gate.admit("A", t) for t in (0, 0, 1)] == [True, True, True]


def test_negative_holdoff_is_refused() -> None:
    with pytest.raises(ValueError):
        ScanGate(-1)


@given(st.lists(st.tuples(st.sampled_from("ABCDEFGHIJ") | st.text(max_size=3), st.floats(0, 2))))
def test_memory_stays_bounded_and_rule_holds(steps: list[tuple[str, float]]) -> None:
    gate, now, last = ScanGate(1.0), 0.0, {}
    for text, gap in steps:
        now += gap
        assert gate.admit(text, now) == (text not in last or now - last[text] >= 1.0)
        last[text] = now
    assert len(gate._last_seen) <= max(65, len({t for t, s in last.items() if s >= now - 1.0}) + 65)
