"""The console's exports: the collector's events in exactly the columns of `kiosk log export` / `kiosk collector
export` (kiosk/audit/columns.py, the same row maker), streamed straight from the store a page at a time.

CSV and JSON Lines go out as they are made (kiosk/console/downloads.py): nothing is copied into a scratch log
first, so a million rows take one read of the database and the server's memory stays that of a page. A CSV's
lines are kiosk/audit/csv_rows.py's: the bytes of row_maker and csv.writer, the common event's made three
times faster. XLSX is
a zip that is only complete at its end: it is written to a temporary file (XlsxWriter's constant-memory mode,
as the kiosk writes it) and then streamed; the file is gone afterwards.

Columns are decided before the first row, as the kiosk decides them: the site's registration fields
(DEFAULT_FIELDS), then every other field the exported registrations (or their corrections) hold; a registration
is shown with its corrections applied, also those made after the range. Those few events are found first
(`hand_rows`), the rows then stream in one pass.

Subject references only, unless the account may trace: a kiosk that stores raw ids ([log] raw_subject, which
it tells the collector in its status) has them turned into references with the deployment's subject key, the
kiosk's own function; without the key they are left out. The device column is the kiosk as the collector
enrolled it, "Gate 2 (3f2a9c1b)".
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from kiosk.audit.columns import header
from kiosk.audit.corrections import Fix, fixes_of
from kiosk.audit.csv_rows import csv_maker
from kiosk.audit.events import subject_reference
from kiosk.audit.export import DEFAULT_FIELDS, Format, Language
from kiosk.audit.export import _write_xlsx as write_xlsx  # the kiosk's own XLSX writer, not a copy of it
from kiosk.audit.localtime import LocalTime
from kiosk.collector.store import ROW_COLUMNS, CollectorStore
from kiosk.console.downloads import Tally, csv_text_chunks
from kiosk.device_names import label

PAGE_ROWS = 2_000  # rows read from the store at a time: what the server holds of an export
XLSX_CHUNK = 256 * 1024  # bytes of the finished XLSX file sent at a time
_ID, _AT, _KIND, _DEVICE, _SUBJECT, _DETAILS = (ROW_COLUMNS.index(c) for c in ("id", "at", "kind", "device",
                                                                                 "subject_ref", "details"))
_OPERATOR, _TEMPERATURE, _REASON = (ROW_COLUMNS.index(c) for c in ("operator", "temperature", "reason"))
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Request:
    """What to export: events in [since, until) at `sites` (None: every site and those of none)."""

    format: Format
    sites: frozenset[str] | None
    since: float | None
    until: float | None
    language: Language
    zone: tzinfo
    raw_devices: frozenset[str] = frozenset()  # labels of kiosks whose subjects are raw ids, to make references
    subject_key: bytes | None = None  # None with raw_devices: their subjects are left out


def raw_kiosks(store: CollectorStore, sites: frozenset[str] | None) -> frozenset[str]:
    """The labels ("Gate 2 (3f2a9c1b)") of the kiosks that said they store raw subject ids: of every site, not only
    `sites`, as a kiosk's site is that of its newest event and its older ones in scope may be elsewhere."""
    return frozenset(label(k.device.name, k.device.id) for k in store.kiosks(None) if k.raw_subjects)


def hand_rows(store: CollectorStore, asked: Request) -> list[tuple[object, ...]]:
    """The registrations in the range and the corrections from its start on, as rows of ROW_COLUMNS."""
    return store.hand_rows(asked.since, asked.until, asked.sites)


def columns_and_fixes(hand: Sequence[Sequence[object]], until: float | None) -> tuple[tuple[str, ...], dict[str, Fix]]:
    """The registration fields' columns (the site's, then the others held, sorted) and the corrections, as the
    kiosk's export of the collector's scratch copy has them: corrections made after the range count only when
    the range holds a registration (kiosk/collector/views.py copies them only then)."""
    registrations = [r for r in hand if r[_KIND] == "manual" and (until is None or _at(r) < until)]
    corrections = [r for r in hand if r[_KIND] == "correction" and (registrations or until is None or _at(r) < until)]
    fixes = fixes_of((str(r[_ID]), _at(r), _text(r[_OPERATOR]), _number(r[_TEMPERATURE]), _text(r[_REASON]),
                      _text(r[_DETAILS])) for r in corrections)
    keys: set[str] = set()
    for r in registrations:
        value = _details(r[_DETAILS])
        if "?" not in value:  # unreadable details name no field (the kiosk's json_valid)
            keys.update(value)
    keys.update(str(key) for fix in fixes.values() for key in fix.fields)
    return (*DEFAULT_FIELDS, *sorted(keys - set(DEFAULT_FIELDS))), fixes


