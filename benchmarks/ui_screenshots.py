"""The README's pictures of the touchscreen: every screen, drawn offscreen by the real app.

    .venv/bin/python benchmarks/ui_screenshots.py [DIR]      # default docs/screenshots

Drives the app as the tests do (tests/ui_harness.py): a real checkpoint over
the demo trust data, a real log, the thermometer simulator on a pty, codes
submitted as the camera would, touches on the real buttons. Door screens at
1280x800, the bus at 1024x600, then portrait: an upright tablet (800x1280) and
a totem (1080x1920). Each size is drawn in its own process (Kivy's offscreen
surface keeps the size of the first window), and every PNG is then cut to 256
colours (they are committed: ~30-120 KB each instead of up to 400 KB).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
from kiosk.scanner.preview_buffer import FrameBuffer  # noqa: E402
from kiosk.scanner.synth import Look, render_frame  # noqa: E402
from kiosk.scanner.types import Frame  # noqa: E402
from kiosk.sync.service import sync_once  # noqa: E402
from kiosk.sync.settings import SyncConfig  # noqa: E402
from kiosk.sync.wiring import SyncParts, build_sync  # noqa: E402
from kiosk.thermometer.poller import ThermometerPoller  # noqa: E402
from kiosk.thermometer.protocols import make_driver  # noqa: E402
from kiosk.thermometer.simulator import Simulator, person  # noqa: E402
from kiosk.thermometer.types import Sample  # noqa: E402
from kiosk.trustdir import load_trust_dir  # noqa: E402
from tests.ui_harness import UiHarness  # noqa: E402

PIN = "2468"
VEHICLE = "37路 Bus 37"
# part -> window size; each part runs in a process of its own, in this order (the file numbers follow it).
PARTS = {"door": (1280, 800), "bus": (1024, 600), "portrait": (800, 1280), "totem": (1080, 1920)}


def camera_picture(text: str) -> Frame:
    """What the camera sees as someone holds up their phone (the pipeline is not running: no scan)."""
    look = Look(size=(640, 480), code_fraction=0.34, rotation=-8, tilt=12, tilt_axis=30.0, carrier="phone", hand=True)
    return Frame(render_frame(text, look, seed=3), 0, time.monotonic())


class Door:
    """A door with a thermometer (the simulator on a pty) and its screen at `size`: the harness's app."""

    def __init__(self, folder: Path, size: tuple[int, int]) -> None:
        self.simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
        self.simulator.override = person(36.6)
        self.poller = ThermometerPoller(self.simulator.start(), make_driver("gy906", {}), reconnect_every=0.2)
        self.trust = folder / "trust"
        shutil.copytree(demo.DEMO_DIR, self.trust, ignore=shutil.ignore_patterns("private"))
        log = LogConfig(folder / "audit.db", site="Joy City", lane="gate 2", device="kiosk-07")
        self.audit = AuditLog(log.path)
        # Kept: the pictures of trouble give this door a collector late (a scene a real kiosk never plays).
        self.parts = CheckpointParts(self.trust, load_trust_dir(self.trust), Policy(reading_window=0.6), [],
                                     self.poller, Recorder(self.audit, log, os.urandom(32)), hold=600)
        self.checkpoint = Checkpoint(self.parts)
        self.settings = KioskSettings(fullscreen=False, sound=False, admin_pin_hash=hash_pin(PIN, iterations=1000),
                                      lockout_attempts=3, lockout_seconds=300)
        self.admin = Admin(self.checkpoint, self.settings, media_roots=[folder / "media"])
        self.preview = FrameBuffer()
        self.ui = UiHarness(self.checkpoint, self.settings, self.admin, size=size, preview=self.preview)
        self.people: dict[str, demo.Person] = {}
        for someone in demo.queue(time.time()):
            self.people.setdefault(someone.expected, someone)

    def scan(self, path: Path) -> None:
        ui = self.ui
        self.preview.put(camera_picture(self.people["ok"].text))
        ui.until(lambda: "36.6" in ui.ids("scan").thermometer.text and ui.ids("scan").preview.live, "a reading")
        ui.shot(path)

    def verdict(self, reason: str, path: Path, forehead: Sample | None = None, celsius: float = 36.6) -> None:
        """The first person of the queue with `reason`, in front of the thermometer with `forehead`."""
        self.simulator.override = forehead or person(36.6)
        self.ui.until(lambda: (r := self.poller.reading_at(time.time(), 0.6)) is not None
                      and abs(r.celsius - celsius) < .05, "the forehead")
        shown = len(self.ui.app.shown)
        self.checkpoint.submit(self.people[reason].text, "camera")
        self.ui.until(lambda: len(self.ui.app.shown) > shown, "the verdict")
        self.ui.shot(path)

    def close(self) -> None:
        self.ui.close()
        self.simulator.stop()


