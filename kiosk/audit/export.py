"""Export the audit log for site managers: CSV (opens in Excel), JSON Lines, or XLSX.

Rows stream from a snapshot of the log (kiosk/audit/snapshot.py), never as Event
objects, so a million events take seconds. The file is written beside `out` and
renamed at the end: an export that failed or is still running never sits under
the name asked for.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from kiosk.audit.columns import TIMES, columns, header, row_maker
from kiosk.audit.corrections import Fix
from kiosk.audit.files import write_atomically
from kiosk.audit.localtime import LocalTime, epoch
from kiosk.audit.schema import COLUMNS
from kiosk.audit.snapshot import CorrectionRow, Snapshot
from kiosk.audit.store import AuditLog
from kiosk.audit.words import Language
from kiosk.audit.zones import local_zone
from kiosk.errors import ExportError

__all__ = ["FORMATS", "SOURCE", "ExportError", "Format", "Language", "export", "format_for"]

Format = Literal["csv", "jsonl", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "xlsx")
DEFAULT_FIELDS = ("name", "phone", "id_last4")  # [log] manual_fields when there is no [log] (a collector)

SOURCE = COLUMNS  # the fields of an exported row, in order (kiosk/audit/columns.py turns each into a CSV/XLSX row)
XLSX_MAX_ROWS = 1_048_576  # per sheet, with the header


def format_for(out: Path, fmt: str | None) -> Format:
    """The format to write `out` in: `fmt`, else its extension; a format that contradicts the extension is an
    error (an "x.xlsx" holding CSV would only puzzle Excel)."""
    named = Path(out).suffix.lower().lstrip(".")
    if fmt is None:
        if named not in FORMATS:
            raise ExportError(f"cannot tell the format of {Path(out).name}: name the file .csv, .jsonl or .xlsx, "
                              "or give --format")
        return named
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (csv, jsonl, xlsx)")
    if named in FORMATS and named != fmt:
        raise ExportError(f"--format {fmt} does not match {Path(out).name}: name the file .{fmt}, "
                          "or leave --format out")
    return fmt


def export(log: AuditLog, out: Path, fmt: Format, *, since: float | datetime | None = None,
           until: float | datetime | None = None, verdict: str | None = None, language: Language = "zh",
           tz: tzinfo | None = None, progress: bool = False, fields: Sequence[str] = DEFAULT_FIELDS,
           corrections: Sequence[CorrectionRow] = ()) -> int:
    """Write the events in [since, until) (of one verdict, if given) to `out`, in write order; returns the rows.

    `fields`: the site's registration fields, a column each in this order (any other field the events hold
    gets a column after them). `corrections`: more corrections of the log's registrations, kept outside it (a
    collector's console's), in time order: applied as the log's own are, but no rows of the export."""
    if fmt not in FORMATS or language not in ("zh", "en"):
        raise ValueError(f"unknown format {fmt!r} (csv, jsonl, xlsx) or language {language!r} (zh, en)")
    zone = tz or local_zone()
    with log.snapshot() as snapshot, write_atomically(out) as temp:
        low, high = epoch(since, zone), epoch(until, zone)
        fixes = snapshot.fixes(corrections)  # corrections made after the range still correct what is in it
        total = snapshot.count(low, high, verdict) if progress else None
        batches = snapshot.rows(low, high, verdict, jsonl=fmt == "jsonl")
        if progress:
            from tqdm import tqdm  # type: ignore[import-untyped]

            bar = tqdm(total=total, unit="event", unit_scale=True, file=sys.stderr, desc=f"export {Path(out).name}")
            batches = _counted(batches, bar)
        if fmt == "jsonl":
            return _write_jsonl(temp, batches, zone, fixes)
        every = (*fields, *_more_fields(snapshot, fields, fixes, low, high, verdict))
        writer = _write_csv if fmt == "csv" else _write_xlsx
        return writer(temp, batches, language, zone, every, fixes)


def _counted(batches: Iterator[list[Any]], bar: Any) -> Iterator[list[Any]]:
    with bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))


def _more_fields(snapshot: Snapshot, fields: Sequence[str], fixes: Mapping[str, Fix], since: float | None,
                 until: float | None, verdict: str | None) -> list[str]:
    """Fields the exported registrations (or their corrections) hold beyond the site's list: a field the site
    no longer records still gets its column."""
    if verdict is not None:
        return []  # registrations have no verdict: none is exported
    keys = snapshot.registration_fields(since, until)
    keys.update(key for fix in fixes.values() for key in fix.fields)
    return sorted(str(key) for key in keys - set(fields))


