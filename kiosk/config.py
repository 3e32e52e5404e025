"""The kiosk's configuration file (TOML): where things are and the site policy.

Every setting, its type, default and range, is declared in
kiosk/settings_table.py (the README's settings table is made from it). This
module reads [trust] and [policy] (kiosk/policy.py); [thermometer] and
[scanner] are read by kiosk/devices_config.py, [log] by
kiosk/audit/settings.py, [sync] by kiosk/sync/settings.py, [kiosk] and
[signal] by kiosk/checkpoint/settings.py. Found by `--config FILE`, else
$KIOSK_CONFIG; with neither, the defaults hold.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.errors import ConfigError
from kiosk.fileio import data_path
from kiosk.policy import Policy
from kiosk.settings_table import SECTIONS, default
from kiosk.tables import bad, check_section, names

# The sections' modules are imported where a section is read or made: `kiosk verify` with no
# config file needs none of them, and it must start fast (benchmarks/startup.py).
if TYPE_CHECKING:
    from kiosk.audit.settings import LogConfig
    from kiosk.checkpoint.settings import KioskSettings, SignalSettings
    from kiosk.devices_config import ScannerConfig, ThermometerConfig
    from kiosk.sync.health import Limits
    from kiosk.sync.settings import SyncConfig

KNOWN_SECTIONS = tuple(SECTIONS)
TRUST_DIR_WORDS = "the folder that holds trust.cose and roots/"


def default_trust_dir() -> Path:
    """$KIOSK_TRUST_DIR, else kiosk/trust under the XDG data folder (~/.local/share)."""
    return data_path("KIOSK_TRUST_DIR", "trust")


def _no_scanner() -> ScannerConfig:
    from kiosk.devices_config import ScannerConfig

    return ScannerConfig()


def _default_limits() -> Limits:
    from kiosk.sync.health import Limits

    return Limits()


def _door() -> KioskSettings:
    from kiosk.checkpoint.settings import KioskSettings

    return KioskSettings()


@dataclass(frozen=True)
class Config:
    trust_dir: Path = field(default_factory=default_trust_dir)
    policy: Policy = field(default_factory=Policy)
    source: Path | None = None  # the file it was read from, for messages
    thermometer: ThermometerConfig | None = None  # None: no thermometer (a bus)
    scanner: ScannerConfig = field(default_factory=_no_scanner)
    log: LogConfig | None = None  # None: no audit log (kiosk verify without --log)
    sync: SyncConfig | None = None  # None: no collector (the log stays on the kiosk)
    limits: Limits = field(default_factory=_default_limits)  # when trust age and clock offset become warnings
    kiosk: KioskSettings = field(default_factory=_door)  # door or bus, verdict time, admin PIN
    signal: SignalSettings | None = None  # a turnstile or lamp opened on PASS


def parse_config(text: str, source: Path | None = None) -> Config:
    """A Config from TOML text; raise ConfigError naming what is wrong."""
    if sys.version_info >= (3, 11):  # imported here: with no config file (kiosk verify) no TOML is read
        import tomllib
    else:  # pragma: no cover - Debian 12 and Ubuntu 24.04 ship 3.11+
        import tomli as tomllib

    from kiosk.audit.settings import parse_log
    from kiosk.checkpoint.settings import parse_kiosk, parse_signal
    from kiosk.devices_config import parse_scanner, parse_thermometer
    from kiosk.sync.health import Limits
    from kiosk.sync.settings import parse_sync

    where = f"{source}: " if source else ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}not valid TOML: {err}") from None
    unknown = sorted(set(data) - set(KNOWN_SECTIONS))
    if unknown:
        raise ConfigError(f"{where}unknown section(s): {names(unknown)}; expected: {', '.join(KNOWN_SECTIONS)}")
    try:
        trust_dir, hours = _parse_trust(data.get("trust", {}), source)
        policy = Policy.from_table(data.get("policy", {}), data.get("hc1"))
        thermometer = parse_thermometer(data["thermometer"]) if "thermometer" in data else None
        scanner = parse_scanner(data.get("scanner", {}))
        log = parse_log(data["log"], source.parent if source else None) if "log" in data else None
        sync = parse_sync(data["sync"], source.parent if source else None) if "sync" in data else None
        kiosk = parse_kiosk(data.get("kiosk", {}))
        signal = parse_signal(data["signal"]) if "signal" in data else None
    except ConfigError as err:
        raise ConfigError(f"{where}{err}") from None
    limits = Limits(hours["warn_hours"] * 3600.0, hours["alarm_hours"] * 3600.0,
                    sync.clock_warn if sync else float(default("sync", "clock_warn")))
    return Config(trust_dir, policy, source, thermometer, scanner, log, sync, limits, kiosk, signal)


def _parse_trust(table: object, source: Path | None) -> tuple[Path, dict[str, float]]:
    """[trust]: the trust directory (relative to the config file) and the hours of its age warnings."""
    trust = check_section(SECTIONS["trust"], table)
    hours = {key: trust[key] for key in ("warn_hours", "alarm_hours")}
    if hours["alarm_hours"] < hours["warn_hours"]:  # blame the one that was written
        if isinstance(table, dict) and "alarm_hours" in table:
            raise bad("trust", "alarm_hours", hours["alarm_hours"], f"hours >= warn_hours ({hours['warn_hours']})")
        raise bad("trust", "warn_hours", hours["warn_hours"], f"hours <= alarm_hours ({hours['alarm_hours']}, "
                                                              "the default)")
    trust_dir = Path(trust["dir"]) if trust["dir"] is not None else default_trust_dir()
    if source is not None and not trust_dir.is_absolute():
        trust_dir = source.parent / trust_dir  # relative to the file, not to wherever the kiosk starts
    if trust_dir.exists() and not trust_dir.is_dir():
        raise bad("trust", "dir", trust["dir"], f"a directory, not a file: {TRUST_DIR_WORDS}")
    return trust_dir, hours


def config_path(path: Path | None) -> Path | None:
    """`path`, else $KIOSK_CONFIG; None: there is no config file, the defaults hold."""
    if path is None and os.environ.get("KIOSK_CONFIG"):
        return Path(os.environ["KIOSK_CONFIG"])
    return path


def load_config(path: Path | None) -> Config:
    """Read the config file at `path`, or $KIOSK_CONFIG, or return the defaults."""
    path = config_path(path)
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from None
    return parse_config(text, path)
