"""Local times of epoch seconds, fast enough for a million rows, and the bounds people type."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, tzinfo

_DAY_SECONDS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
_EPOCH = date(1970, 1, 1)


def epoch(value: float | datetime | None, tz: tzinfo) -> float | None:
    """Epoch seconds of a bound; a naive datetime is a wall-clock time in `tz`."""
    if value is None or isinstance(value, (int, float)):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=tz)).timestamp()


class LocalTime:
    """Local times of epoch seconds, fast (strftime per row took most of an export's time): the offset is
    looked up once per UTC quarter hour (second by second in one that holds a change), the rest is arithmetic."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz, self.block, self.shift, self.offset, self.days = tz, -(2**63), 0, "", dict[int, str]()

    def _zone(self, second: int) -> tuple[int, str]:
        delta = datetime.fromtimestamp(second, self.tz).utcoffset() or timedelta(0)
        shift = int(delta.total_seconds())
        minutes = abs(shift) // 60
        return shift, f"{'-' if shift < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"

    def wall(self, at: float) -> int:
        """Local wall-clock seconds since 1970-01-01 00:00 of `at`; sets .shift and .offset (+08:00)."""
        second = math.floor(at)
        block = second // 900
        if block != self.block:
            first = self._zone(block * 900)
            self.block = block if first == self._zone(block * 900 + 899) else -(2**63)
            self.shift, self.offset = first
        if self.block != block:
            self.shift, self.offset = self._zone(second)
        return second + self.shift

    def text(self, at: float, sep: str = " ") -> str:
        """"2026-11-27 08:30:05" (sep "T": ISO 8601 without the offset)."""
        day, of_day = divmod(self.wall(at), 86400)
        date_text = self.days.get(day)
        if date_text is None:
            date_text = self.days[day] = (_EPOCH + timedelta(days=day)).isoformat()
        return f"{date_text}{sep}{_DAY_SECONDS[of_day]}"

    def iso(self, at: float) -> str:
        """"2026-11-27T08:30:05.250+08:00"."""
        text = self.text(at, "T")
        return f"{text}.{min(int(at % 1 * 1000), 999):03d}{self.offset}"

    def serial(self, at: float) -> float:
        """Excel's day number of the local time (Excel has no zones)."""
        self.wall(at)
        return (at + self.shift) / 86400 + 25569
