"""The touchscreen: a real Kivy window (offscreen), driven through a real Checkpoint.

Trust from keys/demo, a real audit log and recorder, a real thermometer (the
simulator on a pty, read by the poller), codes submitted as the camera would
or typed as a wedge scanner would, and once a real camera pipeline over a
rendered video. Kivy makes one window per process: every test that opens the
UI is in this module, in one xdist group, and each mounts a fresh app in that
window. Nothing waits for a fixed time: the harness pumps frames until the
condition holds or a generous deadline passes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kiosk import demo
from kiosk.audit.recorder import Recorder
from kiosk.audit.settings import LogConfig
from kiosk.audit.store import AuditLog
from kiosk.checkpoint.admin import Admin
from kiosk.checkpoint.demo import render, slot_for
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.pin import hash_pin
from kiosk.checkpoint.settings import KioskSettings
from kiosk.checkpoint.view import DeviceStates, VerdictView
from kiosk.checkpoint.wording import BUS_PROMPT, PROMPT
from kiosk.policy import Policy
from kiosk.scanner.preview_buffer import FrameBuffer
from kiosk.scanner.types import CodeSource
from kiosk.sync.settings import SyncConfig
from kiosk.sync.wiring import SyncParts, build_sync
from kiosk.thermometer.poller import ThermometerPoller
from kiosk.thermometer.protocols import make_driver
from kiosk.thermometer.simulator import Simulator, person
from kiosk.thermometer.types import Sample
from kiosk.trustdir import load_trust_dir
from kiosk.ui import sounds, texts
from kiosk.ui.wedge import KeyboardWedge, typed_char

ROOT = Path(__file__).resolve().parents[1]
PIN = "2468"
WINDOW = 0.6  # the tests' reading window: a new simulated forehead counts within a second
COLD = Sample(29.0, 4.0, 30.0)  # a forehead from a winter street: 31.5 °C, implausible


# -- the pure parts: no window ------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def keystrokes(wedge: KeyboardWedge, text: str, *, text_events: bool = True) -> None:
    shifted = {v: k for k, v in zip("1234567890-=[]\\;',./`", '!@#$%^&*()_+{}|:"<>?~')}
    for char in text:
        base = char.lower() if char.isalpha() else shifted.get(char, char)
        wedge.key(ord(base), base, ["shift"] if char.isupper() or char in shifted else [])
        if text_events:
            wedge.text(char)


@pytest.mark.parametrize("text_events", [True, False], ids=["key+text", "keys only"])
def test_wedge_submits_what_came_before_enter(text_events: bool) -> None:
    codes: list[str] = []
    wedge = KeyboardWedge(codes.append, clock=Clock())
    code = "PHC1:6BF%NOT*A+CODE $/.-"
    keystrokes(wedge, code, text_events=text_events)
    assert wedge.key(13) and codes == [code]
    keystrokes(wedge, "abc")  # too short for a code: someone touched the keyboard
    assert not wedge.key(271) and codes == [code] and wedge.buffer == []


def test_wedge_drops_a_partial_code_left_idle() -> None:
    clock, codes = Clock(), []
    wedge = KeyboardWedge(codes.append, clock=clock)
    keystrokes(wedge, "PHC1:STALE")
    clock.now += 1.5
    keystrokes(wedge, "PHC1:FRESH")
    wedge.key(13)
    assert codes == ["PHC1:FRESH"] and wedge.dropped == 1
    keystrokes(wedge, "PHC1:LATE")
    clock.now += 1.2  # Enter a long time after the last key: not one scan
    assert not wedge.key(13) and codes == ["PHC1:FRESH"]


@pytest.mark.parametrize(("key", "codepoint", "modifiers", "char"), [
    (ord("p"), "p", ["shift"], "P"), (ord("p"), "p", [], "p"), (ord("p"), "p", ["capslock"], "P"),
    (ord(";"), ";", ["shift"], ":"), (ord("5"), "5", ["shift"], "%"), (ord("8"), "8", ["shift"], "*"),
    (ord("="), "=", ["shift"], "+"), (257, None, [], "1"), (ord("c"), "c", ["ctrl"], None), (273, None, [], None),
])
def test_typed_char_reads_a_us_layout(key: int, codepoint: str | None, modifiers: list[str], char: str | None) -> None:
    assert typed_char(key, codepoint, modifiers) == char


@pytest.mark.parametrize(("devices", "expected"), [
    (DeviceStates(thermometer=None), None),
    (DeviceStates(thermometer="ok", celsius=36.64), ("测温 36.6 °C", "temperature 36.6 °C", "ok")),
    (DeviceStates(thermometer="ok", celsius=23.5), ("请靠近测温仪", "step closer to the thermometer", "warn")),
    (DeviceStates(thermometer="no reading"), ("请靠近测温仪", "step closer to the thermometer", "warn")),
    (DeviceStates(thermometer="disconnected"), ("测温仪未连接", "thermometer disconnected", "alarm")),
])
def test_thermometer_line(devices: DeviceStates, expected: tuple[str, str, str] | None) -> None:
    line = texts.thermometer_line(devices, Policy())
    assert (line and (line.zh, line.en, line.level)) == expected


def test_screen_words() -> None:
    assert texts.clock_text(299.2) == "5:00" and texts.clock_text(0.4) == "0:01" and texts.clock_text(0) == "0:00"
    assert texts.stepped("fever_threshold", 37.3, 1) == 37.4 and texts.stepped("fever_threshold", 40.0, 3) == 40.0
    assert texts.stepped("max_age", 300, -20) == 30
    assert texts.recent_line("14:03:27", "scan", "deny", "码已过期", "code expired", "36.6 °C") == \
        "14:03:27   禁止 deny   码已过期 / code expired   36.6 °C"
    assert texts.chip_colours("bogus") == texts.chip_colours("alarm")


def test_verdict_sounds_are_three_distinct_short_tunes(tmp_path: Path) -> None:
    made = sounds.make_sounds(tmp_path)
    tunes = {verdict: path.read_bytes() for verdict, path in made.items()}
    assert set(tunes) == {"pass", "deny", "retry"} and len(set(tunes.values())) == 3
    assert all(0.2 < (len(data) - 44) / 2 / sounds.RATE < 0.7 for data in tunes.values())  # 16-bit mono
    mtimes = {path.stat().st_mtime_ns for path in made.values()}
    sounds.make_sounds(tmp_path)  # the next start leaves identical files alone
    assert {path.stat().st_mtime_ns for path in made.values()} == mtimes


def test_no_audio_device_is_silently_no_sound(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sounds, "audio_device_present", lambda: False)
    player = sounds.Sounds(tmp_path, enabled=True)
    assert not player.available
    player.play("pass")  # nothing, and no error


# -- the window ---------------------------------------------------------------------------------------------

@dataclass
class Door:
    """A checkpoint at a door with its screen: submit codes, wait for what the screen shows."""

    ui: Any  # tests.ui_harness.UiHarness
    checkpoint: Checkpoint
    audit: AuditLog
    admin: Admin
    simulator: Simulator | None
    poller: ThermometerPoller | None
    people: dict[str, demo.Person]
    sync: SyncParts | None = None

    @property
    def app(self) -> Any:
        return self.ui.app

    def verdict(self, text: str, source: str = "camera") -> VerdictView:
        """Submit a code and wait until its verdict is on screen."""
        shown = len(self.app.shown)
        self.checkpoint.submit(text, source)
        self.ui.until(lambda: len(self.app.shown) > shown, "the verdict on screen")
        return self.app.shown[-1].view  # type: ignore[no-any-return]

    def forehead(self, sample: Sample, celsius: float) -> None:
        """Put a forehead in front of the thermometer and wait until the reading window holds only it."""
        assert self.simulator is not None and self.poller is not None
        self.simulator.override = sample
        poller = self.poller

        def measured() -> bool:
            reading = poller.reading_at(time.time(), WINDOW)
            return reading is not None and abs(reading.celsius - celsius) < 0.05

        self.ui.until(measured, f"a reading of {celsius}")

    def button(self, screen: str, text: str) -> Any:
        from kivy.uix.button import Button  # type: ignore[import-untyped]

        found = [w for w in self.app.screen(screen).walk() if isinstance(w, Button) and w.text == text]
        assert len(found) == 1, f"button {text!r} on {screen}: {len(found)}"
        return found[0]

    def tap(self, screen: str, text: str) -> None:
        self.ui.tap(self.button(screen, text))

    def enter_pin(self, pin: str) -> None:
        for digit in pin:
            self.tap("pin", digit)
        self.tap("pin", "确定  OK")
        self.ui.until(lambda: not self.app.busy, "the PIN checked")

    def events(self, kind: str) -> list[Any]:
        return [e for e in self.audit.events() if e.kind == kind]


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Callable[..., Door]]:
    from tests.ui_harness import UiHarness

    made: list[Door] = []

    def make(*, thermometer: bool = True, bus: bool = False, vehicle: str = "", hold: float = 30.0,
             sources: list[CodeSource] | None = None, size: tuple[int, int] | None = None,
             reading_wait: float = 0.0, preview: FrameBuffer | None = None, sync_to: str | None = None) -> Door:
        simulator = poller = None
        if thermometer:
            simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
            simulator.override = person(36.6)
            poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=0.1)
        log = LogConfig(tmp_path / f"audit{len(made)}.db", site="test gate", lane="1", device="ui-test")
        audit = AuditLog(log.path)
        sync = None
        if sync_to is not None:  # a collector at this URL; the checkpoint owns (and closes) the sync parts
            sync = build_sync(SyncConfig(url=sync_to, device_key=tmp_path / "device.key", timeout=5.0), audit,
                              demo.DEMO_DIR)
        parts = CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy(reading_window=WINDOW),
                                sources or [], poller, Recorder(audit, log, b"k" * 32), sync, hold=hold,
                                reading_wait=reading_wait)
        checkpoint = Checkpoint(parts)
        settings = KioskSettings(mode="bus" if bus else "door", vehicle=vehicle, fullscreen=False, sound=False,
                                 admin_pin_hash=hash_pin(PIN, iterations=1000), lockout_attempts=3,
                                 lockout_seconds=60)
        admin = Admin(checkpoint, settings, media_roots=[tmp_path / "media"])
        people: dict[str, demo.Person] = {}
        for someone in demo.queue(time.time()):
            people.setdefault(someone.expected, someone)  # "ok": the first, green phone code of 张*明
        ui = UiHarness(checkpoint, settings, admin, size=size, preview=preview)
        made.append(Door(ui, checkpoint, audit, admin, simulator, poller, people, sync))
        return made[-1]

    yield make
    for made_door in made:
        made_door.ui.close()  # stops the checkpoint, the poller with it
        if made_door.simulator is not None:
            made_door.simulator.stop()


# What each colour must look like, from the issue, as relations between a pixel's channels (never the colour the
# code under test holds): PASS green, DENY red, RETRY amber; a chip grey when fine, amber warning, red alarm.
LOOKS: dict[str, Callable[[int, int, int], bool]] = {
    "pass": lambda r, g, b: g >= 100 and g - max(r, b) >= 60,  # the green channel dominates clearly
    "deny": lambda r, g, b: r >= 150 and r - max(g, b) >= 100,  # red dominates
    "retry": lambda r, g, b: r >= 200 and g >= 120 and b <= 80,  # amber: red and green high, blue low
    "chip ok": lambda r, g, b: max(r, g, b) - min(r, g, b) <= 30 and max(r, g, b) <= 110,  # a quiet dark grey
    "chip warn": lambda r, g, b: r >= 200 and g >= 120 and b <= 80,
    "chip alarm": lambda r, g, b: r >= 150 and r - max(g, b) >= 100,
}


def looks(kind: str, colour: Any) -> bool:
    r, g, b = (int(c) for c in colour[:3])
    return LOOKS[kind](r, g, b)


def test_the_colour_looks_tell_the_colours_apart() -> None:
    """Each look accepts its own colour and none of the others' (so a PASS painted red fails)."""
    samples = {"pass": (13, 140, 51), "deny": (199, 20, 26), "retry": (255, 178, 0), "chip ok": (41, 48, 59)}
    for kind, colour in samples.items():
        assert [k for k in ("pass", "deny", "retry", "chip ok") if looks(k, colour)] == [kind], kind


