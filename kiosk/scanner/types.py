"""The small interfaces of the scanner side: frames, frame sources, decoders, scans, code sources and their health."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]  # grayscale (H, W) or BGR (H, W, 3), as OpenCV gives them


@dataclass(frozen=True)
class Frame:
    """One picture from a frame source."""

    image: Image
    index: int  # counts up from 0 for each source
    taken_at: float  # time.monotonic() when the source handed it over


class FrameSource(Protocol):
    """A camera, a video file, a stream or a folder of images."""

    @property
    def state(self) -> str:
        """"starting", "ok", "lost" (a live source, retrying) or "ended" (a file with no more frames)."""

    def read(self) -> Frame | None:
        """The next frame; None when there is none now (the end of a file, a camera lost)."""

    def close(self) -> None: ...


@runtime_checkable
class SkippingSource(FrameSource, Protocol):
    """A frame source that can take a frame off without making a picture of it (a camera, cheaper than read())."""

    def skip(self) -> bool:
        """False if there is no frame now (read() says why)."""


@runtime_checkable
class DeviceSource(FrameSource, Protocol):
    """A frame source that opens a device and retries while it cannot (CaptureSource): what its health names."""

    @property
    def target(self) -> str | int: ...

    @property
    def reconnect_every(self) -> float: ...

    @property
    def open_error(self) -> str | None:
        """Why it cannot be opened, in a few words, while it has never been opened; else None."""


class Decoder(Protocol):
    def decode(self, image: Image) -> list[str]:
        """Texts of the QR codes in `image`; an empty list when there is none. Never raises."""


@dataclass(frozen=True)
class FrameReading:
    """What a decoder made of one frame of a camera's stream."""

    texts: list[str]
    seen: bool  # a code was located, read or not: wakes a pipeline that decodes few frames (idle.py)
    resume: int = 0  # where the next frame's retries go on (0: from the first; retry_budget.py)


@runtime_checkable
class FrameDecoder(Decoder, Protocol):
    """A decoder that spends a bounded effort on each frame and goes on in the next (ChainDecoder)."""

    def read_frame(self, image: Image, resume: int = 0) -> FrameReading:
        """`image` as one frame of a stream, its retries from position `resume` on. Never raises."""


@dataclass(frozen=True)
class Scan:
    """A code read once, by whatever source: what the verifier gets."""

    text: str
    source: str  # "camera", "serial" or "keyboard"
    seen_at: float  # epoch seconds
    frame_at: float | None = None  # time.monotonic() of the frame that held it (camera only)


ScanHandler = Callable[[Scan], None]


@dataclass(frozen=True)
class SourceHealth:
    """What a code source says of its device now: for the status bar, the log and the line said at start."""

    state: str  # the status bar's word: "starting", "ok", "lost", "ended" (camera); "ok", "disconnected" (serial)
    tried: bool  # it has tried to open its device at least once (opened, or failed to)
    cannot_open: str | None = None  # why it cannot be opened, in a few words, while it never has been; else None
    target: str = ""  # what it opens: a camera index or device, a video, a serial port URL
    retry_every: float = 0.0  # seconds between its attempts to open the device again


class CodeSource(Protocol):
    """Anything that produces scans in its own thread: the camera pipeline, a serial 2D scanner."""

    @property
    def kind(self) -> str:
        """"camera" or "serial": the word its scans carry (Scan.source), and what the status bar shows it as."""

    @property
    def ended(self) -> bool:
        """It was started and has nothing more to give: a file read to its end (a live device never ends)."""

    def health(self) -> SourceHealth: ...

    def start(self, on_scan: ScanHandler) -> None: ...

    def stop(self) -> None: ...
