"""The kiosk's configuration file (TOML): where things are and the site policy.

    [trust]
    dir = "/var/lib/kiosk/trust"
    warn_hours = 24          # trust data not refreshed for this long: a warning
    alarm_hours = 72         # ... for this long: a louder one

    [policy]
    skew = 120
    max_age = 300
    accept_printed = true
    fever_threshold = 37.3

plus [thermometer] and [scanner] (kiosk/devices_config.py), [log]
(kiosk/audit/settings.py), [sync] (kiosk/sync/settings.py), [kiosk] and
[signal] (kiosk/checkpoint/settings.py). Found by
`--config FILE`, else $KIOSK_CONFIG; with neither, the defaults hold.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.audit.settings import LogConfig, parse_log
from kiosk.checkpoint.settings import KioskSettings, SignalSettings, parse_kiosk, parse_signal
from kiosk.devices_config import ScannerConfig, ThermometerConfig, parse_scanner, parse_thermometer
from kiosk.errors import ConfigError
from kiosk.fileio import data_path
from kiosk.policy import Policy
from kiosk.sync.health import Limits
from kiosk.sync.settings import SyncConfig, parse_sync

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Debian 12 and Ubuntu 24.04 ship 3.11+
    import tomli as tomllib

KNOWN_SECTIONS = {"trust", "policy", "thermometer", "scanner", "log", "sync", "kiosk", "signal"}


def default_trust_dir() -> Path:
    """$KIOSK_TRUST_DIR, else kiosk/trust under the XDG data folder (~/.local/share)."""
    return data_path("KIOSK_TRUST_DIR", "trust")


@dataclass(frozen=True)
class Config:
    trust_dir: Path = field(default_factory=default_trust_dir)
    policy: Policy = field(default_factory=Policy)
    source: Path | None = None  # the file it was read from, for messages
    thermometer: ThermometerConfig | None = None  # None: no thermometer (a bus)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    log: LogConfig | None = None  # None: no audit log (kiosk verify without --log)
    sync: SyncConfig | None = None  # None: no collector (the log stays on the kiosk)
    limits: Limits = field(default_factory=Limits)  # when trust age and clock offset become warnings
    kiosk: KioskSettings = field(default_factory=KioskSettings)  # door or bus, verdict time, admin PIN
    signal: SignalSettings | None = None  # a turnstile or lamp opened on PASS


def parse_config(text: str, source: Path | None = None) -> Config:
    """A Config from TOML text; raise ConfigError naming what is wrong."""
    where = f"{source}: " if source else ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}not valid TOML: {err}") from None
    unknown = sorted(set(data) - KNOWN_SECTIONS)
    if unknown:
        raise ConfigError(f"{where}unknown section(s): {', '.join(unknown)}")
    trust = data.get("trust", {})
    if not isinstance(trust, dict) or set(trust) - {"dir", "warn_hours", "alarm_hours"}:
        raise ConfigError(f"{where}[trust] takes dir, warn_hours and alarm_hours")
    if "dir" in trust and not isinstance(trust["dir"], str):
        raise ConfigError(f"{where}[trust] dir must be a path in quotes")
    hours = {key: trust.get(key, default) for key, default in (("warn_hours", 24), ("alarm_hours", 72))}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e6 for v in hours.values()) \
            or hours["alarm_hours"] < hours["warn_hours"]:
        raise ConfigError(f"{where}[trust] warn_hours and alarm_hours are hours above 0, alarm_hours >= warn_hours")
    trust_dir = Path(trust["dir"]) if "dir" in trust else default_trust_dir()
    if source is not None and not trust_dir.is_absolute():
        trust_dir = source.parent / trust_dir  # relative to the file, not to wherever the kiosk starts
    policy_table = data.get("policy", {})
    if not isinstance(policy_table, dict):
        raise ConfigError(f"{where}[policy] must be a table")
    try:
        policy = Policy().with_values(policy_table)
        thermometer = parse_thermometer(data["thermometer"]) if "thermometer" in data else None
        scanner = parse_scanner(data.get("scanner", {}))
        log = parse_log(data["log"], source.parent if source else None) if "log" in data else None
        sync = parse_sync(data["sync"], source.parent if source else None) if "sync" in data else None
        kiosk = parse_kiosk(data.get("kiosk", {}))
        signal = parse_signal(data["signal"]) if "signal" in data else None
    except ConfigError as err:
        raise ConfigError(f"{where}{err}") from None
    limits = Limits(hours["warn_hours"] * 3600.0, hours["alarm_hours"] * 3600.0,
                    sync.clock_warn if sync else Limits().clock_warn)
    return Config(trust_dir, policy, source, thermometer, scanner, log, sync, limits, kiosk, signal)


def load_config(path: Path | None) -> Config:
    """Read the config file at `path`, or $KIOSK_CONFIG, or return the defaults."""
    if path is None and os.environ.get("KIOSK_CONFIG"):
        path = Path(os.environ["KIOSK_CONFIG"])
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from None
    return parse_config(text, path)