def chip_colour(d: Door, key: str) -> tuple[int, int, int]:
    """The colour drawn just inside the left edge of a status bar chip."""
    chip = d.app.root.ids.bar.chip(key)
    x, y = chip.to_window(chip.x + 3, chip.center_y)
    return d.ui.colour_at(x / d.ui.window.width, 1 - y / d.ui.window.height)  # type: ignore[no-any-return]


def test_each_verdict_fills_the_screen_with_its_colour_icon_and_words(door: Callable[..., Door]) -> None:
    d = door()
    cases = [("ok", person(36.6), 36.6, "pass", "tick"), ("status_amber", person(36.6), 36.6, "deny", "cross"),
             ("temperature_implausible", COLD, 31.5, "retry", "again"), ("ok", person(38.2), 38.2, "deny", "cross")]
    for reason, forehead, celsius, kind, icon in cases:
        d.forehead(forehead, celsius)
        view = d.verdict(d.people[reason].text)
        assert (view.verdict, view.icon) == (kind, icon), view.reason
        assert d.ui.screen == "verdict"
        pixels = d.ui.pixels()
        # The whole screen: beside the words, and the status bar's strip between its chips and the gear.
        for y, x in [(0.55, 0.985), (0.95, 0.5), (0.03, 0.8)]:
            sample = pixels[int(y * pixels.shape[0]), int(x * pixels.shape[1])].astype(int)
            assert looks(kind, sample), (kind, x, y, sample)
        ids = d.ui.ids("verdict")
        assert ids.title_zh.text == view.title_zh and ids.title_en.text == view.title_en
        assert ids.reason_zh.text == view.reason_zh and ids.reason_en.text == view.reason_en
        assert ids.icon.kind == icon and list(ids.title_zh.color) == list(view.foreground)
        assert f"{celsius:.1f} °C" in ids.person.text
    assert d.ui.ids("verdict").reason_en.text == "temperature 38.2 °C: please see the staff"  # the fever
    assert d.ui.ids("verdict").person.text.startswith("张*明")


