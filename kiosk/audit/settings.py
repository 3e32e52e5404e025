"""The [log] section of the configuration file, and the subject secret.

    [log]
    path = "/var/lib/kiosk/audit.db"
    site = "Joy City, gate 2"
    lane = "2"                  # a lane, a gate, or a vehicle / route id on a bus
    device = "kiosk-07"
    secret_file = "/etc/kiosk/subject.key"   # the authority's HMAC key for subject references (hex)
    raw_subject = false         # true: store raw subject ids, where the authority requires it
    retention_days = 28
    on_failure = "continue"     # or "deny": refuse entry while the log cannot be written
    language = "zh"             # export headers and report: zh or en
    manual_fields = ["name", "phone", "id_last4"]   # what a volunteer records for a person without a code
    timezone = "Asia/Shanghai"  # the zone of exports and reports (default: the machine's, TZ or /etc/localtime)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.fileio import data_path, write_new_private
from kiosk.tables import bad, check_table

TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,), "site": (str,), "lane": (str,), "device": (str,), "secret_file": (str,), "raw_subject": (bool,),
    "retention_days": (int, float), "on_failure": (str,), "language": (str,), "manual_fields": (list,),
    "timezone": (str,),
}


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
    site: str = ""
    lane: str = ""
    device: str = ""
    secret_file: Path | None = None
    raw_subject: bool = False
    retention_days: float = 28.0
    on_failure: str = "continue"
    language: str = "zh"
    manual_fields: tuple[str, ...] = field(default=("name", "phone", "id_last4"))
    timezone: str = ""  # an IANA name; empty: the machine's zone

    @property
    def zone(self) -> tzinfo:
        """The zone exports and reports show times in."""
        from kiosk.audit.zones import zone_for  # here: zoneinfo is not needed to read a config (kiosk verify)

        return zone_for(self.timezone)


def parse_log(table: Mapping[str, Any], base: Path | None) -> LogConfig:
    check_table("log", table, TYPES)
    if "path" not in table:
        raise ConfigError('[log] needs path, e.g. path = "/var/lib/kiosk/audit.db"')
    if table.get("on_failure", "continue") not in ("continue", "deny"):
        raise bad("log", "on_failure", table["on_failure"], '"continue" or "deny"')
    if table.get("language", "zh") not in ("zh", "en"):
        raise bad("log", "language", table["language"], '"zh" or "en"')
    if not (math.isfinite(days := table.get("retention_days", 28)) and days > 0):
        raise bad("log", "retention_days", days, "days above 0")
    fields_ = table.get("manual_fields", ["name", "phone", "id_last4"])
    if not all(isinstance(f, str) and f for f in fields_):
        raise bad("log", "manual_fields", fields_, 'a list of field names, e.g. ["name", "phone"]')
    if len(set(fields_)) != len(fields_):
        raise bad("log", "manual_fields", fields_, "each name once")
    if table.get("timezone"):
        from kiosk.audit.zones import named_zone

        try:
            named_zone(table["timezone"])
        except ValueError:
            raise bad("log", "timezone", table["timezone"], 'an IANA zone name such as "Asia/Shanghai"') from None

    def resolve(value: str) -> Path:
        path = Path(value)
        return base / path if base is not None and not path.is_absolute() else path

    values = dict(table)
    values["path"] = resolve(table["path"])
    values["secret_file"] = resolve(table["secret_file"]) if "secret_file" in table else None
    values["manual_fields"] = tuple(fields_)
    values["retention_days"] = float(table.get("retention_days", 28))
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
