"""The PIN pad in front of the admin screens: big keys for gloved fingers, and a lock with its time left.

The Admin decides everything (right, wrong, locked, for how long); this
screen sends the PIN on a thread (PBKDF2 takes a noticeable fraction of a
second) and counts the lock down on screen from the seconds it was given.
"""

from __future__ import annotations

import time
from typing import Any

from kivy.app import App  # type: ignore[import-untyped]
from kivy.clock import Clock  # type: ignore[import-untyped]
from kivy.properties import ColorProperty, NumericProperty, StringProperty  # type: ignore[import-untyped]
from kivy.uix.screenmanager import Screen  # type: ignore[import-untyped]

from kiosk.ui.texts import LINE_COLOURS, lock_line

MAX_DIGITS = 12


class PinScreen(Screen):  # type: ignore[misc]
    entered = StringProperty("")
    message = StringProperty("")
    message_colour = ColorProperty(LINE_COLOURS["warn"])
    countdown = StringProperty("")  # "locked: try again in 4:59", while locked
    locked_until = NumericProperty(0.0)  # time.monotonic() when the lock ends, as the Admin said

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ticker: Any = None

    @property
    def locked(self) -> bool:
        return bool(self.locked_until > time.monotonic())

    def on_pre_enter(self, *_: object) -> None:
        self.entered = ""
        if not self.locked:
            self.message = ""

    def digit(self, digit: str) -> None:
        if len(self.entered) < MAX_DIGITS:
            self.entered += digit

    def rub_out(self) -> None:
        self.entered = self.entered[:-1]

    def clear(self) -> None:
        self.entered = ""

    def submit(self) -> None:
        app = App.get_running_app()
        if not self.entered or app.busy or app.admin is None:
            return
        pin, self.entered = self.entered, ""  # never left on screen, even as dots
        app.call(lambda: app.admin.unlock(pin), self._answered)

    def _answered(self, result: Any) -> None:
        app = App.get_running_app()
        if isinstance(result, Exception):
            self._say("管理功能出错", f"admin error: {result}", "alarm")
            return
        if result.ok:
            self.message, self.locked_until = "", 0.0
            app.go("admin")
            return
        self._say(result.zh, result.en, "alarm" if result.locked_for > 0 else "warn")
        if result.locked_for > 0:
            self.locked_until = time.monotonic() + result.locked_for
            self._tick()
            if self._ticker is None:
                self._ticker = Clock.schedule_interval(self._tick, 0.5)

    def _say(self, zh: str, en: str, level: str) -> None:
        self.message = f"{zh}\n{en}"
        self.message_colour = LINE_COLOURS[level]

    def stop_ticking(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _tick(self, *_: object) -> None:
        left = self.locked_until - time.monotonic()
        if left <= 0:
            self.countdown = ""
            self.message = ""
            self.stop_ticking()
            return
        self.countdown = lock_line(left).text

    def leave(self) -> None:
        App.get_running_app().go("scan")