def test_the_hold_brings_scan_back_and_the_next_code_replaces_a_verdict(door: Callable[..., Door]) -> None:
    hold = 2.0
    d = door(thermometer=False, hold=hold)
    first = d.verdict(d.people["ok"].text)
    second = d.verdict(d.people["status_red"].text)  # the next person, while the first verdict is up
    shown = d.app.shown
    assert (first.verdict, second.verdict) == ("pass", "deny")
    assert shown[-1].drawn - shown[-2].drawn < hold  # replaced at once, not after the first one's hold
    assert d.ui.ids("verdict").title_en.text == "DENY"
    d.ui.until(lambda: d.ui.screen == "scan", "the scan screen back")
    # The hold counts from the newest verdict (Kivy's clock counts from the start of a frame: 50 ms of slack).
    assert time.monotonic() - shown[-1].received >= hold - 0.05
    assert d.ui.colour_at(0.9, 0.6) == (18, 20, 26)  # SCAN_BACKGROUND again, everywhere
    assert d.ui.ids("scan").prompt_zh.text == PROMPT[0] and d.ui.ids("scan").prompt_en.text == PROMPT[1]


def test_a_wedge_scanner_typing_a_code_gets_a_verdict(door: Callable[..., Door]) -> None:
    d = door(thermometer=False)
    shown = len(d.app.shown)
    d.ui.type_keys(d.people["ok"].text)
    d.ui.until(lambda: len(d.app.shown) > shown, "the typed code's verdict")
    assert d.app.shown[-1].view.source == "keyboard" and d.app.shown[-1].view.verdict == "pass"
    d.ui.type_keys(d.people["expired"].text, with_text_input=False)  # text input off: the keys alone
    d.ui.until(lambda: len(d.app.shown) > shown + 1, "the second typed code's verdict")
    assert d.app.shown[-1].view.reason == "expired"
    d.ui.type_keys("ab")  # a short burst is no code
    assert d.app.wedge.codes == 2


