"""Export and report across every kiosk of a collector, in exactly the kiosk's own formats.

The rows asked for are copied, in time order, into a temporary audit-log file,
and the kiosk's own `export` and `report` run on it: one code path for both
databases, and a site manager gets the same CSV/XLSX/JSONL columns and the same
HTML page for one kiosk or a hundred. Copying runs at about 100,000 rows a second.
A registration corrected after the range asked for is shown corrected: its
corrections are copied too (outside the range, so they are not rows of the export). The console's corrections
(kiosk/collector/corrections_sql.py) correct them too, as the console's own export applies them: in an export
they are no rows (no kiosk logged them), in a day report they are listed with the day's corrections.
`sites` limits both to the events of those sites (an account's scope); None: every site's.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date, tzinfo
from pathlib import Path

from kiosk.audit.corrections import CORRECTABLE as REGISTRATION
from kiosk.audit.corrections import KIND as CORRECTION
from kiosk.audit.day import day_bounds
from kiosk.audit.export import Format, Language, export, format_for
from kiosk.audit.report import report
from kiosk.audit.store import AuditLog
from kiosk.audit.zones import local_zone
from kiosk.collector.corrections_sql import fix_row, is_console
from kiosk.collector.store import ROW_COLUMNS, CollectorStore

_KIND, _AT = ROW_COLUMNS.index("kind"), ROW_COLUMNS.index("at")


@contextlib.contextmanager
def copied(store: CollectorStore, since: float | None = None, until: float | None = None,
           verdict: str | None = None, device: str | None = None, sites: frozenset[str] | None = None,
           console: Sequence[tuple[object, ...]] = ()) -> Iterator[AuditLog]:
    """A temporary audit log holding the collector's events in [since, until), ordered by time, and the later
    corrections of the registrations among them; `console`: the console's corrections too, among them by time."""
    registrations = False

    def noting_registrations(pages: Iterator[list[tuple[object, ...]]]) -> Iterator[list[tuple[object, ...]]]:
        nonlocal registrations
        for rows in pages:
            registrations = registrations or any(row[_KIND] == REGISTRATION for row in rows)
            yield rows

    def pages() -> Iterator[list[tuple[object, ...]]]:
        # The device column holds each kiosk's name and short id: "Gate 2 (3f2a9c1b)".
        yield from noting_registrations(store.rows(since, until, verdict, device, names=True, sites=sites))
        if until is not None and verdict is None and registrations:
            # Read on past the range for corrections: the collector keeps no index of kinds, but
            # registrations are rare and so is an export of them long after the day.
            yield from ([row for row in rows if row[_KIND] == CORRECTION]
                        for rows in store.rows(until, None, None, device, names=True, sites=sites))

    with tempfile.TemporaryDirectory(prefix="kiosk-collector-") as folder, \
            AuditLog(Path(folder) / "events.db") as log:
        log.bulk_load(_among(pages(), console) if console else pages())
        yield log


def _among(pages: Iterator[list[tuple[object, ...]]], rows: Sequence[tuple[object, ...]],
           batch: int = 10_000) -> Iterator[list[tuple[object, ...]]]:
    """The rows of `pages` (in time order) with `rows` (in time order) among them by time, in lists of `batch`."""
    merged = heapq.merge((row for page in pages for row in page), rows, key=_time)
    while chunk := list(itertools.islice(merged, batch)):
        yield chunk


def console_corrections(store: CollectorStore, since: float | None, until: float | None, device: str | None,
                        sites: frozenset[str] | None) -> list[tuple[object, ...]]:
    """The console's corrections (kiosk/collector/corrections_sql.py) an export or report of [since, until)
    applies, in time order: those `hand_rows` gives, as the console's own export takes them (those past the
    range only when it holds a registration, as `copied` copies a kiosk's)."""
    hand = store.hand_rows(since, until, sites, device)
    registrations = any(row[_KIND] == REGISTRATION for row in hand)
    return sorted((row for row in hand if is_console(row) and (registrations or until is None or _time(row) < until)),
                  key=_time)


def _time(row: Sequence[object]) -> float:
    return float(str(row[_AT]))


def export_all(store: CollectorStore, out: Path, fmt: Format | None, *, since: float | None = None,
               until: float | None = None, verdict: str | None = None, device: str | None = None,
               language: Language = "zh", tz: tzinfo | None = None, sites: frozenset[str] | None = None) -> int:
    """`fmt` None: from the extension of `out` (ExportError when it names no format, or another one)."""
    chosen = format_for(out, fmt)
    console = [fix_row(row) for row in console_corrections(store, since, until, device, sites)]
    with copied(store, since, until, verdict, device, sites) as log:
        # The same range again: the corrections copied from after it are not rows of the export. Nor are the
        # console's: they are no kiosk's events, but they correct its registrations as the kiosk's own do.
        return export(log, out, chosen, since=since, until=until, language=language, tz=tz, corrections=console)


def report_all(store: CollectorStore, day: date, out: Path, *, device: str | None = None,
               language: Language = "zh", tz: tzinfo | None = None, site_name: str | None = None,
               sites: frozenset[str] | None = None) -> None:
    zone = tz or local_zone()
    start, end = day_bounds(day, zone)
    # The day's corrections include the console's: copied in as events, the report lists them with the kiosks'.
    with copied(store, start, end, None, device, sites, console_corrections(store, start, end, device, sites)) as log:
        report(log, day, out, tz=zone, language=language, site_name=site_name)
