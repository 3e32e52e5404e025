"""The [sync] section of the configuration file.

    [sync]
    url = "https://collector.example.org:8443"   # the site's collector
    device_key = "/var/lib/kiosk/device.key"     # default: $KIOSK_DEVICE_KEY, else ~/.local/share/kiosk/device.key
    ca_file = "/etc/kiosk/collector-ca.pem"      # for a collector with its own certificate authority
    batch = 500              # events per signed batch
    interval = 60            # seconds between passes when idle (new events are pushed within seconds anyway)
    timeout = 10             # seconds to wait for the collector
    trust_pull = true        # pull new trust files from the collector
    trust_every = 3600       # seconds between trust pulls
    clock_warn = 120         # seconds the kiosk's clock may differ from the collector's before a warning
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.tables import bad, check_table

TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,), "device_key": (str,), "ca_file": (str,), "batch": (int,), "interval": (int, float),
    "timeout": (int, float), "trust_pull": (bool,), "trust_every": (int, float), "clock_warn": (int, float),
}


@dataclass(frozen=True)
class SyncConfig:
    url: str
    device_key: Path | None = None
    ca_file: Path | None = None
    batch: int = 500
    interval: float = 60.0
    timeout: float = 10.0
    trust_pull: bool = True
    trust_every: float = 3600.0
    clock_warn: float = 120.0


def parse_sync(table: Mapping[str, Any], base: Path | None) -> SyncConfig:
    from kiosk.sync.protocol import MAX_EVENTS  # here: reading a config (kiosk verify) needs no wire format

    check_table("sync", table, TYPES)
    if "url" not in table:
        raise ConfigError('[sync] needs url = "https://..." (the collector)')
    if not table["url"].startswith(("http://", "https://")):
        raise bad("sync", "url", table["url"], 'the collector\'s address, "http://..." or "https://..."')
    if not 1 <= table.get("batch", 500) <= MAX_EVENTS:
        raise bad("sync", "batch", table["batch"], f"1 to {MAX_EVENTS} events")
    for key in ("interval", "timeout", "trust_every", "clock_warn"):
        if key in table and not (math.isfinite(table[key]) and table[key] > 0):
            raise bad("sync", key, table[key], "seconds above 0")

    def resolve(value: str) -> Path:
        path = Path(value)
        return base / path if base is not None and not path.is_absolute() else path

    values = dict(table)
    for key in ("device_key", "ca_file"):
        if key in table:
            values[key] = resolve(table[key])
    for key in ("interval", "timeout", "trust_every", "clock_warn"):
        if key in table:
            values[key] = float(table[key])
    return SyncConfig(**values)
