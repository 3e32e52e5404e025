"""Warnings about what sync keeps fresh: the age of the trust data and the kiosk's clock. Pure.

Old trust data means revocations and status changes may be missed; a clock
more than two minutes off makes codes look expired or not yet valid. Both are
shown on the status bar and by `kiosk sync --status` / `kiosk doctor`, in
Chinese and English, louder as they get worse.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.settings_table import default

# The defaults of [trust] warn_hours / alarm_hours and [sync] clock_warn, declared in kiosk/settings_table.py.
TRUST_WARN = default("trust", "warn_hours") * 3600.0
TRUST_ALARM = default("trust", "alarm_hours") * 3600.0
CLOCK_WARN = float(default("sync", "clock_warn"))


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


def clock_offset(server_time: float | None, asked: float, answered: float) -> float | None:
    """The collector's clock minus ours: its time against ours half-way through the request (None: it did not say).

    The one place the offset is worked out: the uploader keeps it in the sync state, `kiosk doctor` shows it.
    """
    return None if server_time is None else server_time - (asked + answered) / 2


def trust_alerts(now: float, trust_refreshed: float | None, limits: Limits = Limits()) -> list[Alert]:
    """How old the trust data is, once it is old enough to say."""
    if trust_refreshed is None:
        return [Alert("alarm", "trust_missing", "no trust data: codes cannot be verified",
                      "无信任数据：无法验证健康码")]
    age = now - trust_refreshed
    en, zh = age_text(age)
    if age > limits.trust_alarm:
        return [Alert("alarm", "trust_very_old", f"trust data is {en} old: sync or import it now",
                      f"信任数据已{zh}未更新：请立即同步或导入")]
    if age > limits.trust_warn:
        return [Alert("warning", "trust_old", f"trust data is {en} old", f"信任数据已{zh}未更新")]
    return []


def clock_alerts(offset: float | None, limits: Limits = Limits()) -> list[Alert]:
    """The kiosk's clock, once it is further from the collector's than `limits.clock_warn`."""
    if offset is None or abs(offset) <= limits.clock_warn:
        return []
    direction_en = "behind" if offset > 0 else "ahead of"
    direction_zh = "慢" if offset > 0 else "快"
    minutes = abs(offset) / 60
    return [Alert("warning", "clock_off", f"the clock is {minutes:.0f} min {direction_en} the collector's",
                  f"本机时钟比服务器{direction_zh}{minutes:.0f}分钟")]


def alerts(now: float, trust_refreshed: float | None, clock_offset: float | None,
           limits: Limits = Limits()) -> list[Alert]:
    """Both: the trust data's age first, then the clock."""
    return [*trust_alerts(now, trust_refreshed, limits), *clock_alerts(clock_offset, limits)]