def test_an_unplugged_thermometer_shows_on_the_status_bar(door: Callable[..., Door]) -> None:
    d = door()
    bar, scan = d.app.root.ids.bar, d.ui.ids("scan")
    d.ui.until(lambda: bar.chip("thermometer") is not None and bar.chip("thermometer").level == "ok"
               and "36.6" in scan.thermometer.text, "a reading on screen")
    assert scan.thermometer.text == "测温 36.6 °C\ntemperature 36.6 °C"
    assert looks("chip ok", chip_colour(d, "thermometer"))  # grey while fine
    assert d.simulator is not None
    d.simulator.stop()  # the USB adapter pulled out
    d.ui.until(lambda: bar.chip("thermometer").level == "alarm", "the thermometer chip's alarm")
    assert bar.chip("thermometer").text == "测温 未连接\nthermometer disconnected"
    d.ui.until(lambda: scan.thermometer.text == "测温仪未连接\nthermometer disconnected", "the scan screen's line")
    colour = chip_colour(d, "thermometer")
    assert looks("chip alarm", colour), colour  # the chip itself turned red


def test_the_status_bar_shows_unsynced_events_and_the_last_sync(door: Callable[..., Door], tmp_path: Path) -> None:
    """Issue 6's promise on screen: what is waiting for the collector, and when it last took everything."""
    from kiosk.errors import SyncError
    from tests.collector_process import CollectorProcess, free_port

    port = free_port()
    d = door(thermometer=False, sync_to=f"http://127.0.0.1:{port}")  # its collector is not up yet
    sync = d.sync
    assert sync is not None
    d.verdict(d.people["ok"].text)
    d.verdict(d.people["status_red"].text)
    bar = d.app.root.ids.bar

    def warned() -> bool:  # the background sync could not send them: how many wait, and it is amber
        chip = bar.chip("sync")
        return chip is not None and chip.level == "warn" and "2 unsynced" in chip.text

    d.app.poller.refresh()
    d.ui.until(warned, "the sync warning")
    # When it last took everything: at start, or never if the first verdict beat the start's pass to the log.
    assert re.search(r"待上传 2 · 上次同步 (0分钟前|从未)\n2 unsynced · last sync (0 min ago|never)$",
                     bar.chip("sync").text), bar.chip("sync").text
    assert looks("chip warn", chip_colour(d, "sync")), chip_colour(d, "sync")  # amber
    collector = CollectorProcess(f"sqlite:///{tmp_path}/collector.db", tmp_path, port=port)
    try:
        with pytest.raises(SyncError):  # up now, but this kiosk is not enrolled yet: refused
            sync.uploader.run_once()
        store = collector.store()
        store.enroll(sync.identity.public, "ui test", time.time())
        store.close()
        sync.uploader.run_once()
        d.app.poller.refresh()
        d.ui.until(lambda: "0 unsynced · last sync 0 min ago" in bar.chip("sync").text, "the sync chip after sync")
        assert bar.chip("sync").level == "ok" and "待上传 0" in bar.chip("sync").text
    finally:
        collector.stop()


