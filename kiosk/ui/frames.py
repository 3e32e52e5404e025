"""What happens at each drawn frame: ready-to-scan, when a verdict reached the screen, screenshots.

Bound to the window's on_flip, which Kivy dispatches right after drawing and
before swapping buffers: the frame is complete in the back buffer, so a
glReadPixels there reads exactly what is about to be shown (after the swap
the back buffer's content is undefined).

Each frame ends with glFinish. Without it a software renderer (Mesa's
llvmpipe, what a kiosk without a GPU and these tests have) queues frame after
frame, because the swap returns at once, and the first texture a new verdict
updates (its words) then waits for every queued frame: 50-130 ms measured,
against under 1 ms with at most one frame in flight. It also makes "drawn"
mean drawn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glFinish, glReadPixels  # type: ignore[import-untyped]

from kiosk.checkpoint.view import VerdictView

log = logging.getLogger("kiosk.ui")


@dataclass(frozen=True)
class Shown:
    """A verdict that reached the screen: when the checkpoint handed it over and when it was first drawn."""

    view: VerdictView
    received: float  # time.monotonic()
    drawn: float


class Screens(Protocol):
    """What the hooks look at in the app (KioskApp): the screen up, its widgets, the verdicts drawn so far."""

    root: Any
    shown: list[Shown]

    @property
    def current(self) -> str: ...

    def screen(self, name: str) -> Any: ...


def read_pixels(size: tuple[int, int]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The frame just drawn, as RGB rows top first; only valid inside on_flip."""
    width, height = size
    data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
    rows = np.frombuffer(data, np.uint8).reshape(height, width, 3)
    return np.ascontiguousarray(rows[::-1])  # GL's first row is the bottom


class FrameHooks:
    def __init__(self, app: Screens, screenshots: Path | None, on_ready: Callable[[], None] | None) -> None:
        self.app, self.folder, self.on_ready = app, screenshots, on_ready
        self.frames = 0
        self.ready_at: float | None = None  # time.monotonic() of the Scan screen's first frame
        self.saved: dict[str, Path] = {}  # screenshot key -> file
        self._verdict: tuple[VerdictView, float] | None = None
        self._requests: list[tuple[Path | None, Callable[[np.ndarray[Any, Any]], None] | None]] = []
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)

    def verdict_pending(self, view: VerdictView, received: float) -> None:
        self._verdict = (view, received)

    def request(self, path: Path | None = None, then: Callable[[np.ndarray[Any, Any]], None] | None = None) -> None:
        """Save the next frame to `path` and/or hand its pixels to `then` (tests sample colours with it)."""
        self._requests.append((path, then))
        self.app.root.canvas.ask_update()

    def flipped(self, window: Any) -> None:
        glFinish()
        now = time.monotonic()
        self.frames += 1
        app = self.app
        if self._verdict is not None and app.current == "verdict":
            view, received = self._verdict
            self._verdict = None
            app.shown.append(Shown(view, received, now))
        if self.ready_at is None and app.current == "scan":
            self.ready_at = now
            if self.on_ready is not None:
                self.on_ready()
        pixels = None
        if self.folder is not None:
            key = self.key()
            if key not in self.saved:
                pixels = read_pixels(tuple(window.size))
                path = self.folder / f"{len(self.saved) + 1:02d}-{key}.png"
                self._save(path, pixels)
                self.saved[key] = path
        requests, self._requests = self._requests, []
        for wanted, then in requests:
            pixels = pixels if pixels is not None else read_pixels(tuple(window.size))
            if wanted is not None:
                self._save(wanted, pixels)
            if then is not None:
                then(pixels)

    def key(self) -> str:
        """What a screenshot of the current screen is called: the screen, and what state it is in."""
        app = self.app
        name = app.current
        if name == "verdict":
            return f"verdict-{app.screen('verdict').verdict}"
        if name == "pin" and app.screen("pin").countdown:
            return "pin-locked"
        if name == "scan" and app.root.ids.bar.view.worst != "ok":
            return "scan-warnings"
        return str(name)

    @staticmethod
    def _save(path: Path, pixels: np.ndarray[Any, Any]) -> None:
        if not cv2.imwrite(str(path), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)):
            log.warning("screenshot %s could not be written", path)
