"""The status bar on every screen: one chip per StatusView item, refreshed about once a second.

`checkpoint.status()` reads SQLite (unsynced events) and the trust directory,
so it runs on its own thread ("ui-status"), never on the UI thread; the UI
gets the finished values through the Clock. A long press on the bar (2 s)
opens the admin PIN pad, as does the gear button.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock  # type: ignore[import-untyped]
from kivy.factory import Factory  # type: ignore[import-untyped]
from kivy.properties import BooleanProperty, ColorProperty, StringProperty  # type: ignore[import-untyped]
from kivy.uix.boxlayout import BoxLayout  # type: ignore[import-untyped]
from kivy.uix.label import Label  # type: ignore[import-untyped]

from kiosk.checkpoint.view import DeviceStates, StatusView
from kiosk.ui.texts import chip_colours

log = logging.getLogger("kiosk.ui")
LONG_PRESS = 2.0  # seconds on the bar that open the PIN pad: long enough that nobody does it by accident


class StatusBar(BoxLayout):  # type: ignore[misc]
    """Chips in kv (`chips`, a StackLayout); the bar itself only tracks a long press."""

    admin_enabled = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        self.register_event_type("on_long_press")
        self.register_event_type("on_admin")
        super().__init__(**kwargs)
        self._press: Any = None
        self.view = StatusView()

    def on_long_press(self) -> None:
        pass

    def on_admin(self) -> None:
        pass

    def show(self, view: StatusView) -> None:
        """Put `view` on the bar; chips are reused, so a second's refresh changes only what changed."""
        self.view = view
        chips = self.ids.chips
        items = list(view.items)
        while len(chips.children) > len(items):
            chips.remove_widget(chips.children[0])
        while len(chips.children) < len(items):
            chips.add_widget(Factory.StatusChip())
        for chip, item in zip(reversed(chips.children), items):  # children are kept newest first
            background, ink = chip_colours(item.level)
            chip.key, chip.level = item.key, item.level
            chip.text = f"{item.zh}\n{item.en}"
            chip.fill, chip.color = background, ink

    def chip(self, key: str) -> Any:
        """The chip for a StatusView key (tests read its text and level), or None."""
        return next((c for c in self.ids.chips.children if c.key == key), None)

    # -- long press: a touch that stays down for LONG_PRESS seconds --------------------------------------

    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos):
            return False
        if super().on_touch_down(touch):  # the gear button took it
            return True
        if self.admin_enabled:
            touch.grab(self)
            self._cancel()
            self._press = Clock.schedule_once(lambda dt: self.dispatch("on_long_press"), LONG_PRESS)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if touch.grab_current is self and not self.collide_point(*touch.pos):
            self._cancel()  # slid off the bar: not a press
        return bool(super().on_touch_move(touch))

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is self:
            touch.ungrab(self)
            self._cancel()
            return True
        return bool(super().on_touch_up(touch))

    def _cancel(self) -> None:
        if self._press is not None:
            self._press.cancel()
            self._press = None


class StatusChip(Label):  # type: ignore[misc]
    """One item: a label (touches fall through to the bar's long press); kv gives it its look."""

    key = StringProperty("")
    level = StringProperty("ok")
    fill = ColorProperty((0.16, 0.19, 0.23, 1))


class StatusPoller:
    """A thread that asks the checkpoint for its status and devices every `interval` seconds."""

    def __init__(self, status: Callable[[], StatusView], devices: Callable[[], DeviceStates],
                 deliver: Callable[[StatusView, DeviceStates], None], interval: float = 1.0) -> None:
        self.status, self.devices, self.deliver, self.interval = status, devices, deliver, interval
        self._stop = threading.Event()
        self._now = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ui-status", daemon=True)
        self.last_ms: float | None = None  # how long the last status() took, for the benchmark

    def start(self) -> None:
        self._thread.start()

    def refresh(self) -> None:
        """Ask again now (a device changed, an admin action finished)."""
        self._now.set()

    def stop(self) -> None:
        self._stop.set()
        self._now.set()
        if self._thread.is_alive():
            self._thread.join(3)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                view, devices = self.status(), self.devices()
            except Exception:  # a status that cannot be read must not end the refreshes
                log.exception("status could not be read")
            else:
                self.last_ms = (time.perf_counter() - started) * 1000
                if not self._stop.is_set():
                    Clock.schedule_once(lambda dt, v=view, d=devices: self.deliver(v, d), 0)
            self._now.wait(self.interval)
            self._now.clear()