def _at(row: Sequence[object]) -> float:
    value = row[_AT]
    return float(value) if isinstance(value, (int, float)) else 0.0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _details(text: object) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {"?": text}
    return value if isinstance(value, dict) else {"?": text}


def pages(store: CollectorStore, asked: Request) -> Iterator[list[tuple[object, ...]]]:
    """The rows of the export, a page at a time, subjects made references where they must be."""
    for page in store.rows(asked.since, asked.until, batch=PAGE_ROWS, names=True, sites=asked.sites):
        if asked.raw_devices:
            page = [_referenced(row, asked) if row[_DEVICE] in asked.raw_devices else row for row in page]
        yield page


def _referenced(row: tuple[object, ...], asked: Request) -> tuple[object, ...]:
    return (*row[:_SUBJECT], reference_of(row[_SUBJECT], asked.subject_key), *row[_SUBJECT + 1:])


def reference_of(raw_id: object, subject_key: bytes | None) -> str | None:
    """The subject reference of a raw id a kiosk stored, as a kiosk with the key stores it; None without the key
    (or for what is no id): a raw id is never shown to those who may not trace."""
    if subject_key is None or not isinstance(raw_id, str) or len(raw_id) != 32:
        return None
    try:
        return subject_reference(bytes.fromhex(raw_id), subject_key)
    except ValueError:
        return None


def chunks(store: CollectorStore, asked: Request, tally: Tally) -> Iterator[bytes]:
    """The export file, chunk by chunk (blocking: run each step off the event loop)."""
    fields, fixes = columns_and_fixes(hand_rows(store, asked), asked.until)
    if asked.format == "csv":
        lines = csv_maker(asked.language, asked.zone, fields, fixes)
        yield from csv_text_chunks(header(asked.language, fields), pages(store, asked), lines, tally)
    elif asked.format == "jsonl":
        yield from jsonl_chunks(pages(store, asked), fixes, asked.zone, tally)
    else:
        yield from xlsx_chunks(pages(store, asked), asked, fields, fixes, tally)


def jsonl_chunks(batches: Iterable[Sequence[Sequence[Any]]], fixes: Mapping[str, Fix], zone: tzinfo,
                 tally: Tally) -> Iterator[bytes]:
    """JSON Lines as `kiosk log export` writes them: raw values, one event a line, a registration corrected."""
    clock, fix_clock = LocalTime(zone), LocalTime(zone)
    for batch in batches:
        lines = []
        for (id_, at, kind, site, lane, device, verdict, reason, status, code_kind, kid, iss, code_iat, subject_ref,
             temperature, operator, details) in batch:
            event: dict[str, Any] = {
                "id": id_, "at": at, "time": clock.iso(at), "kind": kind, "site": site, "lane": lane,
                "device": device, "verdict": verdict, "reason": reason, "status": status, "code_kind": code_kind,
                "kid": kid, "iss": iss, "code_iat": code_iat, "subject_ref": subject_ref, "temperature": temperature,
                "operator": operator, "details": _details(details)}
            fix = fixes.get(id_) if kind == "manual" and fixes else None
            if fix is not None:
                was = {"temperature": temperature, "reason": reason, "details": event["details"]}
                event["details"] = fix.details(event["details"])
                event["temperature"], event["reason"] = fix.values(temperature, reason)
                event["corrected"] = {"by": fix.by, "at": fix.at, "time": fix_clock.iso(fix.at),
                                      "operator": fix.operator, "corrections": fix.count, "was": was}
            lines.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        tally.rows += len(lines)
        yield "".join(lines).encode("utf-8")


def xlsx_chunks(batches: Iterable[list[Any]], asked: Request, fields: Sequence[str], fixes: Mapping[str, Fix],
                tally: Tally) -> Iterator[bytes]:
    """The kiosk's XLSX file, written to a private temporary file, then read out and deleted."""
    with tempfile.TemporaryDirectory(prefix="kiosk-console-xlsx-") as folder:
        os.chmod(folder, 0o700)
        path = Path(folder) / "export.xlsx"

        def counted() -> Iterator[list[Any]]:
            for batch in batches:
                tally.rows += len(batch)
                yield batch

        write_xlsx(path, counted(), asked.language, asked.zone, fields, fixes)
        with open(path, "rb") as f:
            while chunk := f.read(XLSX_CHUNK):
                yield chunk
