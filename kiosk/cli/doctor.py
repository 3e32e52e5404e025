"""`kiosk doctor`: check what the configuration names, for installers. Exit 0 when nothing failed."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.cli.common import add_trust_option, config_of, new_command, print_json
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.sync.health import Limits, age_text, trust_alerts

Check = tuple[str, str, str]  # (result "ok" | "warn" | "fail", what, detail)


def register(commands: Any) -> None:
    p = new_command(commands, "doctor", "check the config, trust data, decoders, camera, scanner and thermometer")
    add_trust_option(p)
    p.add_argument("--json", action="store_true", help="one JSON line per check")
    p.add_argument("--wait", type=float, default=3.0, metavar="S", help="how long to wait for each device")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_of(args)
        checks: list[Check] = [("ok", "config", str(config.source or "built-in defaults"))]
    except KioskError as err:
        config, checks = Config(), [("fail", "config", str(err))]
    # A config file that fails is said once, above; the checks then look at the built-in defaults.
    trust_dir = Path(args.trust) if args.trust is not None else None if checks[0][0] == "fail" else config.trust_dir
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("trust", lambda: _trust(trust_dir, config.limits) if trust_dir is not None else
         ("warn", "trust", "not checked: the config file names the trust directory")), ("sync", lambda: _sync(config)),
        ("decoders", _decoders), ("camera", lambda: _camera(config, args.wait)),
        ("2D scanner", lambda: _serial_scanner(config)), ("thermometer", lambda: _thermometer(config, args.wait))]
    for name, step in steps:
        try:
            checks.append(step())
        except Exception as err:  # a check that breaks is a failed check, never a crash
            checks.append(("fail", name, f"{type(err).__name__}: {err}"))
    for result, what, detail in checks:
        if args.json:
            print_json({"result": result, "check": what, "detail": detail})
        else:
            print(f"{result.upper():<5} {what:<12} {detail}")
    return 1 if any(result == "fail" for result, _, _ in checks) else 0


def _trust(directory: Path, limits: Limits) -> Check:
    from kiosk.trustdir import load_trust_dir, refreshed_at

    try:
        store = load_trust_dir(directory)
    except KioskError as err:
        return "fail", "trust", str(err)
    now = time.time()
    age_h = (now - store.bundle.iat) / 3600
    entries = f", status list {len(store.status):,} entries" if store.status else ", no status list"
    refreshed = refreshed_at(directory)
    detail = (f"{directory}: bundle seq {store.bundle.seq}, {len(store.bundle.keys)} keys, signed {age_h:.0f} h ago"
              f"{entries}, refreshed {age_text(now - refreshed)[0] + ' ago' if refreshed else 'never'}")
    problems = [*store.warnings, *(a.en for a in trust_alerts(now, refreshed, limits))]
    return ("warn" if problems else "ok"), "trust", "; ".join([detail, *problems])


def _sync(config: Config) -> Check:
    """The collector: reachable, its clock, and what this kiosk has not sent yet. Offline is a warning only."""
    if config.sync is None:
        return "ok", "sync", "no collector configured: the log stays on this kiosk"
    from kiosk.audit.store import AuditLog
    from kiosk.errors import SyncError
    from kiosk.sync.health import clock_alerts
    from kiosk.sync.outbox import Outbox
    from kiosk.sync.service import measure_clock
    from kiosk.sync.wiring import open_transport

    pending = ""
    if config.log is not None and config.log.path.exists():
        with AuditLog(config.log.path) as log, Outbox(log) as outbox:
            state, count = outbox.state(), outbox.pending()
        last = f"last success {age_text(time.time() - state.last_success)[0]} ago" if state.last_success else \
            "never synced"
        pending = f"; {count:,} events pending, {last}"
    with open_transport(config.sync, timeout=min(config.sync.timeout, 5.0)) as transport:
        try:
            offset = measure_clock(transport)
        except SyncError as err:
            return "warn", "sync", f"{err}{pending}"
    found = clock_alerts(offset, config.limits)
    detail = f"{config.sync.url}: answers, clock {'?' if offset is None else f'{offset:+.1f} s'}{pending}"
    return ("warn" if found else "ok"), "sync", "; ".join([detail, *(a.en for a in found)])


def _decoders() -> Check:
    import zxingcpp  # noqa: F401
    from pyzbar import pyzbar  # type: ignore[import-untyped]  # fails here without Debian's libzbar0

    _ = pyzbar.decode
    return "ok", "decoders", "zxing-cpp, pyzbar (libzbar0)"


def _camera(config: Config, wait: float) -> Check:
    scanner = config.scanner
    if scanner.camera is None:
        return "ok", "camera", "none configured"
    from kiosk.scanner.frames import open_source

    source = open_source(scanner.camera, width=scanner.width, height=scanner.height, fps=scanner.fps,
                         reconnect_every=wait)
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            frame = source.read()
            if frame is not None:
                height, width = frame.image.shape[:2]
                return "ok", "camera", f"{scanner.camera}: {width}x{height}"
            if getattr(source, "state", "") == "ended":
                break
            time.sleep(0.05)
    finally:
        source.close()
    return "fail", "camera", f"{scanner.camera}: no frame in {wait:g} s"


def _serial_scanner(config: Config) -> Check:
    if config.scanner.serial is None:
        return "ok", "2D scanner", "none configured"
    import serial  # type: ignore[import-untyped]

    try:
        serial.serial_for_url(config.scanner.serial, baudrate=config.scanner.serial_baudrate, timeout=0.1).close()
    except Exception as err:
        return "fail", "2D scanner", f"{config.scanner.serial}: {err}"
    return "ok", "2D scanner", f"{config.scanner.serial}: opens"


def _thermometer(config: Config, wait: float) -> Check:
    settings = config.thermometer
    if settings is None:
        return "ok", "thermometer", "none configured: no temperature required"
    from kiosk.checkpoint.factories import make_thermometer

    poller = make_thermometer(settings)
    poller.start()
    try:
        deadline = time.monotonic() + wait
        while poller.latest() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stop()
    state, latest = poller.state, poller.latest()
    if latest is None:
        return "fail", "thermometer", (f"{settings.port} ({settings.protocol}): {state.status}, "
                                       f"{state.last_error or f'{state.missed_polls} polls unanswered'}")
    return "ok", "thermometer", (f"{settings.port} ({settings.protocol}): {latest.reading.celsius:.2f} °C "
                                 f"(raw {latest.sample.object_c:.2f}), {state.errors} bad frames")