def test_bus_mode_is_compact_names_the_vehicle_and_has_no_thermometer_line(door: Callable[..., Door]) -> None:
    d = door(thermometer=False, bus=True, vehicle="37路 Bus 37", size=(1024, 600))
    scan = d.ui.ids("scan")
    assert tuple(d.ui.window.size) == (1024, 600)
    assert (scan.prompt_zh.text, scan.prompt_en.text) == BUS_PROMPT
    assert scan.vehicle.text == "37路 Bus 37" and scan.vehicle.height > 0
    assert scan.thermometer.text == "" and scan.thermometer.height == 0
    assert d.app.root.ids.bar.chip("thermometer") is None
    assert scan.preview.width < d.ui.window.width * 0.45  # the picture gives way to the words
    view = d.verdict(d.people["ok"].text)
    assert view.verdict == "pass" and d.ui.pixels().shape == (600, 1024, 3)
    assert looks("pass", d.ui.colour_at(0.98, 0.5))


def test_a_wrong_pin_locks_the_admin_screens_and_the_right_one_is_refused_while_locked(
        door: Callable[..., Door]) -> None:
    d = door(thermometer=False)
    d.ui.tap(d.app.root.ids.bar.ids.gear)
    d.ui.until(lambda: d.ui.screen == "pin", "the PIN pad")
    pin = d.app.screen("pin")
    d.enter_pin("1111")
    assert pin.message == "密码错误，还可尝试 2 次\nwrong PIN: 2 tries left" and d.ui.screen == "pin"
    d.enter_pin("2222")
    d.enter_pin("3333")
    assert "too many wrong PINs" in pin.message
    assert re.fullmatch(r"已锁定，(1:00|0:5\d) 后可再试  locked: try again in \1", pin.countdown), pin.countdown
    d.enter_pin(PIN)  # the right one, while locked
    assert d.ui.screen == "pin" and "too many wrong PINs" in pin.message and pin.countdown
    assert d.ui.ids("pin").display.text == "请输入密码  enter the PIN"  # the PIN never stays on screen
    results = [e.details["result"] for e in d.events("admin") if e.details.get("action") == "unlock"]
    assert results == ["failed", "failed", "locked", "locked"]
    d.tap("pin", "返回  back")
    assert d.ui.screen == "scan"


