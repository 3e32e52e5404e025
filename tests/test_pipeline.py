"""The camera pipeline end to end: rendered video through cv2.VideoCapture, the real decoders."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.synth import Look, render_frame, write_video
from kiosk.scanner.types import Frame, Image, Scan
from tests.factories import code

SMALL = Look(size=(640, 480), code_fraction=0.4)
A, B = code(name="A"), code(name="B")


def video(tmp_path: Path, script: list[tuple[str | None, int]], fps: float = 30) -> Path:
    """A video of (text or None, frame count) runs, as a camera at a checkpoint would film it."""
    frames: list[Image] = []
    for text, count in script:
        still = render_frame(text, SMALL, seed=len(frames))
        frames += [still] * count
    path = tmp_path / "queue.avi"
    write_video(path, frames, fps)
    return path


def run(source: CaptureSource, *, holdoff: float, latest_wins: bool = False,
        decoder: object = None) -> tuple[list[Scan], CameraPipeline]:
    scans: list[Scan] = []
    pipeline = CameraPipeline(source, decoder or ChainDecoder(), holdoff=holdoff,  # type: ignore[arg-type]
                              latest_wins=latest_wins)
    pipeline.start(scans.append)
    assert pipeline.wait_until_done(timeout=30)
    pipeline.stop()
    return scans, pipeline


def test_each_person_is_one_scan(tmp_path: Path) -> None:
    path = video(tmp_path, [(None, 5), (A, 12), (None, 3), (B, 12), (A, 6), (None, 4)])
    scans, pipeline = run(CaptureSource(str(path)), holdoff=3600)
    assert [s.text for s in scans] == [A, B]  # A again within the hold-off is not a new scan
    assert all(s.source == "camera" and s.frame_at is not None for s in scans)
    stats = pipeline.stats
    assert (stats.frames, stats.decoded, stats.dropped, stats.scans) == (42, 42, 0, 2)


def test_the_same_code_after_the_holdoff_is_a_new_scan(tmp_path: Path) -> None:
    # Paced at 50 fps: a gap of 3 frames (60 ms) is within the 0.5 s hold-off, one of 40 (0.8 s) is not.
    path = video(tmp_path, [(A, 5), (None, 3), (A, 5), (None, 40), (A, 5)], fps=50)
    scans, _ = run(CaptureSource(str(path), pace=True), holdoff=0.5)
    assert [s.text for s in scans] == [A, A]


def test_codes_that_are_not_health_codes_are_scans_too(tmp_path: Path) -> None:
    path = video(tmp_path, [("https://example.com/menu", 4)])
    scans, _ = run(CaptureSource(str(path)), holdoff=5)
    assert [s.text for s in scans] == ["https://example.com/menu"]


class SlowDecoder:
    """The real decoder, made slow, to see that capture does not wait for it."""

    def __init__(self, delay: float) -> None:
        self.inner, self.delay, self.seen = ChainDecoder(), delay, 0

    def decode(self, image: Image) -> list[str]:
        self.seen += 1
        time.sleep(self.delay)
        return self.inner.decode(image)


def test_latest_frame_wins_when_decoding_is_slower_than_capture(tmp_path: Path) -> None:
    path = video(tmp_path, [(None, 30), (A, 30)], fps=100)
    slow = SlowDecoder(0.05)
    scans, pipeline = run(CaptureSource(str(path), pace=True), holdoff=5, latest_wins=True, decoder=slow)
    stats = pipeline.stats
    assert stats.frames == 60 and stats.dropped > 20 and stats.decoded == slow.seen < 40
    assert [s.text for s in scans] == [A]  # the code is still read: the newest frame is never the one dropped


class BrokenDecoder:
    def __init__(self) -> None:
        self.inner, self.calls = ChainDecoder(), 0

    def decode(self, image: Image) -> list[str]:
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("a corrupt frame")
        return self.inner.decode(image)


def test_a_failing_decoder_or_handler_does_not_stop_the_pipeline(tmp_path: Path) -> None:
    path = video(tmp_path, [(A, 4), (None, 2), (B, 4)])
    seen: list[str] = []

    def handler(scan: Scan) -> None:
        seen.append(scan.text)
        raise ValueError("the screen fell over")

    pipeline = CameraPipeline(CaptureSource(str(path)), BrokenDecoder(), holdoff=60, latest_wins=False)
    pipeline.start(handler)
    assert pipeline.wait_until_done(timeout=30)
    assert seen == [A, B]


def test_stop_returns_with_a_camera_that_is_not_there() -> None:
    source = CaptureSource("/dev/video-not-here", reconnect_every=0.05)
    pipeline = CameraPipeline(source, ChainDecoder())
    pipeline.start(lambda scan: None)
    time.sleep(0.2)
    assert source.state == "lost"
    stopping = threading.Thread(target=pipeline.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=30)  # a hang guard only, generous for a loaded machine; how quick is not asserted here
    assert not stopping.is_alive(), "stop() hung with the camera missing"
    assert not [t for t in threading.enumerate() if t.name.startswith("camera-")]


def test_frames_reach_the_preview_callback(tmp_path: Path) -> None:
    path = video(tmp_path, [(A, 5)])
    previews: list[Frame] = []
    pipeline = CameraPipeline(CaptureSource(str(path)), ChainDecoder(), on_frame=previews.append, latest_wins=False)
    pipeline.start(lambda scan: None)
    assert pipeline.wait_until_done(timeout=30)
    assert [f.index for f in previews] == [0, 1, 2, 3, 4]
    assert isinstance(previews[0].image, np.ndarray) and previews[0].image.shape == (480, 640, 3)


@pytest.mark.parametrize("holdoff", [-1.0])
def test_bad_holdoff_is_refused(holdoff: float) -> None:
    with pytest.raises(ValueError):
        CameraPipeline(CaptureSource("/dev/null"), ChainDecoder(), holdoff=holdoff)
