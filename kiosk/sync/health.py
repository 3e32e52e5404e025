"""Warnings about what sync keeps fresh: the age of the trust data and the kiosk's clock. Pure.

Old trust data means revocations and status changes may be missed; a clock
more than two minutes off makes codes look expired or not yet valid. Both are
shown on the status bar and by `kiosk sync --status` / `kiosk doctor`, in
Chinese and English, louder as they get worse.
"""

from __future__ import annotations

from dataclasses import dataclass

TRUST_WARN = 24 * 3600.0
TRUST_ALARM = 72 * 3600.0
CLOCK_WARN = 120.0


@dataclass(frozen=True)
class Limits:
    trust_warn: float = TRUST_WARN  # seconds since the last refresh before a warning
    trust_alarm: float = TRUST_ALARM  # ... before the louder one
    clock_warn: float = CLOCK_WARN  # seconds between our clock and the collector's


@dataclass(frozen=True)
class Alert:
    level: str  # "warning" or "alarm"
    code: str  # "trust_old", "trust_very_old", "trust_missing", "clock_off"
    en: str
    zh: str

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "en": self.en, "zh": self.zh}


def age_text(seconds: float) -> tuple[str, str]:
    """"3 h" / "3小时", "2 d" / "2天": short enough for a status bar."""
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))} min", f"{max(0, int(seconds // 60))}分钟"
    if seconds < 3 * 86400:
        return f"{int(seconds // 3600)} h", f"{int(seconds // 3600)}小时"
    return f"{int(seconds // 86400)} d", f"{int(seconds // 86400)}天"


def alerts(now: float, trust_refreshed: float | None, clock_offset: float | None,
           limits: Limits = Limits()) -> list[Alert]:
    found = []
    if trust_refreshed is None:
        found.append(Alert("alarm", "trust_missing", "no trust data: codes cannot be verified",
                           "无信任数据：无法验证健康码"))
    else:
        age = now - trust_refreshed
        en, zh = age_text(age)
        if age > limits.trust_alarm:
            found.append(Alert("alarm", "trust_very_old", f"trust data is {en} old: sync or import it now",
                               f"信任数据已{zh}未更新：请立即同步或导入"))
        elif age > limits.trust_warn:
            found.append(Alert("warning", "trust_old", f"trust data is {en} old", f"信任数据已{zh}未更新"))
    if clock_offset is not None and abs(clock_offset) > limits.clock_warn:
        direction_en = "behind" if clock_offset > 0 else "ahead of"
        direction_zh = "慢" if clock_offset > 0 else "快"
        minutes = abs(clock_offset) / 60
        found.append(Alert("warning", "clock_off", f"the clock is {minutes:.0f} min {direction_en} the collector's",
                           f"本机时钟比服务器{direction_zh}{minutes:.0f}分钟"))
    return found