def door(folder: Path, out: Path) -> None:
    at_door = Door(folder, PARTS["door"])
    ui, admin, settings, simulator = at_door.ui, at_door.admin, at_door.settings, at_door.simulator
    app, audit, trust = ui.app, at_door.audit, at_door.trust
    try:
        at_door.scan(out / "01-scan.png")
        at_door.verdict("ok", out / "02-verdict-pass.png")
        at_door.verdict("status_red", out / "03-verdict-deny.png")
        at_door.verdict("ok", out / "04-verdict-fever.png", person(38.4), 38.4)
        at_door.verdict("temperature_implausible", out / "05-verdict-retry.png", Sample(29.0, 4.0, 30.0), 31.5)
        at_door.verdict("too_old", out / "06-verdict-too-old.png")
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
        at_door.parts.sync = unreachable_collector(folder, audit, trust)
        simulator.stop()
        stale = time.time() - 4 * 86400
        (trust / "refreshed.json").write_text(json.dumps({"at": stale, "how": "sync"}))
        ui.until(lambda: app.root.ids.bar.view.worst == "alarm" and "未连接" in ui.ids("scan").thermometer.text,
                 "the alarms")
        ui.app.poller.refresh()
        ui.until(lambda: app.root.ids.bar.chip("trust").level == "alarm", "the trust alarm")
        ui.shot(out / "13-status-warnings.png")
    finally:
        at_door.close()


def unreachable_collector(folder: Path, audit: AuditLog, trust: Path) -> SyncParts:
    """Sync to a collector on a port nobody listens on, after one failed pass: events pending, an error."""
    sync = build_sync(SyncConfig(url="http://127.0.0.1:9", device_key=folder / "device.key", timeout=1.0),
                      audit, trust)
    sync_once(sync, pull_trust=False)  # the failure is recorded in the sync state: the status bar shows it
    return sync


def bus(folder: Path, out: Path, size: tuple[int, int] = PARTS["bus"], shots: dict[str, str] | None = None) -> None:
    """A bus tablet: `shots` maps "scan", "pass" (a green code) and "deny" (an amber one) to file names."""
    shots = shots if shots is not None else {"scan": "14-bus-scan.png", "pass": "15-bus-pass.png",
                                             "deny": "16-bus-deny.png"}
    log = LogConfig(folder / "bus.db", site="Tianjin Bus", lane=VEHICLE, device="bus-37-front")
    parts = CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy(), [], None,
                            Recorder(AuditLog(log.path), log, os.urandom(32)), hold=600)
    checkpoint = Checkpoint(parts)
    settings = KioskSettings(mode="bus", vehicle=VEHICLE, fullscreen=False, sound=False)
    preview = FrameBuffer()
    ui = UiHarness(checkpoint, settings, None, size=size, preview=preview)
    people = list(demo.queue(time.time()))
    try:
        preview.put(camera_picture(people[0].text))
        ui.until(lambda: ui.ids("scan").preview.live, "the picture")
        if "scan" in shots:
            ui.shot(out / shots["scan"])
        for index, kind in ((0, "pass"), (2, "deny")):
            count = len(ui.app.shown)
            checkpoint.submit(people[index].text, "camera")
            ui.until(lambda count=count: len(ui.app.shown) > count, "the verdict")
            if kind in shots:
                ui.shot(out / shots[kind])
    finally:
        ui.close()


def upright(folder: Path, out: Path, part: str, first: int) -> None:
    """Portrait: scan, pass and deny at a door with a thermometer, then a bus verdict naming the vehicle."""
    at_door = Door(folder, PARTS[part])
    try:
        at_door.scan(out / f"{first:02d}-{part}-scan.png")
        at_door.verdict("ok", out / f"{first + 1:02d}-{part}-pass.png")
        at_door.verdict("status_red", out / f"{first + 2:02d}-{part}-deny.png")
    finally:
        at_door.close()
    kind = "pass" if part == "portrait" else "deny"
    bus(folder / "bus", out, PARTS[part], {kind: f"{first + 3:02d}-{part}-bus-{kind}.png"})


def button(app: object, screen: str, text: str) -> object:
    from kivy.uix.button import Button  # type: ignore[import-untyped]

    found = [w for w in app.screen(screen).walk() if isinstance(w, Button) and w.text == text]  # type: ignore[attr-defined]
    return found[0]


def part(name: str, out: Path) -> None:
    """One size's pictures, in this process (its Kivy window is made at that size)."""
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as folder:
        if name == "door":
            door(Path(folder), out)
        elif name == "bus":
            bus(Path(folder), out)
        else:
            (Path(folder) / "bus").mkdir()
            upright(Path(folder), out, name, 17 if name == "portrait" else 21)


def shrink(path: Path) -> None:
    """The PNG in 256 colours, losslessly compressed (Pillow comes with matplotlib, a dependency)."""
    from PIL import Image

    with Image.open(path) as picture:
        few = picture.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    few.save(path, "PNG", optimize=True)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--part":
        part(sys.argv[2], Path(sys.argv[3]))
        return
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    for name in PARTS:
        done = subprocess.run([sys.executable, __file__, "--part", name, str(out)], check=False)
        if done.returncode != 0:
            raise SystemExit(f"ui_screenshots: the {name} pictures failed (exit {done.returncode})")
    for path in sorted(out.glob("*.png")):
        shrink(path)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
