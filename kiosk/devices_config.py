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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.errors import ConfigError
from kiosk.thermometer.compensation import Compensation
from kiosk.thermometer.protocols import make_driver


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


def _check(table: Mapping[str, Any], section: str, types: Mapping[str, tuple[type, ...]]) -> None:
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table")
    if unknown := sorted(set(table) - set(types)):
        raise ConfigError(f"[{section}] unknown setting(s): {', '.join(unknown)}; known: {', '.join(types)}")
    for key, value in table.items():
        allowed = types[key]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            raise ConfigError(f"[{section}] {key} has the wrong type: {value!r}")
        if (isinstance(value, float) and not math.isfinite(value)) or (isinstance(value, (int, float)) and value < 0):
            raise ConfigError(f"[{section}] {key} must be 0 or more: {value!r}")


NUMBER = (int, float)


def parse_thermometer(table: Mapping[str, Any]) -> ThermometerConfig:
    _check(table, "thermometer", {"protocol": (str,), "port": (str,), "baudrate": (int,), "interval": NUMBER,
                                  "options": (dict,), "compensation": (dict,)})
    if "protocol" not in table or "port" not in table:
        raise ConfigError("[thermometer] needs protocol and port")
    options = table.get("options", {})
    try:
        make_driver(table["protocol"], options)  # fail at start, not at the first person
    except ValueError as err:
        raise ConfigError(f"[thermometer] {err}") from None
    return ThermometerConfig(table["protocol"], table["port"], table.get("baudrate", 9600),
                             float(table.get("interval", 0.1)), options,
                             Compensation.from_mapping(table.get("compensation", {})))


def parse_scanner(table: Mapping[str, Any]) -> ScannerConfig:
    _check(table, "scanner", {"camera": (str, int), "width": (int,), "height": (int,), "fps": NUMBER,
                              "serial": (str,), "serial_baudrate": (int,), "holdoff": NUMBER})
    values = dict(table)
    if "camera" in values:
        values["camera"] = str(values["camera"])
    return ScannerConfig(**values)
