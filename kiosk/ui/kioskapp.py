"""The Kivy app: screens, the verdict listener, the camera preview tick, the keyboard wedge, frame hooks.

Import only after kiosk.ui.env.prepare() (kiosk.ui.app.run_ui does it). The
app renders what the checkpoint hands it and forwards what people do; it
decides nothing about codes, PINs or thresholds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App  # type: ignore[import-untyped]
from kivy.clock import Clock  # type: ignore[import-untyped]
from kivy.core.window import Window  # type: ignore[import-untyped]
from kivy.factory import Factory  # type: ignore[import-untyped]
from kivy.properties import (  # type: ignore[import-untyped]
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    StringProperty,
)

from kiosk.checkpoint.flow import Checkpoint
from kiosk.checkpoint.settings import KioskSettings
from kiosk.checkpoint.view import DeviceStates, MeasuringView, StatusView, VerdictView
from kiosk.scanner.preview_buffer import FrameBuffer
from kiosk.ui import rules
from kiosk.ui.admin_api import AdminApi
from kiosk.ui.env import UiEnv
from kiosk.ui.frames import FrameHooks, Shown
from kiosk.ui.sounds import Sounds
from kiosk.ui.status import StatusPoller
from kiosk.ui.texts import ADMIN_BACKGROUND, SCAN_BACKGROUND, thermometer_line
from kiosk.ui.wedge import KeyboardWedge

log = logging.getLogger("kiosk.ui")
PREVIEW_FPS = 30
# The preview looks for a new camera frame at every UI frame (up to 60 a second) rather than on a 1/30 s
# interval: Kivy counts an interval from when it last fired, so each late frame delays all the next ones
# (21 pictures a second measured instead of 30). A token bucket keeps uploads to 30 a second on average
# while letting them follow the camera's jitter (a fixed minimum gap dropped every other late frame).
ADMIN_SCREENS = ("pin", "admin", "recent", "policy", "register")
ADMIN_IDLE = 120.0  # seconds without a touch before the admin screens close themselves
CALL_WAIT = 10.0  # seconds shutdown waits for an admin call still running (a USB stick, the network)


class UiListener:
    """The checkpoint's listener: called on its worker thread, it hands each verdict to the UI thread."""

    def __init__(self, app: KioskApp) -> None:
        self.app = app

    def on_verdict(self, view: VerdictView) -> None:
        received = time.monotonic()
        Clock.schedule_once(lambda dt: self.app.show_verdict(view, received), 0)  # GL only on the main thread

    def on_measuring(self, view: MeasuringView) -> None:
        Clock.schedule_once(lambda dt: self.app.show_measuring(view), 0)


