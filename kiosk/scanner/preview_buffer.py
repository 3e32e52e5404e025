"""The newest camera frame, kept for the preview: the camera pipeline puts, the touchscreen takes. No Kivy.

The composition root makes one when there is a screen, hands `put` to the
camera pipeline as its frame receiver and the buffer itself to the app, so
frames go from the camera to the screen without passing through the
checkpoint. Only the newest frame is kept: the screen shows the camera as it
is now, and a slow screen never holds up the capture thread.
"""

from __future__ import annotations

import threading

from kiosk.scanner.types import Frame


class FrameBuffer:
    """One frame, replaced by each newer one; put from the capture thread, read from the UI thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Frame | None = None

    def put(self, frame: Frame) -> None:
        with self._lock:
            self._frame = frame

    def latest(self) -> Frame | None:
        """The newest frame put, or None before the first; the same object until a newer one comes."""
        with self._lock:
            return self._frame
