"""Which time zone exports and reports use, and its name as people read it ("Asia/Shanghai", not "localtime")."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

LOCALTIME = Path("/etc/localtime")
TIMEZONE_FILE = Path("/etc/timezone")  # Debian's name of the zone, where /etc/localtime is a copy, not a link


def named_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError with a plain message if there is none."""
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError; "Asia" is a folder
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as \"Asia/Shanghai\")") from None


def local_zone(localtime: Path = LOCALTIME, timezone_file: Path = TIMEZONE_FILE) -> tzinfo:
    """The machine's zone with its DST rules and real name: TZ, else /etc/localtime's link, else /etc/timezone."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        with contextlib.suppress(ValueError):
            return named_zone(name)  # a POSIX rule such as "CST-8" is no name: fall through to the file
    for key in (_linked_key(localtime), _file_key(timezone_file)):
        if key:
            with contextlib.suppress(ValueError):
                return named_zone(key)
    with contextlib.suppress(OSError, ValueError), open(localtime, "rb") as f:
        return ZoneInfo.from_file(f)  # right rules, no name: zone_name shows its offset
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


def zone_for(name: str) -> tzinfo:
    """The zone of a `[log] timezone` setting; empty: the machine's."""
    return named_zone(name) if name else local_zone()


def _linked_key(localtime: Path) -> str | None:
    """"Asia/Shanghai" of a link to .../zoneinfo/Asia/Shanghai (posix/ and right/ variants included)."""
    if not localtime.is_symlink():
        return None
    target = Path(os.path.realpath(localtime)).as_posix()
    if "/zoneinfo/" not in target:
        return None
    key = target.split("/zoneinfo/", 1)[1]
    for prefix in ("posix/", "right/"):
        key = key.removeprefix(prefix)
    return key


def _file_key(path: Path) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return path.read_text(encoding="ascii").strip() or None
    return None


def offset_text(zone: tzinfo, at: float) -> str:
    """"UTC+08:00" at `at`."""
    delta = datetime.fromtimestamp(at, zone).utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_name(zone: tzinfo, at: float) -> str:
    """"Asia/Shanghai (UTC+08:00)", or just the offset for a zone with no name."""
    key = getattr(zone, "key", None)
    return f"{key} ({offset_text(zone, at)})" if key else offset_text(zone, at)
