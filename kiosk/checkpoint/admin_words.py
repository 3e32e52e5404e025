"""The admin screen's list of recent events, as rows of words in Chinese and English. Pure.

Short words, as in the exported log ("码已过期" / "code expired"), not the
verdict screen's advice to the person at the door: the same words
(kiosk/terms.py, kiosk/audit/words.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from kiosk.audit.events import Event
from kiosk.audit.words import event_words
from kiosk.checkpoint.wording import temperature_text
from kiosk.terms import REASON_RECORDS, words


@dataclass(frozen=True)
class RecentRow:
    time: str  # local "HH:MM:SS"
    kind: str  # scan, manual, correction, admin, device, purge
    verdict: str | None  # pass / deny / retry for a scan
    reason_zh: str
    reason_en: str
    temperature: str | None  # "36.6 °C"


def _words(event: Event) -> tuple[str, str]:
    if event.kind == "scan":
        reason = event.reason or ""
        return words(REASON_RECORDS, reason)
    if event.kind == "manual":
        if event.reason == "fever":
            return "人工登记（发热）", "registered by hand (fever)"
        return "人工登记", "registered by hand"
    return event_words(event.kind, event.details) or (event.kind, event.kind)


def recent_row(event: Event, zone: tzinfo) -> RecentRow:
    zh, en = _words(event)
    return RecentRow(datetime.fromtimestamp(event.at, zone).strftime("%H:%M:%S"), event.kind, event.verdict, zh, en,
                     temperature_text(event.temperature))