def test_registering_a_person_by_hand_through_the_form(door: Callable[..., Door]) -> None:
    d = door()
    d.ui.tap(d.app.root.ids.bar, hold=2.2)  # a long press on the status bar
    d.ui.until(lambda: d.ui.screen == "pin", "the PIN pad")
    d.enter_pin(PIN)
    d.ui.until(lambda: d.ui.screen == "admin", "the admin menu")
    d.tap("admin", "人工登记\nregister a person")
    register = d.app.screen("register")
    d.ui.until(lambda: set(register.inputs()) == {"name", "phone", "id_last4"}, "the form")
    answers = {"name": "王*芳", "phone": "13800000000", "id_last4": "0423"}
    for key, box in register.inputs().items():
        d.ui.tap(box)
        assert box.focus
        # Keystrokes while a field has the keyboard are staff typing: a code-like burst + Enter is no scan.
        d.ui.type_keys(answers[key] if key != "name" else "PHC1", enter=key == "name")
        if key == "name":
            box.text = answers[key]  # an input method's text, as a person types a Chinese name
    d.ui.tap(register.ids.temperature)
    d.ui.type_keys("36.8", enter=False)
    assert register.ids.temperature.text == "36.8" and d.app.wedge.codes == 0
    d.tap("register", "登记  register")
    d.ui.until(lambda: register.message.startswith("已登记"), "the registration's answer")
    assert register.message == "已登记，体温 36.8 °C\nregistered, temperature 36.8 °C"
    manual = d.events("manual")
    assert len(manual) == 1 and manual[0].details == answers and manual[0].temperature == 36.8
    assert all(box.text == "" for box in register.inputs().values())  # ready for the next person
    assert d.checkpoint.verdicts == 0


def test_an_implausible_temperature_is_marked_at_its_field_and_a_fever_is_said(door: Callable[..., Door]) -> None:
    d = door(thermometer=False)
    d.ui.tap(d.app.root.ids.bar.ids.gear)
    d.enter_pin(PIN)
    d.tap("admin", "人工登记\nregister a person")
    register = d.app.screen("register")
    d.ui.until(lambda: set(register.inputs()) == {"name", "phone", "id_last4"}, "the form")
    register.inputs()["name"].text = "张三"
    d.ui.tap(register.ids.temperature)
    d.ui.type_keys("365", enter=False)  # 36.5 with the point missed
    d.tap("register", "登记  register")
    d.ui.until(lambda: not d.app.busy and register.temperature_problem, "the field's mark")
    policy = d.checkpoint.policy
    mark = register.ids.temperature_problem
    assert "implausible" in mark.text and f"{policy.plausible_min:.1f}-{policy.plausible_max:.1f} °C" in mark.text
    assert mark.opacity == 1 and mark.height > 0 and mark.texture_size[1] > 0  # shown, under the field
    red, green, blue, _ = register.ids.temperature.background_color
    assert red > green and red > blue  # the field itself is marked
    assert d.events("manual") == [] and register.inputs()["name"].text == "张三"  # nothing kept, nothing lost
    register.ids.temperature.text = ""  # staff correct the field: the mark goes
    d.ui.tap(register.ids.temperature)
    d.ui.type_keys("38.5", enter=False)
    assert register.ids.temperature.text == "38.5"
    assert register.temperature_problem == "" and mark.height == 0
    d.tap("register", "登记  register")
    d.ui.until(lambda: register.message.startswith("已登记"), "the registration's answer")
    assert "发热" in register.message and "fever" in register.message
    red, green, blue, _ = register.message_colour
    assert not (green > red and green > blue)  # a fever is never said in the calm green of a plain registration
    manual = d.events("manual")
    assert [(e.temperature, e.reason) for e in manual] == [(38.5, "fever")]


def test_admin_menu_sync_policy_recent_and_leave(door: Callable[..., Door], tmp_path: Path) -> None:
    d = door(thermometer=False, hold=0.5)
    d.verdict(d.people["ok"].text)
    d.ui.until(lambda: d.ui.screen == "scan", "scan again")
    d.ui.tap(d.app.root.ids.bar.ids.gear)
    d.enter_pin(PIN)
    admin = d.app.screen("admin")
    d.tap("admin", "立即同步\nsync now")
    d.ui.until(lambda: not d.app.busy and admin.message, "the sync answer")
    assert admin.message.endswith("no collector configured (no [sync] in the config)")
    d.tap("admin", "导出记录到U盘\nexport the log to USB")
    d.ui.until(lambda: not d.app.busy and admin.message, "the export answer")
    assert "no writable USB stick found" in admin.message
    d.tap("admin", "最近记录\nrecent events")
    recent = d.app.screen("recent")
    d.ui.until(lambda: recent.rows, "the recent events")
    assert any("通行 pass" in row["text"] for row in recent.rows)
    d.tap("recent", "返回  back")
    d.tap("admin", "阈值与策略\nthresholds and policy")
    policy = d.app.screen("policy")
    d.ui.until(lambda: policy.values, "the policy values")
    assert d.ui.ids("policy").fever.text == "37.3 °C"
    d.ui.tap(d.ui.ids("policy").fever_up)
    d.ui.tap(d.ui.ids("policy").printed)
    assert d.ui.ids("policy").fever.text == "37.4 °C" and d.ui.ids("policy").printed.text == "否 no"
    d.ui.tap(d.ui.ids("policy").save)
    d.ui.until(lambda: not d.app.busy and policy.message, "the policy answer")
    assert (d.checkpoint.policy.fever_threshold, d.checkpoint.policy.accept_printed) == (37.4, False)
    d.tap("policy", "返回  back")
    # A code while staff are in the admin screens: the verdict shows, then the admin menu comes back.
    d.verdict(d.people["ok"].text)
    d.ui.until(lambda: d.ui.screen == "admin", "the admin menu back after the verdict")
    d.tap("admin", "退出管理  leave admin")
    assert d.ui.screen == "scan"
    d.ui.until(lambda: any(e.details.get("action") == "leave" for e in d.events("admin")), "the leave logged")


