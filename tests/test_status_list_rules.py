"""The status list payload (spec section 4): its rules, the newest-entry rule, and the fast path's layouts.

Every payload is written byte by byte (tests/cbor_raw.py, RFC 8949), never by the module under test.
The expected answers come from the spec and the README ("with several entries for one subject the
latest since counts"; on equal since the later entry in the list counts, as kiosk/status_list.py
documents), worked out here by `newest()`, a plain loop of this file.

The fast path (kiosk/status_list.py) reads the layout every encoder writes; anything else goes to the
general path, which must give the same answer. A fast path that gave up on every list would change no
verdict, only make a million-entry list slow, so the tests at the end call it directly and check that
the ordinary layouts really take it, with the right index.
"""

from __future__ import annotations

import pytest

from kiosk import status_list
from kiosk.status_list import StatusList
from tests.cbor_raw import array, bstr, cmap, head, integer, tstr, uint

ISS = "CN-120000"
NOW = 1_780_000_000
A, B, C = bytes(range(16)), bytes(range(16, 32)), b"\xee" * 16
Row = tuple[bytes, int, int]


def entry(subject: bytes, status: int, since: int) -> bytes:
    return array(bstr(subject), uint(status), integer(since))


def payload(*entries: bytes, entries_first: bool = False, extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """A status list map; "entries" last (where an entry ends the payload) unless `entries_first`."""
    fields = [(tstr("type"), tstr("status")), (tstr("seq"), uint(7)), (tstr("iat"), integer(NOW)),
              (tstr("iss"), tstr(ISS)), *extra]
    listed = (tstr("entries"), array(*entries))
    return cmap(listed, *fields) if entries_first else cmap(*fields, listed)


def rows_payload(rows: list[Row], **options: bool) -> bytes:
    return payload(*(entry(*row) for row in rows), **options)  # type: ignore[arg-type]


def newest(rows: list[Row]) -> dict[bytes, tuple[int, int]]:
    """subject -> (status, since) of its entry with the latest since; on a tie the later entry."""
    kept: dict[bytes, tuple[int, int]] = {}
    for subject, status, since in rows:
        if subject not in kept or since >= kept[subject][1]:
            kept[subject] = (status, since)
    return kept


def read(data: bytes) -> dict[bytes, tuple[int, int] | None]:
    listed = StatusList.from_payload(data)
    assert (listed.seq, listed.iat, listed.iss) == (7, NOW, ISS)
    return {subject: listed.lookup(subject) for subject in listed.index} | {b"?" * 16: listed.lookup(b"?" * 16)}


def expect(rows: list[Row]) -> dict[bytes, tuple[int, int] | None]:
    return {**newest(rows), b"?" * 16: None}


# -- the newest entry for a subject counts, whichever way the list is written ----------------------------------

ORDERS = {
    "newer after older": [(A, 2, NOW - 10), (A, 0, NOW - 5)],
    "newer before older": [(A, 0, NOW - 5), (A, 2, NOW - 10)],
    "equal since: the later entry": [(A, 2, NOW - 5), (A, 1, NOW - 5)],
    "equal since, three times": [(A, 1, NOW), (B, 0, NOW), (A, 2, NOW), (A, 0, NOW)],
    "small since, ascending": [(A, 1, 3), (A, 2, 9), (B, 1, 23), (B, 0, 0)],
    "small since, tie": [(A, 1, 17), (A, 2, 17), (C, 2, 0)],
}


@pytest.mark.parametrize("rows", list(ORDERS.values()), ids=list(ORDERS))
@pytest.mark.parametrize("layout", ["one width", "mixed widths"])
def test_the_latest_since_counts_and_on_a_tie_the_later_entry(rows: list[Row], layout: str) -> None:
    if layout == "mixed widths":  # one entry with an 8-byte since: the fast path cannot take the list
        rows = [*rows, (C, 1, 2**40)]
    data = rows_payload(rows)
    assert read(data) == expect(rows)
    assert (status_list._read_fast(data) is None) == (layout == "mixed widths")


def test_a_status_of_three_is_refused_in_either_layout() -> None:
    for rows in ([(A, 0, 5), (B, 3, 6)], [(A, 0, 5), (B, 3, 2**40)]):
        with pytest.raises(ValueError, match=r"^entries\[1\] status is not 0, 1 or 2$"):
            StatusList.from_payload(rows_payload(rows))


ENTRY_FAULTS = [
    (array(bstr(A), uint(0)), "entries[1] is not [subject, status, since]"),
    (bstr(A), "entries[1] is not [subject, status, since]"),
    (array(bstr(A[:15]), uint(0), uint(5)), "entries[1] subject is not 16 bytes"),
    (array(tstr("0123456789abcdef"), uint(0), uint(5)), "entries[1] subject is not 16 bytes"),
    (array(bstr(A), integer(-1), uint(5)), "entries[1] status is not 0, 1 or 2"),
    (array(bstr(A), uint(3), uint(5)), "entries[1] status is not 0, 1 or 2"),
    (array(bstr(A), uint(0), tstr("5")), "entries[1] since is not an integer"),
    (array(bstr(A), uint(0), head(0, 2**63)), "entries[1] since is not an integer"),
]


@pytest.mark.parametrize(("bad", "message"), ENTRY_FAULTS, ids=[f"{i}: {m}" for i, (_, m) in enumerate(ENTRY_FAULTS)])
def test_each_entry_rule_is_one_line_naming_the_entry(bad: bytes, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        StatusList.from_payload(payload(entry(B, 1, 5), bad))
    assert str(caught.value) == message


def header(**changes: bytes | None) -> bytes:
    """A list with no entries whose fields are changed (None: left out)."""
    fields: dict[str, bytes | None] = {"type": tstr("status"), "seq": uint(7), "iat": integer(NOW),
                                       "iss": tstr(ISS), "entries": array()}
    fields.update(changes)
    return cmap(*((tstr(k), v) for k, v in fields.items() if v is not None))


HEADER_FAULT = "seq (unsigned), iat (integer) or iss (text) is missing or ill-typed"
MAP_FAULTS = [
    (array(tstr("type"), tstr("status")), "not a map"),
    (header(entries=None), "entries is missing or not an array"),  # the fast path's reading once raised KeyError
    (header(entries=cmap()), "entries is missing or not an array"),
    (header(type=tstr("trust")), 'a trust bundle ("type": "trust") not signed by a pinned root'),
    (header(type=tstr("Status")), '"type" is not "status"'),
    (header(type=None), '"type" is not "status"'),
    (header(seq=integer(-1)), HEADER_FAULT), (header(seq=tstr("7")), HEADER_FAULT), (header(seq=None), HEADER_FAULT),
    (header(iat=tstr("now")), HEADER_FAULT), (header(iat=head(0, 2**63)), HEADER_FAULT),
    (header(iss=uint(1)), HEADER_FAULT), (header(iss=None), HEADER_FAULT),
]


@pytest.mark.parametrize(("data", "message"), MAP_FAULTS, ids=[f"{i}: {m}" for i, (_, m) in enumerate(MAP_FAULTS)])
def test_each_map_rule_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        StatusList.from_payload(data)
    assert str(caught.value) == message


# Layouts the fast path must not take as they look: each is refused by the general path (trailing bytes,
# a duplicate key, an entry that is not [bstr16, status, since], ...), so it must be refused, full stop.
_GOOD = entry(A, 1, 5)
REFUSED = {
    "bytes after the map": payload(_GOOD) + b"\x00",
    "a duplicate top-level key": payload(_GOOD, extra=((tstr("iss"), tstr("CN-110000")),)),
    "duplicate keys inside another field": payload(_GOOD, extra=((tstr("x"), cmap((uint(1), uint(1)),
                                                                                    (uint(1), uint(2)))),)),
    "an entry of two items, its since left over": payload(b"\x82" + _GOOD[1:]),
    "a 15-byte subject, the rest shifted": payload(b"\x83\x4f" + _GOOD[2:]),
    "an array, not a map, its items read as pairs": array(tstr("type"), tstr("status"), tstr("seq"), uint(7),
                                                          tstr("iat")) + integer(NOW) + tstr("iss") + tstr(ISS)
    + tstr("entries") + array(_GOOD),
}


@pytest.mark.parametrize("data", list(REFUSED.values()), ids=list(REFUSED))
def test_odd_layouts_are_refused_as_the_general_reading_refuses_them(data: bytes) -> None:
    with pytest.raises(ValueError):
        StatusList.from_payload(data)


# -- the fast path itself ---------------------------------------------------------------------------------------

WIDTHS = {  # since values of one CBOR width each, with the high bit of the first byte set and not
    "0..23 in the head": [0, 1, 22, 23],
    "1 byte": [24, 0x7F, 0x80, 255],
    "2 bytes": [256, 0x7FFF, 0x8000, 65535],
    "4 bytes": [65536, 0x7FFFFFFF, 0x80000000, 2**32 - 1],
    "8 bytes": [2**32, NOW * 10**6, 2**62, 2**63 - 1],
}


@pytest.mark.parametrize("sinces", list(WIDTHS.values()), ids=list(WIDTHS))
@pytest.mark.parametrize("entries_first", [False, True], ids=["entries last", "entries first"])
def test_every_since_width_takes_the_fast_path_with_the_right_index(sinces: list[int], entries_first: bool) -> None:
    rows = [(A, 2, sinces[0]), (B, 1, sinces[1]), (C, 0, sinces[2]), (bytes(16), 2, sinces[3])]
    data = rows_payload(rows, entries_first=entries_first)
    fields = status_list._read_fast(data)
    assert fields is not None, "the layout every encoder writes must take the fast path"
    # The index is subject -> since * 4 + status (kiosk/status_list.py's docstring).
    assert fields["entries"] == {subject: since * 4 + status for subject, status, since in rows}
    assert read(data) == expect(rows)


@pytest.mark.parametrize("rows", [[(A, 1, 5), (A, 2, 9), (A, 0, 9), (B, 2, 4), (B, 1, 2)],
                                  [(A, 1, 500), (A, 2, 900), (A, 0, 900), (B, 2, 400), (B, 1, 300)]])
def test_the_fast_path_keeps_the_newest_of_a_subject_listed_twice(rows: list[Row]) -> None:
    fields = status_list._read_fast(rows_payload(rows))
    assert fields is not None
    assert fields["entries"] == {subject: since * 4 + status for subject, (status, since) in newest(rows).items()}


@pytest.mark.parametrize("data", [payload(), payload(entries_first=True), payload(entry(A, 2, 7))],
                         ids=["empty, last", "empty, first", "one small entry ending the payload"])
def test_the_fast_path_takes_an_empty_list_and_a_last_entry_ending_the_payload(data: bytes) -> None:
    fields = status_list._read_fast(data)
    assert fields is not None
    assert (fields["type"], fields["seq"], fields["iat"], fields["iss"]) == ("status", 7, NOW, ISS)


GENERAL_ONLY = {
    "mixed widths": payload(entry(A, 1, 100), entry(B, 1, 1000)),
    "a small since after a 1-byte one": payload(entry(A, 1, 100), entry(B, 1, 5)),
    "a 1-byte since after a small one": payload(entry(A, 1, 5), entry(B, 1, 100)),
    "a negative since": payload(entry(A, 1, -5)),
    "an indefinite entries array": payload()[:-1] + b"\x9f" + _GOOD + b"\xff",
    "a non-text key": payload(_GOOD, extra=((uint(1), uint(2)),)),
}


def test_a_longer_since_after_small_ones_is_read_at_its_full_value() -> None:
    # The second entry is a byte longer than the first. A fast path that read it at the first one's width
    # would take its since for 24 (its head) and resynchronise on the next field: 0x62 (since 98) read as a
    # 2-byte text "ax" swallowing the real key "x". The general path reads [B, 2, 98].
    rows: list[Row] = [(A, 1, 5), (B, 2, 98)]
    fields = [(tstr("type"), tstr("status")), (tstr("seq"), uint(7)), (tstr("iat"), integer(NOW)),
              (tstr("iss"), tstr(ISS)), (tstr("entries"), array(*(entry(*row) for row in rows))),
              (tstr("x"), uint(1))]
    data = cmap(*fields)
    assert status_list._read_fast(data) is None
    assert read(data) == expect(rows)


@pytest.mark.parametrize("data", list(GENERAL_ONLY.values()), ids=list(GENERAL_ONLY))
def test_other_layouts_go_to_the_general_path_and_read_the_same(data: bytes) -> None:
    assert status_list._read_fast(data) is None
    assert len(StatusList.from_payload(data)) >= 1


HEADS = [  # (bytes, position) -> (major type, argument or None, next position), RFC 8949 section 3
    ((b"\x00", 0), (0, 0, 1)), ((b"\x17", 0), (0, 23, 1)), ((b"\x18\x18", 0), (0, 24, 2)),
    ((b"\x18\x20", 0), (0, 32, 2)), ((b"\x19\x01\x00", 0), (0, 256, 3)), ((b"\x5a\x00\x01\x00\x00", 0), (2, 65536, 5)),
    ((b"\x1b" + (2**40).to_bytes(8, "big"), 0), (0, 2**40, 9)), ((b"\x9f", 0), (4, None, 1)),
    ((b"\xbf", 0), (5, None, 1)), ((b"\x00\x00\x99\x01\x02\xff", 2), (4, 258, 5)), ((b"\xff\x9f\x00", 1), (4, None, 2)),
    ((b"\xa5", 0), (5, 5, 1)), ((b"\x80\x18\xff", 1), (0, 255, 3)),
]


@pytest.mark.parametrize(("at", "expected"), HEADS)
def test_a_cbor_head_is_read_as_rfc_8949_writes_it(at: tuple[bytes, int],
                                                   expected: tuple[int, int | None, int]) -> None:
    assert status_list._head(*at) == expected


@pytest.mark.parametrize("data", [b"\x1c", b"\x1d", b"\x1e", b"\x18", b"\x19\x01", b"\x1a\x00\x00\x01",
                                  b"\x1b" + bytes(7)], ids=bytes.hex)
def test_a_reserved_or_cut_head_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"^bad CBOR head$"):
        status_list._head(data, 0)