class KioskApp(App):  # type: ignore[misc]
    background = ColorProperty(SCAN_BACKGROUND)  # behind everything, the status bar included
    bus = BooleanProperty(False)
    busy = BooleanProperty(False)  # an admin call is running: its buttons wait
    has_admin = BooleanProperty(False)
    measuring = StringProperty("")  # "正在测温…\nmeasuring...": a code waits for a reading (scan.kv shows it)
    # The window's shape, for every kv rule: portrait stacks what landscape puts side by side, and type and
    # spacing are fractions of the shorter side (vmin: a hundredth of it, in pixels), so a 1080x1920 totem and
    # a 1024x600 tablet both fill their screens. Set in one place, _fit_window, from the window's size.
    portrait = BooleanProperty(False)
    vmin = NumericProperty(8.0)

    def __init__(self, checkpoint: Checkpoint, settings: KioskSettings, admin: AdminApi | None, env: UiEnv, *,
                 screenshots: Path | None = None, exit_when_ended: bool = False,
                 on_ready: Callable[[], None] | None = None, preview: FrameBuffer | None = None) -> None:
        super().__init__()
        self.checkpoint, self.settings, self.admin, self.env = checkpoint, settings, admin, env
        self.preview = preview  # the camera's newest frame (the wiring connects the pipeline to it); None: no camera
        self.bus, self.has_admin = settings.bus, admin is not None
        self.exit_when_ended = exit_when_ended
        self.hooks = FrameHooks(self, screenshots, on_ready)
        self.shown: list[Shown] = []
        self.closed = False
        self._back_to = "scan"
        self._hold: Any = None
        self._events: list[Any] = []
        self._calls: list[threading.Thread] = []  # admin calls on their threads (leave() writes the audit log)
        self._ended_at: float | None = None
        self._touched = time.monotonic()
        self._last_frame: Any = None
        self._tokens, self._tokens_at = 1.0, time.monotonic()
        self.poller: StatusPoller | None = None
        self.wedge = KeyboardWedge(lambda text: self.checkpoint.submit(text, "keyboard"))

    # -- building and running -------------------------------------------------------------------------

    def load_kv(self, filename: str | None = None) -> bool:
        return True  # rules.load() in build(): once per process, whatever the number of apps

    def build(self) -> Any:
        rules.load(self.env.font)
        self.title = "健康码核验 Health code checkpoint"
        Window.bind(size=self._fit_window)
        self._fit_window(Window, Window.size)
        return Factory.KioskRoot()

    def _fit_window(self, window: Any, size: tuple[int, int]) -> None:
        """Portrait or landscape, and the type's unit: chosen here from the window's size, and nowhere else."""
        width, height = size
        self.portrait = height > width
        self.vmin = max(1, min(width, height)) / 100

    @property
    def screens(self) -> Any:
        return self.root.ids.screens

    def screen(self, name: str) -> Any:
        return self.screens.get_screen(name)

    @property
    def current(self) -> str:
        return str(self.screens.current)

    def on_start(self) -> None:
        self.screen("scan").set_mode(self.settings.bus, self.settings.vehicle)
        self.screen("verdict").set_mode(self.settings.bus, self.settings.vehicle)
        self.sounds = Sounds(self.env.cache, self.settings.sound)
        Window.bind(on_textinput=self._on_textinput, on_key_down=self._on_key_down, on_flip=self.hooks.flipped,
                    on_touch_down=self._on_touch)
        self.root.ids.bar.bind(on_long_press=lambda *_: self.open_admin(), on_admin=lambda *_: self.open_admin())
        # One status read now, so the very first frame has its chips; then a thread keeps them fresh.
        self._show_status(self.checkpoint.status(), self.checkpoint.devices())
        self.poller = StatusPoller(self.checkpoint.status, self.checkpoint.devices, self._show_status)
        self.poller.start()
        self._events = [Clock.schedule_interval(self._preview_tick, 0),
                        Clock.schedule_interval(self._watch, 0.25)]
        self.checkpoint.start(UiListener(self))

    def shutdown(self) -> None:
        """Stop our clocks, thread and window hooks (not the checkpoint: run_ui's caller owns that)."""
        if self.closed:
            return
        self.closed = True
        for event in [*self._events, self._hold]:
            if event is not None:
                event.cancel()
        if self.poller is not None:
            self.poller.stop()
        for thread in self._calls:  # an admin call still writing (leave() logs) ends before run_ui's caller
            thread.join(CALL_WAIT)  # closes the log: a write into a closed SQLite connection can crash
        if self.root is not None:
            self.screen("pin").stop_ticking()
        Window.unbind(on_textinput=self._on_textinput, on_key_down=self._on_key_down, on_flip=self.hooks.flipped,
                      on_touch_down=self._on_touch, size=self._fit_window)

    def on_stop(self) -> None:
        self.shutdown()

    # -- what the checkpoint shows --------------------------------------------------------------------

    def show_measuring(self, view: MeasuringView) -> None:
        """A code waits for the thermometer: the scan screen says so (a verdict still up is over: a new code is in)."""
        if self.closed:
            return
        self.measuring = f"{view.zh}\n{view.en}"
        if self.current == "verdict":
            self.go(self._back_to)

    def show_verdict(self, view: VerdictView, received: float) -> None:
        """The verdict screen for `view`, replacing any verdict still on screen; back after view.hold."""
        if self.closed:
            return
        self.measuring = ""
        self.screen("verdict").show(view)
        if self.current != "verdict":
            self._back_to = self.current  # an admin screen stays where staff left it
        self._go("verdict", tuple(view.background))
        if self._hold is not None:
            self._hold.cancel()
        self._hold = Clock.schedule_once(lambda dt: self._hold_over(), view.hold)
        self.sounds.play(view.verdict)
        self.hooks.verdict_pending(view, received)
        self.root.canvas.ask_update()  # two identical verdicts in a row still make a frame, to time it

    def _hold_over(self) -> None:
        self._hold = None
        self.go(self._back_to)

    def _show_status(self, view: StatusView, devices: DeviceStates) -> None:
        if self.closed:
            return
        self.root.ids.bar.show(view)
        line = None if self.settings.bus else thermometer_line(devices, self.checkpoint.policy)
        self.screen("scan").show_thermometer(line)

    def _preview_tick(self, dt: float) -> None:
        frame = self.preview.latest() if self.preview is not None else None
        if frame is None or frame is self._last_frame or self.current != "scan":
            return  # nothing new, or nobody can see the preview: no upload
        now = time.monotonic()
        self._tokens = min(2.0, self._tokens + (now - self._tokens_at) * PREVIEW_FPS)
        self._tokens_at = now
        if self._tokens < 1.0:
            return
        self._tokens -= 1.0
        self._last_frame = frame
        self.screen("scan").ids.preview.show(frame.image)

    def _watch(self, dt: float) -> None:
        now = time.monotonic()
        if self.current in ADMIN_SCREENS and now - self._touched > ADMIN_IDLE:
            self.leave_admin()  # staff walked away: nobody else gets the admin screens
        if not self.exit_when_ended:
            return
        if not self.checkpoint.ended:
            self._ended_at = None
            return
        self._ended_at = self._ended_at or now
        # The worker may still be deciding the last scans the source handed over: a second of quiet, and the
        # last verdict's hold over, before closing.
        last = self.shown[-1].received if self.shown else 0.0
        if now - self._ended_at >= 1.0 and now - last >= 1.0 and self.current != "verdict":
            self.stop()

    # -- navigation ------------------------------------------------------------------------------------

    def go(self, name: str) -> None:
        self._go(name, ADMIN_BACKGROUND if name in ADMIN_SCREENS else SCAN_BACKGROUND)

    def _go(self, name: str, background: tuple[float, ...]) -> None:
        if name != "verdict" and self._hold is not None:  # staff went somewhere from a verdict: it is over
            self._hold.cancel()
            self._hold = None
        self.background = background
        self.screens.current = name

    def open_admin(self) -> None:
        if self.admin is not None and self.current not in ADMIN_SCREENS:
            self.go("pin")

    def leave_admin(self) -> None:
        admin = self.admin
        self.go("scan")
        if admin is not None:
            self.call(admin.leave, lambda result: None)

    def call(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run `work` on a thread (it may block on a stick or the network); `done` gets its result or error."""
        self.busy = True

        def run() -> None:
            try:
                result = work()
            except Exception as err:  # shown to staff as an error, never a crash of the kiosk
                log.exception("admin call failed")
                result = err
            Clock.schedule_once(lambda dt: self._called(done, result), 0)

        thread = threading.Thread(target=run, name="ui-admin-call", daemon=True)
        self._calls = [t for t in self._calls if t.is_alive()] + [thread]
        thread.start()

    def _called(self, done: Callable[[Any], None], result: Any) -> None:
        if self.closed:  # answered after the app stopped (leave() on the way out): nobody to tell
            return
        self.busy = False
        done(result)

    # -- keyboard-wedge scanners and touches ------------------------------------------------------------

    def typing(self) -> bool:
        """A text field of the admin forms has the keyboard: keystrokes are staff typing, not a scanner."""
        register = self.screen("register")
        return any(w.focus for w in (*register.inputs().values(), register.ids.temperature))

    def _on_textinput(self, window: Any, text: str) -> None:
        if not self.typing():
            self.wedge.text(text)

    def _on_key_down(self, window: Any, key: int, scancode: int, codepoint: str | None,
                     modifiers: list[str]) -> bool:
        if self.typing():
            self._touched = time.monotonic()  # staff typing on a keyboard are there too
            return False
        self.wedge.key(key, codepoint, modifiers)
        return False

    def _on_touch(self, window: Any, touch: Any) -> bool:
        self._touched = time.monotonic()
        return False