def test_admin_screens_close_when_staff_walk_away(door: Callable[..., Door]) -> None:
    d = door(thermometer=False)
    d.ui.tap(d.app.root.ids.bar, hold=0.3)  # a tap on the bar is not the long press
    assert d.ui.screen == "scan"
    d.ui.tap(d.app.root.ids.bar.ids.gear)
    d.enter_pin(PIN)
    d.ui.until(lambda: d.ui.screen == "admin", "the admin menu")
    d.app._touched -= 121  # as if two minutes had passed without a touch
    d.ui.until(lambda: d.ui.screen == "scan", "the admin screens closed")
    d.ui.until(lambda: any(e.details.get("action") == "leave" for e in d.events("admin")), "the leave logged")


def test_a_code_waiting_for_the_thermometer_says_measuring_on_the_scan_screen(door: Callable[..., Door]) -> None:
    """Issue 12: a code read as the person steps up waits for the first reading, and the screen says so."""
    d = door(reading_wait=60.0)  # the hang guard: the reading comes when the test lets it
    first = d.verdict(d.people["ok"].text)  # someone before, whose verdict is still up
    assert first.verdict == "pass" and d.ui.screen == "verdict"
    poller = d.poller
    assert d.simulator is not None and poller is not None
    d.simulator.silent = True  # the next person has not reached the thermometer yet
    d.ui.until(lambda: poller.reading_at(time.time(), WINDOW) is None, "the reading gone")
    shown = len(d.app.shown)
    d.checkpoint.submit(d.people["ok"].text, "camera")
    label = d.ui.ids("scan").measuring
    d.ui.until(lambda: d.ui.screen == "scan" and label.text, "the measuring words")
    assert label.text == "正在测温…\nmeasuring..." and label.opacity == 1 and label.height > 0
    d.ui.until(lambda: not d.app.screens.transition.is_active, "the scan screen in place")
    pixels = d.ui.pixels()
    x, y = label.to_window(label.x, label.y)
    window_h = pixels.shape[0]
    words = pixels[int(window_h - y - label.height):int(window_h - y), int(x):int(x + label.width)].astype(int)
    amber = (words[..., 0] > 200) & (words[..., 1] > 150) & (words[..., 2] < 120)  # the words' own colour
    assert amber.sum() > 200, amber.sum()  # drawn, not just set
    assert len(d.app.shown) == shown  # no verdict while measuring
    d.simulator.silent = False  # the person steps up
    d.ui.until(lambda: len(d.app.shown) > shown, "the verdict once measured")
    view = d.app.shown[-1].view
    assert (view.verdict, view.reason, view.temperature) == ("pass", "ok", "36.6 °C")
    assert label.text == ""  # gone for the next person


def test_a_thermometer_that_cannot_be_opened_says_so_on_the_first_frame(tmp_path: Path) -> None:
    """`kiosk run` opens its devices before the screen: the status bar never says "starting" for a missing one."""
    from kiosk.checkpoint.wiring import build_checkpoint
    from kiosk.cli.run import open_devices
    from kiosk.config import parse_config
    from tests.ui_harness import UiHarness

    config = parse_config(f'[trust]\ndir = "{demo.DEMO_DIR}"\n[log]\npath = "{tmp_path / "audit.db"}"\n'
                          f'[thermometer]\nprotocol = "gy906"\nport = "{tmp_path / "ttyUSB9"}"\n')
    checkpoint = build_checkpoint(config)
    open_devices(checkpoint, "run")
    ui = UiHarness(checkpoint, KioskSettings(fullscreen=False, sound=False), screenshots=tmp_path / "shots")
    try:
        chip = ui.app.root.ids.bar.chip("thermometer")
        assert (chip.text, chip.level) == ("测温 无法打开\nthermometer cannot be opened", "alarm")
        first = sorted((tmp_path / "shots").iterdir())[0]  # the first frame drawn, saved as it was shown
        assert first.name == "01-scan-warnings.png"
        import cv2

        pixels = cv2.cvtColor(cv2.imread(str(first)), cv2.COLOR_BGR2RGB)
        x, y = chip.to_window(chip.x + 3, chip.center_y)  # the first chip: there is no camera
        colour = pixels[int(pixels.shape[0] - y), int(x)]
        assert looks("chip alarm", colour), colour  # red from the start
    finally:
        ui.close()


