"""Export and report across every kiosk of a collector, in exactly the kiosk's own formats.

The rows asked for are copied, in time order, into a temporary audit-log file,
and the kiosk's own `export` and `report` run on it: one code path for both
databases, and a site manager gets the same CSV/XLSX/JSONL columns and the same
HTML page for one kiosk or a hundred. Copying runs at about 100,000 rows a second.
A registration corrected after the range asked for is shown corrected: its
corrections are copied too (outside the range, so they are not rows of the export).
`sites` limits both to the events of those sites (an account's scope); None: every site's.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import date, tzinfo
from pathlib import Path

from kiosk.audit.corrections import CORRECTABLE as REGISTRATION
from kiosk.audit.corrections import KIND as CORRECTION
from kiosk.audit.day import day_bounds
from kiosk.audit.export import Format, Language, export, format_for
from kiosk.audit.report import report
from kiosk.audit.store import AuditLog
from kiosk.audit.zones import local_zone
from kiosk.collector.store import ROW_COLUMNS, CollectorStore

_KIND = ROW_COLUMNS.index("kind")


@contextlib.contextmanager
def copied(store: CollectorStore, since: float | None = None, until: float | None = None,
           verdict: str | None = None, device: str | None = None,
           sites: frozenset[str] | None = None) -> Iterator[AuditLog]:
    """A temporary audit log holding the collector's events in [since, until), ordered by time, and the later
    corrections of the registrations among them."""
    registrations = False

    def noting_registrations(pages: Iterator[list[tuple[object, ...]]]) -> Iterator[list[tuple[object, ...]]]:
        nonlocal registrations
        for rows in pages:
            registrations = registrations or any(row[_KIND] == REGISTRATION for row in rows)
            yield rows

    with tempfile.TemporaryDirectory(prefix="kiosk-collector-") as folder, \
            AuditLog(Path(folder) / "events.db") as log:
        # The device column holds each kiosk's name and short id: "Gate 2 (3f2a9c1b)".
        log.bulk_load(noting_registrations(store.rows(since, until, verdict, device, names=True, sites=sites)))
        if until is not None and verdict is None and registrations:
            # Read on past the range for corrections: the collector keeps no index of kinds, but
            # registrations are rare and so is an export of them long after the day.
            log.bulk_load([row for row in rows if row[_KIND] == CORRECTION]
                          for rows in store.rows(until, None, None, device, names=True, sites=sites))
        yield log


def export_all(store: CollectorStore, out: Path, fmt: Format | None, *, since: float | None = None,
               until: float | None = None, verdict: str | None = None, device: str | None = None,
               language: Language = "zh", tz: tzinfo | None = None, sites: frozenset[str] | None = None) -> int:
    """`fmt` None: from the extension of `out` (ExportError when it names no format, or another one)."""
    chosen = format_for(out, fmt)
    with copied(store, since, until, verdict, device, sites) as log:
        # The same range again: the corrections copied from after it are not rows of the export.
        return export(log, out, chosen, since=since, until=until, language=language, tz=tz)


def report_all(store: CollectorStore, day: date, out: Path, *, device: str | None = None,
               language: Language = "zh", tz: tzinfo | None = None, site_name: str | None = None,
               sites: frozenset[str] | None = None) -> None:
    zone = tz or local_zone()
    start, end = day_bounds(day, zone)
    with copied(store, start, end, None, device, sites) as log:
        report(log, day, out, tz=zone, language=language, site_name=site_name)
