"""The README's pictures of the touchscreen: every screen, drawn offscreen by the real app.

    .venv/bin/python benchmarks/ui_screenshots.py [DIR]      # default docs/screenshots

Drives the app as the tests do (tests/ui_harness.py): a real checkpoint over
keys/demo, a real log, the thermometer simulator on a pty, codes submitted as
the camera would, touches on the real buttons. Door screens at 1280x800, the
bus at 1024x600.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk import demo  # noqa: E402
from kiosk.audit.recorder import Recorder  # noqa: E402
from kiosk.audit.settings import LogConfig  # noqa: E402
from kiosk.audit.store import AuditLog  # noqa: E402
from kiosk.checkpoint.admin import Admin  # noqa: E402
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts  # noqa: E402
from kiosk.checkpoint.pin import hash_pin  # noqa: E402
from kiosk.checkpoint.settings import KioskSettings  # noqa: E402
from kiosk.policy import Policy  # noqa: E402
from kiosk.scanner.synth import Look, render_frame  # noqa: E402
from kiosk.scanner.types import Frame  # noqa: E402
from kiosk.sync.settings import SyncConfig  # noqa: E402
from kiosk.sync.transport import SyncError  # noqa: E402
from kiosk.sync.wiring import SyncParts, build_sync  # noqa: E402
from kiosk.thermometer.poller import ThermometerPoller  # noqa: E402
from kiosk.thermometer.protocols import make_driver  # noqa: E402
from kiosk.thermometer.simulator import Simulator, person  # noqa: E402
from kiosk.thermometer.types import Sample  # noqa: E402
from kiosk.trustdir import load_trust_dir  # noqa: E402
from tests.ui_harness import UiHarness  # noqa: E402

PIN = "2468"


def camera_picture(text: str) -> Frame:
    """What the camera sees as someone holds up their phone (the pipeline is not running: no scan)."""
    look = Look(size=(640, 480), code_fraction=0.34, rotation=-8, tilt=12, tilt_axis=30.0, carrier="phone", hand=True)
    return Frame(render_frame(text, look, seed=3), 0, time.monotonic())


def door(folder: Path, out: Path) -> None:
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
    simulator.override = person(36.6)
    poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=0.2)
    trust = folder / "trust"
    shutil.copytree(demo.DEMO_DIR, trust, ignore=shutil.ignore_patterns("private"))
    log = LogConfig(folder / "audit.db", site="Joy City", lane="gate 2", device="kiosk-07")
    audit = AuditLog(log.path)
    parts = CheckpointParts(trust, load_trust_dir(trust), Policy(reading_window=0.6), [], poller,
                            Recorder(audit, log, os.urandom(32)), hold=600)
    checkpoint = Checkpoint(parts)
    settings = KioskSettings(fullscreen=False, sound=False, admin_pin_hash=hash_pin(PIN, iterations=1000),
                             lockout_attempts=3, lockout_seconds=300)
    admin = Admin(checkpoint, settings, media_roots=[folder / "media"])
    ui = UiHarness(checkpoint, settings, admin, size=(1280, 800))
    people = {}
    for someone in demo.queue(time.time()):
        people.setdefault(someone.expected, someone)
    app = ui.app
    try:
        checkpoint.latest_frame = camera_picture(people["ok"].text)
        ui.until(lambda: "36.6" in ui.ids("scan").thermometer.text and ui.ids("scan").preview.live, "a reading")
        ui.shot(out / "01-scan.png")

        def verdict(text: str, name: str, forehead: Sample | None = None, celsius: float = 36.6) -> None:
            simulator.override = forehead or person(36.6)
            ui.until(lambda: (r := poller.reading_at(time.time(), 0.6)) is not None and abs(r.celsius - celsius) < .05,
                     "the forehead")
            shown = len(app.shown)
            checkpoint.submit(text, "camera")
            ui.until(lambda: len(app.shown) > shown, "the verdict")
            ui.shot(out / name)

        verdict(people["ok"].text, "02-verdict-pass.png")
        verdict(people["status_red"].text, "03-verdict-deny.png")
        verdict(people["ok"].text, "04-verdict-fever.png", person(38.4), 38.4)
        verdict(people["temperature_implausible"].text, "05-verdict-retry.png", Sample(29.0, 4.0, 30.0), 31.5)
        verdict(people["too_old"].text, "06-verdict-too-old.png")
        ui.tap(app.root.ids.bar.ids.gear)  # staff step in: the verdict gives way to the PIN pad
        for digit in "13":
            ui.tap(button(app, "pin", digit))
        ui.shot(out / "07-pin.png")
        for wrong in ("1357", "0000", "9999"):
            for digit in wrong:
                ui.tap(button(app, "pin", digit))
            ui.tap(button(app, "pin", "确定  OK"))
            ui.until(lambda: not app.busy, "the PIN checked")
        ui.shot(out / "08-pin-locked.png")
        app.screen("pin").locked_until = 0  # as if the five minutes had passed (the Admin's lock is its own)
        admin.lock = type(admin.lock)(settings.admin_pin_hash, attempts=3, lockout=300)
        app.screen("pin").message = app.screen("pin").countdown = ""
        for digit in PIN:
            ui.tap(button(app, "pin", digit))
        ui.tap(button(app, "pin", "确定  OK"))
        ui.until(lambda: ui.screen == "admin", "the admin menu")
        ui.tap(button(app, "admin", "立即同步\nsync now"))
        ui.until(lambda: not app.busy and app.screen("admin").message, "the answer")
        ui.shot(out / "09-admin.png")
        ui.tap(button(app, "admin", "最近记录\nrecent events"))
        ui.until(lambda: app.screen("recent").rows, "the events")
        ui.shot(out / "10-recent.png")
        ui.tap(button(app, "recent", "返回  back"))
        ui.tap(button(app, "admin", "阈值与策略\nthresholds and policy"))
        ui.until(lambda: app.screen("policy").values, "the policy")
        ui.tap(ui.ids("policy").fever_up)
        ui.shot(out / "11-policy.png")
        ui.tap(button(app, "policy", "返回  back"))
        ui.tap(button(app, "admin", "人工登记\nregister a person"))
        register = app.screen("register")
        for key, value in {"name": "王*芳", "phone": "138 0000 0000", "id_last4": "0423"}.items():
            register.inputs()[key].text = value
        register.ids.temperature.text = "36.8"
        ui.tap(button(app, "register", "登记  register"))
        ui.until(lambda: register.message.startswith("已登记"), "registered")
        register.inputs()["name"].text = "李*"
        ui.shot(out / "12-register.png")
        ui.tap(button(app, "register", "返回  back"))
        ui.tap(button(app, "admin", "退出管理  leave admin"))
        # Trouble: the thermometer unplugged, trust data four days old, and a collector that cannot be reached.
        checkpoint.parts.sync = unreachable_collector(folder, audit, trust)
        simulator.stop()
        stale = time.time() - 4 * 86400
        (trust / "refreshed.json").write_text(json.dumps({"at": stale, "how": "sync"}))
        ui.until(lambda: app.root.ids.bar.view.worst == "alarm" and "未连接" in ui.ids("scan").thermometer.text,
                 "the alarms")
        ui.app.poller.refresh()
        ui.until(lambda: app.root.ids.bar.chip("trust").level == "alarm", "the trust alarm")
        ui.shot(out / "13-status-warnings.png")
    finally:
        ui.close()
        simulator.stop()


def unreachable_collector(folder: Path, audit: AuditLog, trust: Path) -> SyncParts:
    """Sync to a collector on a port nobody listens on, after one failed pass: events pending, an error."""
    sync = build_sync(SyncConfig(url="http://127.0.0.1:9", device_key=folder / "device.key", timeout=1.0),
                      audit, trust)
    with contextlib.suppress(SyncError):  # the failure is recorded in the sync state: the status bar shows it
        sync.uploader.run_once()
    return sync


def bus(folder: Path, out: Path) -> None:
    log = LogConfig(folder / "bus.db", site="Tianjin Bus", lane="37路 Bus 37", device="bus-37-front")
    parts = CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy(), [], None,
                            Recorder(AuditLog(log.path), log, os.urandom(32)), hold=600)
    checkpoint = Checkpoint(parts)
    settings = KioskSettings(mode="bus", vehicle="37路 Bus 37", fullscreen=False, sound=False)
    ui = UiHarness(checkpoint, settings, None, size=(1024, 600))
    people = list(demo.queue(time.time()))
    try:
        checkpoint.latest_frame = camera_picture(people[0].text)
        ui.until(lambda: ui.ids("scan").preview.live, "the picture")
        ui.shot(out / "14-bus-scan.png")
        for index, name in ((0, "15-bus-pass.png"), (2, "16-bus-deny.png")):
            count = len(ui.app.shown)
            checkpoint.submit(people[index].text, "camera")
            ui.until(lambda count=count: len(ui.app.shown) > count, "the verdict")
            ui.shot(out / name)
    finally:
        ui.close()


def button(app: object, screen: str, text: str) -> object:
    from kivy.uix.button import Button  # type: ignore[import-untyped]

    found = [w for w in app.screen(screen).walk() if isinstance(w, Button) and w.text == text]  # type: ignore[attr-defined]
    return found[0]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as folder:
        door(Path(folder), out)
        bus(Path(folder), out)
    for path in sorted(out.glob("*.png")):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