class HeldBack:
    """A frame source that starts delivering only when told: the video plays once the screen is up."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.go = inner, threading.Event()

    @property
    def state(self) -> str:
        return str(self.inner.state)

    def read(self) -> Any:
        return self.inner.read() if self.go.wait(0.05) else None

    def close(self) -> None:
        self.inner.close()


def test_the_camera_pipeline_feeds_the_preview_and_the_verdicts(door: Callable[..., Door], tmp_path: Path) -> None:
    from kiosk.scanner.decoders import ChainDecoder
    from kiosk.scanner.frames import CaptureSource
    from kiosk.scanner.pipeline import CameraPipeline

    people = [p for p in demo.queue(time.time())][:3]  # green, green from Beijing, amber
    # 0.8 s a person, as at a real door: every verdict gets its frames even on a loaded machine.
    video = HeldBack(CaptureSource(str(render(people, tmp_path / "door.avi", slot_for(0.8))), pace=True))
    preview = FrameBuffer()  # connected as the wiring connects them: the pipeline puts, the screen shows
    pipeline = CameraPipeline(video, ChainDecoder(), latest_wins=True, on_frame=preview.put)
    d = door(thermometer=False, hold=0.3, sources=[pipeline], preview=preview)
    video.go.set()
    d.ui.until(lambda: len(d.app.shown) == 3, "three verdicts from the video")
    assert [s.view.verdict for s in d.app.shown] == ["pass", "pass", "deny"]
    assert all(s.view.source == "camera" and s.view.ms is not None for s in d.app.shown)
    d.ui.until(lambda: d.ui.screen == "scan", "scan again")
    preview = d.ui.ids("scan").preview
    assert preview.uploads > 0 and tuple(preview.texture.size) == (640, 480)
    x, y, w, h = preview.picture
    pixels = d.ui.pixels()
    window_h = pixels.shape[0]
    picture = pixels[int(window_h - y - h) + 2:int(window_h - y) - 2, int(x) + 2:int(x + w) - 2]
    assert picture.std() > 20  # a camera picture, not the empty grey frame


def test_run_ui_runs_a_video_to_its_end_saving_a_screenshot_of_each_screen(tmp_path: Path) -> None:
    """The entry point itself, in its own process: `kiosk run --camera video.avi --screenshots DIR`."""
    script = tmp_path / "run.py"
    script.write_text(f"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
from kiosk import demo
from kiosk.checkpoint.demo import render, slot_for
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.settings import KioskSettings
from kiosk.policy import Policy
from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.preview_buffer import FrameBuffer
from kiosk.trustdir import load_trust_dir
from kiosk.ui.app import run_ui

queue = list(demo.queue(time.time()))
people = [queue[0], queue[3], queue[-1]]  # green, red, a damaged code
video = render(people, Path({str(tmp_path)!r}) / "door.avi", slot_for(0.8))  # 0.8 s a person
preview = FrameBuffer()
pipeline = CameraPipeline(CaptureSource(str(video), pace=True), ChainDecoder(), latest_wins=True, on_frame=preview.put)
checkpoint = Checkpoint(CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy(), [pipeline], hold=0.4))
ready = []
code = run_ui(checkpoint, KioskSettings(fullscreen=False, sound=False), None,
              screenshots=Path({str(tmp_path / "shots")!r}), exit_when_ended=True, preview=preview,
              on_ready=lambda: ready.append(time.monotonic()))
print(json.dumps({{"code": code, "ready": len(ready), "verdicts": checkpoint.verdicts}}))
""")
    env = {"KIVY_HOME": str(tmp_path / "kivy"), "XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "ready": 1, "verdicts": 3}
    names = sorted(p.name for p in (tmp_path / "shots").iterdir())
    assert names[0] == "01-scan.png"
    assert {n.split("-", 1)[1] for n in names} >= {"scan.png", "verdict-pass.png", "verdict-deny.png"}
