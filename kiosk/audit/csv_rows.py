"""The CSV text of export rows, a page at a time: what csv.writer writes of kiosk/audit/columns.py's rows, byte for
byte, made several times faster for the common event.

Almost every event of a big export is a scan: no details, no correction, its text values (kind, verdict, reason,
status, site, lane, kiosk, code kind, issuer, key id) repeated across thousands of rows. Its line is put together
from pieces kept as CSV text already: each group of repeated values (what happened; where; which code) is said
in words, defused and quoted once, then looked up; a time's text is made once a second. A row_maker row (24
values and more), csv.writer and UTF-8 took 7.5 us of CPU a row on the console's benchmark; this takes 2.5. Any
other row (details, a correction, an id or a subject reference of more than letters and digits) goes through
row_maker and csv.writer, as before.

The pieces are made by csv.writer itself, from the values row_maker would give, so quoting rules are never
written twice; the tests compare both ways on every kind of row (tests/test_export_speedup.py). The memos are
bounded (a hostile kiosk sends as many distinct values as it likes): when one is full it starts again.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo
from typing import Any

from kiosk.audit.columns import defused, row_maker, vocabulary
from kiosk.audit.corrections import Fix
from kiosk.audit.localtime import LocalTime
from kiosk.audit.words import Language

MEMO = 4096  # pieces kept per memo; a full one is emptied, never grown


class _Writer:
    """csv.writer's text of one row, or of some of a row's cells (as they read between two commas of it)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def rows(self, rows: Sequence[Sequence[Any]]) -> str:
        self.writer.writerows(rows)
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text

    def cells(self, *values: Any) -> str:
        """The cells as csv.writer writes them inside a row: written after a first cell, which is cut off again
        (a row of one empty cell alone is written '""')."""
        return self.rows([("", *values)])[1:-2]  # the line ends "\r\n"


def csv_maker(language: Language, tz: tzinfo, fields: Sequence[str],
              fixes: Mapping[str, Fix]) -> Callable[[Sequence[Sequence[Any]]], str]:
    """A function from a page of SOURCE rows (kiosk/audit/columns.py) to their CSV lines, the text csv.writer
    writes of `row_maker(language, tz, False, fields, fixes)`'s rows."""
    row = row_maker(language, tz, False, fields, fixes)
    kinds, verdicts, statuses, code_kinds, reasons = vocabulary(language)
    writer, clock, iat_clock = _Writer(), LocalTime(tz), LocalTime(tz)
    # The empty cells of a scan (registration fields, corrected at and by, details) and the commas around them.
    gap = "," * (len(fields) + 4)
    heads: dict[object, str] = {}
    places: dict[object, str] = {}
    codes: dict[object, str] = {}
    operators: dict[object, str] = {None: ""}
    issued: dict[object, str] = {}

    def head(key: tuple[Any, Any, Any, Any]) -> str:  # kind, verdict, reason, status
        kind, verdict, reason, status = key
        return writer.cells(kinds.get(kind, kind), verdicts.get(verdict, verdict), reasons.get(reason, reason),
                            reason, statuses.get(status, status))

    def place(key: tuple[Any, Any, Any]) -> str:  # site, lane, device
        return writer.cells(*map(defused, key))

    def code(key: tuple[Any, Any, Any]) -> str:  # code kind, issuer, key id
        code_kind, iss, kid = key
        return writer.cells(code_kinds.get(code_kind, code_kind), defused(iss), kid)

    def remembered(memo: dict[object, str], key: Any, make: Callable[[Any], str]) -> str:
        text = make(key)
        # Only text keeps its piece: 1 == 1.0 == True, and csv.writer writes each its own way.
        if all(part is None or type(part) is str for part in (key if type(key) is tuple else (key,))):
            if len(memo) >= MEMO:
                memo.clear()
            memo[key] = text
        return text

    def page(rows: Sequence[Sequence[Any]]) -> str:
        lines: list[str] = []
        add = lines.append
        second, second_end, time_text, offset = math.inf, -math.inf, "", ""
        for r in rows:
            (id_, at, kind, site, lane, device, verdict, reason, status, code_kind, kid, iss, code_iat, subject_ref,
             temperature, operator, details) = r
            # Not the common event: details, a correction, or an id or subject csv.writer might quote (letters and
            # digits alone it never does; the text checked is the one written, as csv.writer says it too).
            if details is not None or (fixes and kind == "manual" and id_ in fixes) or \
                    not f"{id_}{subject_ref}".isalnum():
                add(writer.rows([row(r)]))
                continue
            if not second <= at < second_end:  # a new second: its local time and UTC offset
                time_text, offset = clock.text(at), clock.offset
                second = math.floor(at)
                second_end = second + 1
            said = (kind, verdict, reason, status)
            what = heads.get(said) or remembered(heads, said, head)
            at_where = (site, lane, device)
            where = places.get(at_where) or remembered(places, at_where, place)
            shown = (code_kind, iss, kid)
            which = codes.get(shown) or remembered(codes, shown, code)
            when = "" if code_iat is None else issued.get(code_iat)
            if when is None:  # a time's text is that of its second, whatever type of number says it
                if len(issued) >= MEMO:
                    issued.clear()
                when = issued[code_iat] = iat_clock.text(code_iat)
            by = operators.get(operator)
            if by is None:
                by = remembered(operators, operator, lambda name: writer.cells(defused(name)))
            degrees = "" if temperature is None else repr(temperature) if type(temperature) is float else \
                writer.cells(temperature)  # csv.writer writes a float as its repr
            subject = "" if subject_ref is None else subject_ref
            add(f"{time_text},{offset},{what},{degrees},{where},{which},{when},{subject},{by}{gap}{id_}\r\n")
        return "".join(lines)

    return page
