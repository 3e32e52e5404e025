"""Frame sources: a camera, a video file, an image sequence, a stream URL, a folder of images.

Everything OpenCV opens goes through one class, CaptureSource; a folder of
arbitrary image files has its own. A live source that stops delivering (a USB
camera unplugged, a stream dropped) reports "lost", retries every few seconds
and resumes by itself; a file simply ends. Why a camera cannot be opened is
kept in words (`open_error`) for the one line the kiosk says at start.

OpenCV's own log (`[ WARN:0@2.024] global cap_v4l.cpp ...` at every retry) is
silenced when this module is imported: the kiosk says what went wrong itself.
OPENCV_LOG_LEVEL in the environment still wins, for debugging on site.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from kiosk.scanner.types import Frame, Image

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
if not os.environ.get("OPENCV_LOG_LEVEL"):
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def _is_live(target: str | int) -> bool:
    if isinstance(target, int):
        return True
    return target.startswith(("/dev/", "rtsp://", "http://", "https://", "udp://", "tcp://"))


class CaptureSource:
    """cv2.VideoCapture over a camera index or device, a video file, an image sequence or a stream URL.

    `live` (default: guessed from the target) decides what a failed read means:
    a camera or stream is lost and reopened every `reconnect_every` seconds; a
    file has ended. `pace` delivers a file's frames at its own fps, as a camera would.
    """

    def __init__(self, target: str | int, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None, live: bool | None = None, reconnect_every: float = 2.0,
                 pace: bool = False, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.live = _is_live(target) if live is None else live
        self.settings = {cv2.CAP_PROP_FRAME_WIDTH: width, cv2.CAP_PROP_FRAME_HEIGHT: height, cv2.CAP_PROP_FPS: fps}
        self.reconnect_every = reconnect_every
        self.pace = pace
        self._monotonic = monotonic
        self._capture: Any = None
        self._next_attempt = 0.0
        self._next_due = 0.0
        self._interval = 0.0  # seconds between frames when pacing a file
        self._index = 0
        self.state = "starting"  # "ok", "lost" (live, retrying) or "ended" (a file that has no more frames)
        self.reconnects = 0
        self.failures = 0
        self.opened = 0  # successful opens
        self.open_error: str | None = None  # why it cannot be opened, while it has never been opened yet

    def _open(self) -> bool:
        capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            if not self.opened:
                self.open_error = why_not_opened(self.target)
            return False
        self.opened += 1
        self.open_error = None
        for prop, value in self.settings.items():
            if value is not None:
                capture.set(prop, value)  # a camera may ignore it; that is fine
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._interval = 1.0 / fps if fps > 0 else 0.0
        return True

    def read(self) -> Frame | None:
        if self.state == "ended":
            return None
        now = self._monotonic()
        if self._capture is None:
            if now < self._next_attempt:
                return None
            if not self._open():
                self._lose(now, "cannot open")
                return None
            if self.state == "lost":
                self.reconnects += 1
                log.warning("camera %s is back", self.target)
            self.state = "ok"
        if self.pace and self._interval and now < self._next_due:
            time.sleep(self._next_due - now)
        try:
            ok, image = self._capture.read()
        except cv2.error:
            ok, image = False, None
        if not ok or image is None:
            self._capture.release()
            self._capture = None
            if self.live:
                self._lose(now, "read failed")
            else:
                self.state = "ended"
            return None
        self._next_due = max(now, self._next_due) + self._interval
        frame = Frame(image, self._index, self._monotonic())
        self._index += 1
        return frame

    def skip(self) -> bool:
        """Take the next frame off without making a picture of it (grab, no retrieve): how an idle
        pipeline drains a camera for less than read() costs. False if there is none now (read() says why)."""
        if self.state != "ok" or self._capture is None:
            return False
        now = self._monotonic()
        if self.pace and self._interval and now < self._next_due:
            time.sleep(self._next_due - now)
        try:
            ok = bool(self._capture.grab())
        except cv2.error:
            ok = False
        if ok:
            self._next_due = max(now, self._next_due) + self._interval
            self._index += 1
        return ok

    def _lose(self, now: float, why: str) -> None:
        if self.state != "lost":
            log.warning("camera %s lost (%s); retrying every %.0f s", self.target, why, self.reconnect_every)
        self.failures += 1
        if not self.live and self.state == "starting":
            self.state = "ended"  # a file that cannot be opened will not appear later
            return
        self.state = "lost"
        self._next_attempt = now + self.reconnect_every

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self.state = "ended"


class FolderSource:
    """The image files of a folder in name order, once (or over and over with `repeat`).

    A file that is not a picture is skipped and counted, never fatal.
    """

    def __init__(self, folder: Path, *, repeat: bool = False, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.folder = Path(folder)
        self.repeat = repeat
        self._monotonic = monotonic
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self._position = 0
        self._index = 0
        self.skipped = 0
        self.state = "ok" if self._files else "ended"

    def read(self) -> Frame | None:
        while self.state == "ok":
            if self._position >= len(self._files):
                if not self.repeat:
                    self.state = "ended"
                    break
                self._position = 0
            path = self._files[self._position]
            self._position += 1
            image = read_image(path)
            if image is None:
                self.skipped += 1
                log.warning("%s is not a picture; skipped", path)
                if self.skipped >= len(self._files) and self.repeat:
                    self.state = "ended"
                continue
            frame = Frame(image, self._index, self._monotonic())
            self._index += 1
            return frame
        return None

    def close(self) -> None:
        self.state = "ended"


def read_image(path: Path) -> Image | None:
    """A picture file as a BGR image, or None; quiet, unlike cv2.imread, which prints to stderr."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data:
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cast(Image, image) if image is not None else None


def why_not_opened(target: str | int) -> str:
    """A few words on why OpenCV could not open `target` (it says nothing itself that a person could use)."""
    device = f"/dev/video{target}" if isinstance(target, int) else target if target.startswith("/dev/") else None
    if device is None:
        return "no stream there, or it did not answer" if _is_live(target) else "not a video OpenCV can read"
    if not os.path.exists(device):
        return "no such device"
    if not os.access(device, os.R_OK | os.W_OK):
        return "permission denied: is the user in the video group?"
    return "busy, or not a camera"


def file_problem(spec: str) -> str | None:
    """Why `spec`, a video file, cannot be played (None: it can, or it is not a file: a camera, a folder, a URL).

    A missing or unreadable file is a mistake in the command or the config, said
    at start, where a camera that is not there yet is waited for.
    """
    if spec.isdigit() or _is_live(spec) or "://" in spec or "%" in spec or Path(spec).is_dir():
        return None  # a camera, a stream, an image sequence (frames/%04d.png) or a folder
    path = Path(spec)
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "not a file"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    capture = cv2.VideoCapture(spec)
    try:
        return None if capture.isOpened() else "not a video OpenCV can read"
    finally:
        capture.release()


def open_source(spec: str, **options: Any) -> CaptureSource | FolderSource:
    """A source from a config value: "0" (camera index), "/dev/video0", a folder, a video file,
    "frames/%04d.png" or a stream URL."""
    if spec.isdigit():
        return CaptureSource(int(spec), **options)
    if Path(spec).is_dir():
        return FolderSource(Path(spec), repeat=bool(options.get("repeat", False)))
    options.pop("repeat", None)
    return CaptureSource(spec, **options)
