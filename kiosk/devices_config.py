"""The [thermometer] and [scanner] sections of the configuration file.

    [thermometer]                      # absent: no thermometer (a bus), no temperature required
    protocol = "gy906"                 # gy906 | textline | modbus
    port = "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0"   # any pyserial URL
    compensation = { offset = 2.0 }    # skin to body: offset, ambient_slope, ambient_ref

    [scanner]
    camera = "0"                       # index, /dev/video0, a video file, a folder or a stream URL
    serial = "/dev/serial/by-id/usb-Scanner-if00"   # a 2D barcode scanner in USB serial mode

Every setting's type, default and range is declared in kiosk/settings_table.py
(the README's settings table is made from it); here is only what one setting
cannot say alone: a protocol's own options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.errors import ConfigError
from kiosk.settings_table import SECTIONS, default
from kiosk.tables import bad, check_section, cut, shown
from kiosk.thermometer.compensation import Compensation

LONGEST_OPTION = 200  # characters of a text option (a template, a request): more is a mistake


@dataclass(frozen=True)
class ThermometerConfig:
    protocol: str
    port: str
    baudrate: int = default("thermometer", "baudrate")
    interval: float = default("thermometer", "interval")
    options: Mapping[str, object] = field(default_factory=lambda: default("thermometer", "options"))
    compensation: Compensation = field(default_factory=Compensation)


@dataclass(frozen=True)
class ScannerConfig:
    camera: str | None = default("scanner", "camera")
    width: int | None = default("scanner", "width")
    height: int | None = default("scanner", "height")
    fps: float | None = default("scanner", "fps")
    serial: str | None = default("scanner", "serial")
    serial_baudrate: int = default("scanner", "serial_baudrate")
    holdoff: float = default("scanner", "holdoff")
    idle_after: float = default("scanner", "idle_after")
    idle_fps: float = default("scanner", "idle_fps")


def parse_thermometer(table: Mapping[str, Any]) -> ThermometerConfig:
    values = check_section(SECTIONS["thermometer"], table)
    from kiosk.thermometer.protocols import make_driver  # here: only a config with a thermometer needs it

    options = values["options"]
    for key, value in options.items():
        if isinstance(value, str) and len(value) > LONGEST_OPTION:
            raise bad("thermometer", f"options.{key}", value, f"at most {LONGEST_OPTION} characters")
    try:
        make_driver(values["protocol"], options)  # fail at start, not at the first person
    except ValueError as err:
        raise ConfigError(f"[thermometer] options = {shown(options)}: {cut(str(err), 300)}") from None
    return ThermometerConfig(values["protocol"], values["port"], values["baudrate"], float(values["interval"]),
                             options, Compensation.from_mapping(values["compensation"]))


def parse_scanner(table: Mapping[str, Any]) -> ScannerConfig:
    values = check_section(SECTIONS["scanner"], table)
    if values["camera"] is not None:
        values["camera"] = str(values["camera"])
    return ScannerConfig(**values)
