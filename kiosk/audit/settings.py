"""The [log] section of the configuration file, and the subject secret.

    [log]
    path = "/var/lib/kiosk/audit.db"
    site = "Joy City, gate 2"
    device = "kiosk-07"
    secret_file = "/etc/kiosk/subject.key"   # the authority's HMAC key for subject references (hex)

Every setting's type, default and range is declared in kiosk/settings_table.py
(the README's settings table is made from it); here is only what one setting
cannot say alone (the fields' names, the zone's name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.fileio import data_path, write_new_private
from kiosk.settings_table import SECTIONS, default
from kiosk.tables import bad, check_section


def default_log_path() -> Path:
    """Where a kiosk with no [log] keeps its audit log: $KIOSK_AUDIT_LOG, else kiosk/audit.db under the XDG data
    folder (~/.local/share), beside the device key. `kiosk run` and `kiosk scan` write it; `kiosk log` and
    `kiosk sync` read it, so a volunteer's kiosk and the commands that export or sync its log agree."""
    return data_path("KIOSK_AUDIT_LOG", "audit.db")


def existing_default_log() -> Path:
    """default_log_path() for commands that read a log (`kiosk log`, `kiosk sync`): an error if there is none yet."""
    path = default_log_path()
    if not path.exists():
        raise ConfigError(f"no audit log: give --log DB or a [log] section in the config ({path} does not exist yet)")
    return path


@dataclass(frozen=True)
class LogConfig:
    path: Path
    site: str = default("log", "site")
    lane: str = default("log", "lane")
    device: str = default("log", "device")
    secret_file: Path | None = None  # none: a key the kiosk makes beside the log
    raw_subject: bool = default("log", "raw_subject")
    retention_days: float = default("log", "retention_days")
    on_failure: str = default("log", "on_failure")
    language: str = default("log", "language")
    manual_fields: tuple[str, ...] = field(default=tuple(default("log", "manual_fields")))
    timezone: str = default("log", "timezone")  # an IANA name; empty: the machine's zone

    @property
    def zone(self) -> tzinfo:
        """The zone exports and reports show times in."""
        from kiosk.audit.zones import zone_for  # here: zoneinfo is not needed to read a config (kiosk verify)

        return zone_for(self.timezone)


def parse_log(table: Mapping[str, Any], base: Path | None) -> LogConfig:
    values = check_section(SECTIONS["log"], table)
    fields_ = values["manual_fields"]
    if not all(isinstance(f, str) and f for f in fields_):
        raise bad("log", "manual_fields", fields_, 'a list of field names, e.g. ["name", "phone"]')
    if len(set(fields_)) != len(fields_):
        raise bad("log", "manual_fields", fields_, "each name once")
    if values["timezone"]:
        from kiosk.audit.zones import named_zone

        try:
            named_zone(values["timezone"])
        except ValueError:
            raise bad("log", "timezone", values["timezone"], 'an IANA zone name such as "Asia/Shanghai"') from None

    def resolve(value: str) -> Path:
        path = Path(value)
        return base / path if base is not None and not path.is_absolute() else path

    values["path"] = resolve(values["path"])
    values["secret_file"] = resolve(values["secret_file"]) if values["secret_file"] is not None else None
    values["manual_fields"] = tuple(fields_)
    values["retention_days"] = float(values["retention_days"])
    return LogConfig(**values)


def subject_secret(config: LogConfig) -> bytes | None:
    """The HMAC key for subject references; None when the site stores raw ids.

    Without a secret_file the kiosk makes its own key next to the log (0600) on
    first start: visits then link on this kiosk only, until the authority's key
    is installed.
    """
    if config.raw_subject:
        return None
    path = config.secret_file or config.path.with_name(config.path.name + ".subject-key")
    if config.secret_file is None and not path.exists():
        write_new_private(path, os.urandom(32).hex() + "\n")
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read the subject secret (hex): {err}") from None
    if len(secret) < 16:
        raise ConfigError(f"{path}: the subject secret must be at least 16 bytes (32 hex digits)")
    return secret
