"""The day's report: one self-contained HTML page (kiosk/audit/report_page.py) of a day's numbers (kiosk/audit/day.py).

Charts are matplotlib SVG inlined into the page: no files beside it, nothing fetched.
"""

from __future__ import annotations

import time
from datetime import date, tzinfo
from pathlib import Path

from kiosk.audit.day import FEVER_AT, DaySummary, Outage, summarize
from kiosk.audit.files import write_atomically
from kiosk.audit.report_page import render
from kiosk.audit.store import AuditLog
from kiosk.audit.words import Language
from kiosk.audit.zones import local_zone

__all__ = ["FEVER_AT", "DaySummary", "Outage", "report", "summarize"]


def report(log: AuditLog, day: date, out: Path, *, tz: tzinfo | None = None, language: Language = "zh",
           site_name: str | None = None, fever_at: float = FEVER_AT, now: float | None = None) -> None:
    """Write the page for `day` (a local day in `tz`, default the machine's zone) to `out`."""
    if language not in ("zh", "en"):
        raise ValueError(f"unknown language {language!r}: zh or en")
    zone = tz or local_zone()
    page = render(summarize(log, day, tz=zone, fever_at=fever_at), zone, language, site_name,
                  time.time() if now is None else now)
    with write_atomically(Path(out)) as temp:
        temp.write_text(page, encoding="utf-8")
