"""The [sync] section of the configuration file.

    [sync]
    url = "https://collector.example.org:8443"   # the site's collector
    ca_file = "/etc/kiosk/collector-ca.pem"      # for a collector with its own certificate authority

Every setting's type, default and range is declared in kiosk/settings_table.py
(the largest batch is the wire format's, kiosk/sync/protocol.py MAX_EVENTS);
here is only what one setting cannot say alone: the url's scheme.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.settings_table import SECTIONS, default
from kiosk.tables import bad, check_section


@dataclass(frozen=True)
class SyncConfig:
    url: str
    device_key: Path | None = None  # none: $KIOSK_DEVICE_KEY, else device.key in the data folder
    ca_file: Path | None = None  # none: the system's certificate authorities
    batch: int = default("sync", "batch")
    interval: float = default("sync", "interval")
    timeout: float = default("sync", "timeout")
    trust_pull: bool = default("sync", "trust_pull")
    trust_every: float = default("sync", "trust_every")
    clock_warn: float = default("sync", "clock_warn")


def parse_sync(table: Mapping[str, Any], base: Path | None) -> SyncConfig:
    values = check_section(SECTIONS["sync"], table)
    if not values["url"].startswith(("http://", "https://")):
        raise bad("sync", "url", values["url"], 'the collector\'s address, "http://..." or "https://..."')

    def resolve(value: str) -> Path:
        path = Path(value)
        return base / path if base is not None and not path.is_absolute() else path

    for key in ("device_key", "ca_file"):
        if values[key] is not None:
            values[key] = resolve(values[key])
    for key in ("interval", "timeout", "trust_every", "clock_warn"):
        values[key] = float(values[key])
    return SyncConfig(**values)
