"""The screens' own texts and colours, beyond a verdict's (kiosk/checkpoint/wording.py). Pure, no Kivy.

Everything here is a function of plain values, so what the scan screen says
about the thermometer, how a status chip looks and how the admin screens word
a lock or an event are tested without a window. Terms (a verdict, a device, a
field) are said in the words of kiosk/terms.py.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from kiosk.checkpoint.view import DeviceStates
from kiosk.policy import Policy
from kiosk.settings_table import admin_controls
from kiosk.terms import EVENT_KINDS, PERSON_FIELDS, REASON_SCREENS, VERDICTS, device_state

RGBA = tuple[float, float, float, float]
WHITE: RGBA = (1.0, 1.0, 1.0, 1.0)
INK: RGBA = (0.08, 0.08, 0.08, 1.0)
SCAN_BACKGROUND: RGBA = (0.07, 0.08, 0.10, 1.0)  # near black: white text at 17:1, the camera picture stands out
ADMIN_BACKGROUND: RGBA = (0.11, 0.13, 0.17, 1.0)
# Status chips: (background, text). Amber and red are the verdict colours' cousins, with a light edge on top.
CHIP_COLOURS: dict[str, tuple[RGBA, RGBA]] = {
    "ok": ((0.16, 0.19, 0.23, 1.0), WHITE),
    "warn": ((1.00, 0.75, 0.10, 1.0), INK),
    "alarm": ((0.85, 0.10, 0.12, 1.0), WHITE),
}
LINE_COLOURS: dict[str, RGBA] = {"ok": (0.55, 0.95, 0.60, 1.0), "warn": (1.0, 0.80, 0.25, 1.0),
                                 "alarm": (1.0, 0.45, 0.45, 1.0)}


@dataclass(frozen=True)
class Line:
    zh: str
    en: str
    level: str = "ok"

    @property
    def text(self) -> str:
        return f"{self.zh}  {self.en}"


def chip_colours(level: str) -> tuple[RGBA, RGBA]:
    return CHIP_COLOURS.get(level, CHIP_COLOURS["alarm"])  # an unknown level is not quietly fine


def thermometer_line(devices: DeviceStates, policy: Policy) -> Line | None:
    """What the scan screen says about the thermometer; None where there is none (a bus)."""
    state = devices.thermometer
    if state is None:
        return None
    if state == "disconnected":
        return Line(*device_state("thermometer", state), "alarm")  # "测温仪未连接", "thermometer disconnected"
    if state == "starting":
        return Line(*device_state("thermometer", state), "warn")
    celsius = devices.celsius
    # A reading outside the plausible range is the wall or a sleeve: nobody is in front of the sensor yet.
    if state == "ok" and celsius is not None and policy.plausible_min <= celsius <= policy.plausible_max:
        return Line(f"测温 {celsius:.1f} °C", f"temperature {celsius:.1f} °C", "ok")
    return Line(*REASON_SCREENS["temperature_missing"], "warn")  # what the verdict screen would say


def clock_text(seconds: float) -> str:
    """"4:59" for a countdown, rounded up so it never shows 0:00 while still locked."""
    whole = max(0, math.ceil(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def lock_line(seconds_left: float) -> Line:
    return Line(f"已锁定，{clock_text(seconds_left)} 后可再试", f"locked: try again in {clock_text(seconds_left)}",
                "alarm")


def when_text(value: object, *, now: float | None = None) -> str:
    """An event's time for the recent list: "14:03:27" today, "11-26 14:03" before; text is shown as given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value) if value is not None else ""
    local = time.localtime(value)
    today = time.localtime(time.time() if now is None else now)
    same_day = (local.tm_year, local.tm_yday) == (today.tm_year, today.tm_yday)
    return time.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M", local)


def verdict_level(verdict: object) -> str:
    return {"pass": "ok", "retry": "warn", "deny": "alarm"}.get(str(verdict), "ok")


def recent_line(time_value: object, kind: object, verdict: object, reason_zh: object, reason_en: object,
                temperature: object, *, now: float | None = None) -> str:
    """One row of the recent-events list: time, what, words, temperature."""
    what_zh, what_en = VERDICTS.get(str(verdict), EVENT_KINDS.get(str(kind), (str(kind), str(kind))))
    words = " / ".join(str(w) for w in (reason_zh, reason_en) if w)
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        temp = f"{temperature:.1f} °C"
    else:
        temp = str(temperature) if temperature else ""
    return "   ".join(p for p in (when_text(time_value, now=now), f"{what_zh} {what_en}", words, temp) if p)


# The thresholds the admin can change at the kiosk, each with its step for the big -/+ buttons, and the switches
# (accept_printed), as kiosk/settings_table.py declares them (its range is also the one Admin.set_policy keeps to):
# key -> (Chinese, English, step, lowest, highest, unit).
POLICY_FIELDS: dict[str, tuple[str, str, float, float, float, str]] = {
    key: (c.zh, c.en, c.step, c.low, c.high, c.unit) for key, c in admin_controls().items() if c.step is not None}
SWITCHES = {key: (c.zh, c.en) for key, c in admin_controls().items() if c.step is None}


def stepped(key: str, value: float, steps: int) -> float:
    """`value` moved `steps` steps of its field, kept in the field's range (and free of float dust)."""
    _, _, step, low, high, _ = POLICY_FIELDS[key]
    return round(min(high, max(low, value + steps * step)), 2)


def policy_text(key: str, value: object) -> str:
    if key in SWITCHES:
        return "是 yes" if value else "否 no"
    unit = POLICY_FIELDS[key][5]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.1f} {unit}" if unit == "°C" else f"{value:.0f} {unit}"
    return str(value)


def field_label(key: str) -> str:
    zh, en = PERSON_FIELDS.get(key, (key, key.replace("_", " ")))
    return f"{zh}  {en}"
