"""The [kiosk] and [signal] sections of the configuration file.

    [kiosk]
    mode = "bus"                           # a tablet at the bus door
    vehicle = "Bus 37 / route 5"           # the lane of every event, shown on screen
    admin_pin_hash = "pbkdf2_sha256$..."   # `kiosk admin hash-pin`

    [signal]                               # a turnstile or a lamp, sent a command on every PASS
    port = "/dev/kiosk-gate"

Every setting's type, default and range is declared in kiosk/settings_table.py
(the README's settings table is made from it); here is only what one setting
cannot say alone (the PIN hash's shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.settings_table import SECTIONS, default, setting
from kiosk.tables import bad, check_section


@dataclass(frozen=True)
class KioskSettings:
    mode: str = default("kiosk", "mode")
    vehicle: str = default("kiosk", "vehicle")
    verdict_seconds: float = default("kiosk", "verdict_seconds")
    fullscreen: bool = default("kiosk", "fullscreen")
    sound: bool = default("kiosk", "sound")
    language: str = default("kiosk", "language")
    admin_pin_hash: str | None = default("kiosk", "admin_pin_hash")
    lockout_attempts: int = default("kiosk", "lockout_attempts")
    lockout_seconds: float = default("kiosk", "lockout_seconds")
    reading_wait: float = default("kiosk", "reading_wait")

    @property
    def bus(self) -> bool:
        return self.mode == "bus"


@dataclass(frozen=True)
class SignalSettings:
    port: str
    baudrate: int = default("signal", "baudrate")
    on_pass: bytes = default("signal", "on_pass").encode("utf-8")


def parse_kiosk(table: Mapping[str, Any]) -> KioskSettings:
    values = check_section(SECTIONS["kiosk"], table)
    if values["mode"] == "bus" and "verdict_seconds" not in table:
        values["verdict_seconds"] = setting("kiosk", "verdict_seconds").bus_default
    if values["admin_pin_hash"] is not None:
        from kiosk.checkpoint.pin import well_formed

        if not well_formed(values["admin_pin_hash"]):  # a typo found at start and by doctor, not at the door
            raise bad("kiosk", "admin_pin_hash", values["admin_pin_hash"], "the line `kiosk admin hash-pin` prints")
    for key in ("verdict_seconds", "lockout_seconds", "reading_wait"):
        values[key] = float(values[key])
    return KioskSettings(**values)


def parse_signal(table: Mapping[str, Any]) -> SignalSettings:
    values = check_section(SECTIONS["signal"], table)
    return SignalSettings(values["port"], values["baudrate"], values["on_pass"].encode("utf-8"))