def _write_csv(temp: Path, batches: Iterator[list[Any]], language: Language, tz: tzinfo, fields: Sequence[str],
               fixes: Mapping[str, Fix]) -> int:
    row, rows = row_maker(language, tz, False, fields, fixes), 0
    with open(temp, "w", encoding="utf-8", newline="") as f:
        f.write("\ufeff")  # the byte-order mark is how Excel knows the file is UTF-8 (else Chinese is mojibake)
        buffer = io.StringIO()  # one write per batch, not per row
        writer = csv.writer(buffer)
        writer.writerow(header(language, fields))
        for batch in batches:
            writer.writerows(map(row, batch))
            f.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            rows += len(batch)
        f.write(buffer.getvalue())
    return rows


def _write_jsonl(temp: Path, batches: Iterator[list[Any]], tz: tzinfo, fixes: Mapping[str, Fix]) -> int:
    clock, fix_clock, rows = LocalTime(tz), LocalTime(tz), 0
    with open(temp, "w", encoding="utf-8") as f:
        for batch in batches:
            lines = []
            for head, at, middle, temperature, tail in batch:  # the five parts of snapshot.JSONL_SELECT
                celsius = "null" if temperature is None else repr(temperature)
                line = (f'{head[:-1]},"at":{at!r},"time":"{clock.iso(at)}",{middle[1:-1]},"temperature":{celsius},'
                        f"{tail[1:]}\n")
                if fixes and head[7:-2] in fixes:  # head is {"id":"<ULID>"}
                    line = _corrected(line, fixes[head[7:-2]], fix_clock)
                lines.append(line)
            f.write("".join(lines))
            rows += len(batch)
    return rows


def _corrected(line: str, fix: Fix, clock: LocalTime) -> str:
    """A registration's line with its corrections applied; what they replaced under "corrected"."""
    event = json.loads(line)
    if event.get("kind") != "manual":
        return line  # only registrations are corrected
    was = {"temperature": event["temperature"], "reason": event["reason"], "details": event["details"]}
    event["details"] = fix.details(event["details"])
    event["temperature"], event["reason"] = fix.values(event["temperature"], event["reason"])
    event["corrected"] = {"by": fix.by, "at": fix.at, "time": clock.iso(fix.at), "operator": fix.operator,
                          "corrections": fix.count, "was": was}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"


def _write_xlsx(temp: Path, batches: Iterator[list[Any]], language: Language, tz: tzinfo, fields: Sequence[str],
                fixes: Mapping[str, Fix]) -> int:
    import xlsxwriter  # type: ignore[import-untyped]

    # Strings stay strings: a name typed as "=..." must never become a formula.
    book = xlsxwriter.Workbook(str(temp), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False, "tmpdir": str(temp.parent)})
    bold = book.add_format({"bold": True, "bg_color": "#EEEEEE", "bottom": 1})
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    formats = {**dict.fromkeys(TIMES, when), "temperature": book.add_format({"num_format": "0.0"})}
    layout = columns(fields)
    sheets: list[Any] = []

    def new_sheet(rows_before: int) -> Any:
        if sheets:
            sheets[-1].autofilter(0, 0, rows_before, len(layout) - 1)
        name = "事件" if language == "zh" else "events"
        sheets.append(book.add_worksheet(f"{name} {len(sheets) + 1}" if sheets else name))
        for col, (key, _, _, width) in enumerate(layout):
            sheets[-1].set_column(col, col, width, formats.get(key))  # the column's format dates its numbers
        sheets[-1].write_row(0, 0, header(language, fields), bold)
        sheets[-1].freeze_panes(1, 0)
        return sheets[-1]

    row, sheet, line, rows = row_maker(language, tz, True, fields, fixes), new_sheet(0), 1, 0
    for batch in batches:
        for values in map(row, batch):
            if line == XLSX_MAX_ROWS:  # a sheet holds 1,048,576 rows: go on in the next one
                sheet, line = new_sheet(line - 1), 1
            sheet.write_row(line, 0, values)
            line += 1
        rows += len(batch)
    sheet.autofilter(0, 0, max(line - 1, 1), len(layout) - 1)
    book.close()
    return rows
