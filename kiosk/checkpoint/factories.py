"""One factory per part of a checkpoint, from its section of the configuration: the composition root's parts.

kiosk/checkpoint/wiring.py puts them together into a checkpoint; the commands
that need one part alone (`kiosk verify --log`, `kiosk doctor`, `kiosk
thermometer probe`) take it from here too, so a part is built the same way
wherever it is used. Nothing is built at import time, and each factory imports
its part's modules only when called (`kiosk verify` loads no serial port,
database or HTTP client it does not use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import LogConfig
    from kiosk.audit.store import AuditLog
    from kiosk.checkpoint.parts import TrustNews
    from kiosk.checkpoint.signal import PassSignal
    from kiosk.config import Config
    from kiosk.devices_config import ThermometerConfig
    from kiosk.sync.wiring import SyncParts
    from kiosk.thermometer.poller import Measurement, ThermometerPoller


def log_settings(config: Config, log_path: Path | None = None) -> LogConfig:
    """[log] with `log_path` in place of its path; without [log], the log in the kiosk's data folder
    (default_log_path). On a bus the vehicle is the lane of every event: each event says which bus."""
    from kiosk.audit.settings import LogConfig, default_log_path

    settings = config.log or LogConfig(log_path or default_log_path())
    if log_path is not None:
        settings = replace(settings, path=log_path)
    if config.kiosk.bus and config.kiosk.vehicle:
        settings = replace(settings, lane=config.kiosk.vehicle)
    return settings


def make_recorder(config: Config, *, log_path: Path | None = None) -> Recorder:
    """The audit log of log_settings(), open, with the site's subject secret; LogWriteError if it cannot be
    opened, ConfigError for a secret file that cannot be read."""
    from kiosk.audit.recorder import Recorder

    return Recorder.open(log_settings(config, log_path))


def make_thermometer(settings: ThermometerConfig, *, reconnect_every: float = 2.0,
                     listener: Callable[[Measurement], None] | None = None) -> ThermometerPoller:
    """The poller for a [thermometer] section (not started): its protocol's driver on its port."""
    from kiosk.thermometer.poller import ThermometerPoller
    from kiosk.thermometer.protocols import make_driver

    return ThermometerPoller(settings.port, make_driver(settings.protocol, settings.options),
                             baudrate=settings.baudrate, interval=settings.interval,
                             compensation=settings.compensation, reconnect_every=reconnect_every, listener=listener)


def door_thermometer(config: Config) -> ThermometerPoller | None:
    """The checkpoint's thermometer: [thermometer]'s, and never one on a bus, whatever else is set."""
    if config.thermometer is None or config.kiosk.bus:
        return None
    return make_thermometer(config.thermometer)


def make_sync(config: Config, audit: AuditLog, trust_dir: Path, news: TrustNews) -> SyncParts | None:
    """Sync of `audit` to [sync]'s collector (None without [sync]); trust pulls that install something tell
    `news`, so a running checkpoint reloads its trust store."""
    if config.sync is None:
        return None
    from kiosk.sync.wiring import build_sync

    return build_sync(config.sync, audit, trust_dir, on_trust=news.installed,
                      raw_subjects=config.log is not None and config.log.raw_subject)


def make_signal(config: Config) -> PassSignal | None:
    """The pass signal of [signal] (None without it); its thread starts now, its port at the first pass."""
    if config.signal is None:
        return None
    from kiosk.checkpoint.signal import PassSignal

    return PassSignal(config.signal)
