"""The [kiosk] and [signal] sections of the configuration file.

    [kiosk]
    mode = "door"            # "door" (a gate with a thermometer) or "bus" (a tablet at the bus door)
    vehicle = "Bus 37 / route 5"   # bus mode: recorded in every event (as the lane) and shown on screen
    verdict_seconds = 3.0    # how long a verdict stays on screen (bus default 1.5)
    reading_wait = 1.5       # seconds a code read before the thermometer's first reading waits for one (0: none)
    fullscreen = true
    sound = true
    language = "zh"          # which language leads on screen; both are always shown
    admin_pin_hash = "pbkdf2_sha256$..."   # `kiosk admin hash-pin`; no hash: the admin screens are closed
    lockout_attempts = 5     # wrong PINs in a row before the admin screens lock
    lockout_seconds = 300

    [signal]                 # a turnstile or a lamp on a serial line, opened on every PASS
    port = "/dev/kiosk-gate"
    baudrate = 9600
    on_pass = "OPEN\\r\\n"     # what to send (escapes as in TOML)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.errors import ConfigError
from kiosk.tables import bad, check_table

KIOSK_TYPES: dict[str, tuple[type, ...]] = {
    "mode": (str,), "vehicle": (str,), "verdict_seconds": (int, float), "fullscreen": (bool,), "sound": (bool,),
    "language": (str,), "admin_pin_hash": (str,), "lockout_attempts": (int,), "lockout_seconds": (int, float),
    "reading_wait": (int, float),
}
SIGNAL_TYPES: dict[str, tuple[type, ...]] = {"port": (str,), "baudrate": (int,), "on_pass": (str,)}


@dataclass(frozen=True)
class KioskSettings:
    mode: str = "door"
    vehicle: str = ""
    verdict_seconds: float = 3.0
    fullscreen: bool = True
    sound: bool = True
    language: str = "zh"
    admin_pin_hash: str | None = None
    lockout_attempts: int = 5
    lockout_seconds: float = 300.0
    reading_wait: float = 1.5

    @property
    def bus(self) -> bool:
        return self.mode == "bus"


@dataclass(frozen=True)
class SignalSettings:
    port: str
    baudrate: int = 9600
    on_pass: bytes = b"OPEN\r\n"


def parse_kiosk(table: Mapping[str, Any]) -> KioskSettings:
    check_table("kiosk", table, KIOSK_TYPES)
    mode = table.get("mode", "door")
    if mode not in ("door", "bus"):
        raise bad("kiosk", "mode", mode, '"door" or "bus"')
    if table.get("language", "zh") not in ("zh", "en"):
        raise bad("kiosk", "language", table["language"], '"zh" or "en"')
    seconds = float(table.get("verdict_seconds", 1.5 if mode == "bus" else 3.0))
    if not 0.3 <= seconds <= 60:
        raise bad("kiosk", "verdict_seconds", table["verdict_seconds"], "seconds between 0.3 and 60")
    if table.get("lockout_attempts", 5) < 1:
        raise bad("kiosk", "lockout_attempts", table["lockout_attempts"], "1 or more wrong PINs")
    if not (math.isfinite(lockout := table.get("lockout_seconds", 300)) and lockout > 0):
        raise bad("kiosk", "lockout_seconds", lockout, "seconds above 0")
    if not 0 <= table.get("reading_wait", 1.5) <= 10:
        raise bad("kiosk", "reading_wait", table["reading_wait"], "seconds between 0 (no wait) and 10")
    if "admin_pin_hash" in table:
        from kiosk.checkpoint.pin import well_formed

        if not well_formed(table["admin_pin_hash"]):  # a typo found at start and by doctor, not at the door
            raise bad("kiosk", "admin_pin_hash", table["admin_pin_hash"], "the line `kiosk admin hash-pin` prints")
    values = dict(table)
    values["verdict_seconds"] = seconds
    values["lockout_seconds"] = float(table.get("lockout_seconds", 300))
    values["reading_wait"] = float(table.get("reading_wait", 1.5))
    return KioskSettings(**values)


def parse_signal(table: Mapping[str, Any]) -> SignalSettings:
    check_table("signal", table, SIGNAL_TYPES)
    if "port" not in table:
        raise ConfigError('[signal] needs port (a pyserial URL or device), e.g. port = "/dev/kiosk-gate"')
    if not table["port"]:
        raise bad("signal", "port", table["port"], "a pyserial URL or device, e.g. \"/dev/kiosk-gate\"")
    command = table.get("on_pass", "OPEN\r\n").encode("utf-8")
    if not command:
        raise bad("signal", "on_pass", "", "the bytes to send on a pass, e.g. \"OPEN\\r\\n\"")
    return SignalSettings(table["port"], table.get("baudrate", 9600), command)
