"""The [thermometer] and [scanner] sections of the configuration file.

    [thermometer]                      # absent: no thermometer (a bus), no temperature required
    protocol = "gy906"                 # gy906 | textline | modbus
    port = "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0"   # any pyserial URL
    baudrate = 9600
    interval = 0.1                     # seconds between polls
    options = { continuous = false }   # the protocol's own: template, slave, register, scale, ...
    compensation = { offset = 2.5 }    # skin to body: offset, ambient_slope, ambient_ref

    [scanner]
    camera = "0"                       # index, /dev/video0, a video file, a folder or a stream URL
    width = 1280
    height = 720
    fps = 30
    serial = "/dev/serial/by-id/usb-Scanner-if00"   # a 2D barcode scanner in USB serial mode
    serial_baudrate = 9600
    holdoff = 5.0                      # seconds before the same code is a new scan
    idle_after = 10.0                  # seconds with no code before only idle_fps frames a second are decoded (0: no)
    idle_fps = 5.0                     # frames decoded a second while idle (saves a tablet's battery)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.errors import ConfigError
from kiosk.tables import bad, check_table, cut, shown
from kiosk.thermometer.compensation import Compensation


@dataclass(frozen=True)
class ThermometerConfig:
    protocol: str
    port: str
    baudrate: int = 9600
    interval: float = 0.1
    options: Mapping[str, object] = field(default_factory=dict)
    compensation: Compensation = field(default_factory=Compensation)


@dataclass(frozen=True)
class ScannerConfig:
    camera: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    serial: str | None = None
    serial_baudrate: int = 9600
    holdoff: float = 5.0
    idle_after: float = 10.0
    idle_fps: float = 5.0


NUMBER = (int, float)
THERMOMETER_TYPES: dict[str, tuple[type, ...]] = {
    "protocol": (str,), "port": (str,), "baudrate": (int,), "interval": NUMBER, "options": (dict,),
    "compensation": (dict,)}
SCANNER_TYPES: dict[str, tuple[type, ...]] = {
    "camera": (str, int), "width": (int,), "height": (int,), "fps": NUMBER, "serial": (str,),
    "serial_baudrate": (int,), "holdoff": NUMBER, "idle_after": NUMBER, "idle_fps": NUMBER}
COMPENSATION_TYPES: dict[str, tuple[type, ...]] = {"offset": NUMBER, "ambient_slope": NUMBER, "ambient_ref": NUMBER}
LONGEST_OPTION = 200  # characters of a text option (a template, a request): more is a mistake


def _check(section: str, table: object, types: Mapping[str, tuple[type, ...]], within: str = "") -> Mapping[str, Any]:
    """check_table, and every number finite and 0 or more (a count, a size, a time)."""
    checked = check_table(section, table, types, within)
    for key, value in checked.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and not (math.isfinite(value) and value >= 0):
            raise bad(section, within + key, value, "a number 0 or more")
    return checked


def parse_thermometer(table: Mapping[str, Any]) -> ThermometerConfig:
    _check("thermometer", table, THERMOMETER_TYPES)
    if "protocol" not in table or "port" not in table:
        raise ConfigError("[thermometer] needs protocol and port, e.g. protocol = \"gy906\", port = \"/dev/ttyUSB0\"")
    from kiosk.thermometer.protocols import PROTOCOLS, make_driver  # here: only a config with a thermometer needs them

    if table["protocol"] not in PROTOCOLS:
        raise bad("thermometer", "protocol", table["protocol"], " or ".join(f'"{name}"' for name in PROTOCOLS))
    options = table.get("options", {})
    for key, value in options.items():
        if isinstance(value, str) and len(value) > LONGEST_OPTION:
            raise bad("thermometer", f"options.{key}", value, f"at most {LONGEST_OPTION} characters")
    try:
        make_driver(table["protocol"], options)  # fail at start, not at the first person
    except ValueError as err:
        raise ConfigError(f"[thermometer] options = {shown(options)}: {cut(str(err), 300)}") from None
    compensation = table.get("compensation", {})
    check_table("thermometer", compensation, COMPENSATION_TYPES, "compensation.")
    for key, value in compensation.items():
        if not math.isfinite(value):  # a negative offset or slope is allowed: only NaN and infinity are not
            raise bad("thermometer", f"compensation.{key}", value, "a finite number")
    return ThermometerConfig(table["protocol"], table["port"], table.get("baudrate", 9600),
                             float(table.get("interval", 0.1)), options, Compensation.from_mapping(compensation))


def parse_scanner(table: Mapping[str, Any]) -> ScannerConfig:
    _check("scanner", table, SCANNER_TYPES)
    if table.get("idle_fps", 5.0) == 0:
        raise bad("scanner", "idle_fps", 0, "more than 0 frames a second")
    values = dict(table)
    if "camera" in values:
        values["camera"] = str(values["camera"])
    return ScannerConfig(**values)
