"""Drives the real Kivy app frame by frame in this process, for tests and the screenshot script.

One window per process (Kivy makes exactly one): each UiHarness mounts a fresh
KioskApp in it and takes it out again on close(). Waiting is always "pump
frames until a condition holds, or fail after a generous deadline", never a
sleep tuned to this machine. The environment comes from kiosk.ui.env, set
before the first Kivy import, exactly as run_ui sets it.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.checkpoint.flow import Checkpoint
from kiosk.checkpoint.settings import KioskSettings
from kiosk.ui.app import make_app

# Tests keep Kivy's files out of ~/.kivy and ~/.cache; a real kiosk uses kiosk.ui.env's defaults.
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kiosk-ui-kivy-"))
os.environ.setdefault("XDG_CACHE_HOME", os.environ["KIVY_HOME"])
DEADLINE = 20.0  # seconds: generous, for two loaded cores; passing runs take a fraction of it
_SURFACE: list[tuple[int, int]] = []  # the size of this process's first window: offscreen, drawing stops there


@contextmanager
def main_thread_guard(timeout: float = DEADLINE * 3) -> Iterator[None]:
    """A hang guard for what must run on Kivy's (main) thread and so cannot be left behind on a thread of its
    own: past `timeout` the process prints every thread's stack and exits, so pytest reports the test as
    crashed instead of the suite hanging."""
    faulthandler.dump_traceback_later(timeout, exit=True, file=sys.__stderr__ or sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


class UiHarness:
    def __init__(self, checkpoint: Checkpoint, settings: KioskSettings, admin: Any = None, *,
                 size: tuple[int, int] | None = None, screenshots: Path | None = None, preview: Any = None) -> None:
        self.checkpoint = checkpoint  # `preview`: the FrameBuffer the app shows the camera from, as run_ui's
        self.app = make_app(checkpoint, settings, admin, windowed=True, size=size, screenshots=screenshots,
                            preview=preview)
        from kivy.base import EventLoop, runTouchApp  # type: ignore[import-untyped]
        from kivy.core.window import Window  # type: ignore[import-untyped]

        self.loop, self.window = EventLoop, Window
        wanted = self.app.env.size
        if not _SURFACE:
            _SURFACE.append((int(Window.width), int(Window.height)))
        if tuple(Window.size) != wanted:
            Window.size = wanted  # the window outlives each app: a bus test asks for a tablet's size
        with main_thread_guard():  # the app's start opens the checkpoint's devices
            self.app._run_prepare()
            if EventLoop.status != "started":
                runTouchApp(embedded=True)
        self.until(lambda: self.app.hooks.ready_at is not None, "the scan screen's first frame")

    # -- time ---------------------------------------------------------------------------------------------

    def frame(self) -> None:
        self.loop.idle()  # Clock.tick() inside paces this at the configured frame rate

    def until(self, condition: Callable[[], object], what: str = "condition", timeout: float = DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        with main_thread_guard(timeout + DEADLINE * 2):  # a frame that never returns cannot reach the check below
            while not condition():
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting for {what} (screen {self.app.current!r})")
                self.frame()

    def run_for(self, seconds: float) -> None:
        """Keep the app running (not a wait for a condition: for 'nothing happens meanwhile' checks)."""
        end = time.monotonic() + seconds
        with main_thread_guard(seconds + DEADLINE * 2):
            while time.monotonic() < end:
                self.frame()

    # -- looking ------------------------------------------------------------------------------------------

    @property
    def screen(self) -> str:
        return self.app.current

    def ids(self, screen: str) -> Any:
        return self.app.screen(screen).ids

    def drawable(self) -> None:
        """Fail unless the whole window is drawn: offscreen, SDL's surface keeps the first window's size, so a
        larger window is laid out right but drawn only in part (the rest is garbage in pixels and screenshots)."""
        width, height = self.window.size
        surface = _SURFACE[0]
        if self.app.env.offscreen and (width > surface[0] or height > surface[1]):
            raise AssertionError(f"this process drew its first window at {surface[0]}x{surface[1]}: pixels of a "
                                 f"{width}x{height} window need a process of its own (see tests/test_ui_layout.py)")

    def pixels(self) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """The next drawn frame, RGB, top row first."""
        self.drawable()
        box: list[np.ndarray[Any, Any]] = []
        self.app.hooks.request(then=box.append)
        self.until(lambda: box, "a frame's pixels")
        return box[0]

    def colour_at(self, x: float, y: float) -> tuple[int, int, int]:
        """The colour at a point given as fractions of the window (0, 0 top left)."""
        pixels = self.pixels()
        height, width = pixels.shape[:2]
        r, g, b = pixels[min(height - 1, int(y * height)), min(width - 1, int(x * width))]
        return int(r), int(g), int(b)

    def shot(self, path: Path) -> Path:
        self.drawable()
        box: list[object] = []
        self.app.hooks.request(path, then=box.append)
        self.until(lambda: box, f"screenshot {path.name}")
        return path

    # -- doing --------------------------------------------------------------------------------------------

    def tap(self, widget: Any, hold: float = 0.0) -> None:
        from kivy.tests import UnitTestTouch  # type: ignore[import-untyped]

        self.frame()  # a screen just switched to is laid out in its first frame: aim after it
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frame()
        if hold:
            self.run_for(hold)
        touch.touch_up()
        self.frame()

    def type_keys(self, text: str, *, with_text_input: bool = True, enter: bool = True) -> None:
        """Keystrokes as a US-layout wedge scanner makes them: key down (unshifted), then its text."""
        shifted = {v: k for k, v in zip("1234567890-=[]\\;',./`", '!@#$%^&*()_+{}|:"<>?~')}
        for char in text:
            base = char.lower() if char.isalpha() else shifted.get(char, char)
            modifiers = ["shift"] if char.isupper() or char in shifted else []
            self.window.dispatch("on_key_down", ord(base), 0, base, modifiers)
            if with_text_input:
                self.window.dispatch("on_textinput", char)
        if enter:
            self.window.dispatch("on_key_down", 13, 40, "\r", [])
        self.frame()

    def close(self) -> None:
        from kivy.app import App  # type: ignore[import-untyped]

        app = self.app
        app.dispatch("on_stop")  # app.shutdown(), and kv's `app` proxy lets go of this app
        stopper = threading.Thread(target=self.checkpoint.stop, name="checkpoint stop", daemon=True)
        stopper.start()
        stopper.join(DEADLINE * 3)
        if stopper.is_alive():
            raise AssertionError(f"checkpoint.stop() did not return within {DEADLINE * 3:.0f} s")
        if app.root is not None and app.root.parent is not None:
            self.window.remove_widget(app.root)
        App._running_app = None  # the next test's app is the running one
        self.frame()
