"""Frame sources through the real capture path (cv2.VideoCapture) and real files."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.scanner.frames import CaptureSource, FolderSource, open_source, read_image


def frames(count: int, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """Frames that tell themselves apart: frame i is filled with grey level 10 * i."""
    return [np.full((size[1], size[0], 3), 10 * i, np.uint8) for i in range(count)]


def write_video(path: Path, images: list[np.ndarray], fps: float = 30) -> Path:
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (images[0].shape[1], images[0].shape[0]))
    assert writer.isOpened()
    for image in images:
        writer.write(image)
    writer.release()
    return path


def write_sequence(folder: Path, images: list[np.ndarray]) -> str:
    folder.mkdir(exist_ok=True)
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i:04d}.png"), image)
    return str(folder / "%04d.png")


def drain(source: CaptureSource | FolderSource, limit: int = 1000) -> list[int]:
    """Which frame each one is (its grey level / 10), until the source returns None."""
    numbers = []
    for _ in range(limit):
        frame = source.read()
        if frame is None:
            break
        numbers.append(round(float(frame.image.mean()) / 10))  # lossy codecs shift levels by a few
    return numbers


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_video_file_reads_every_frame_then_ends(tmp_path: Path, suffix: str) -> None:
    source = CaptureSource(str(write_video(tmp_path / f"v{suffix}", frames(12))))
    assert drain(source) == list(range(12))
    assert source.state == "ended" and source.read() is None


def test_image_sequence_through_videocapture(tmp_path: Path) -> None:
    source = open_source(write_sequence(tmp_path / "seq", frames(5)))
    assert drain(source) == [0, 1, 2, 3, 4]
    assert source.state == "ended"


def test_frames_are_numbered_and_timed(tmp_path: Path) -> None:
    source = CaptureSource(write_sequence(tmp_path / "seq", frames(3)))
    got = [source.read() for _ in range(3)]
    assert [f.index for f in got if f] == [0, 1, 2]
    assert all(f and abs(f.taken_at - time.monotonic()) < 5 for f in got)


def test_folder_skips_broken_files(tmp_path: Path) -> None:
    write_sequence(tmp_path / "f", frames(3))
    (tmp_path / "f" / "0001b.png").write_bytes(b"\x89PNG broken")
    (tmp_path / "f" / "0002b.jpg").write_bytes(b"")
    (tmp_path / "f" / "notes.txt").write_text("not an image, not even looked at")
    source = open_source(str(tmp_path / "f"))
    assert isinstance(source, FolderSource)
    assert drain(source) == [0, 1, 2]
    assert source.skipped == 2 and source.state == "ended"


def test_folder_repeat_loops(tmp_path: Path) -> None:
    source = FolderSource(Path(write_sequence(tmp_path / "f", frames(2))).parent, repeat=True)
    assert drain(source, limit=5) == [0, 1, 0, 1, 0]


def test_missing_file_ends_at_once(tmp_path: Path) -> None:
    source = CaptureSource(str(tmp_path / "nope.mp4"))
    assert source.read() is None and source.state == "ended"


def test_camera_that_is_not_there_is_retried_on_schedule() -> None:
    clock = [100.0]
    source = CaptureSource("/dev/video-not-here", reconnect_every=2.0, monotonic=lambda: clock[0])
    assert source.read() is None and source.state == "lost" and source.failures == 1
    clock[0] += 1.0
    assert source.read() is None and source.failures == 1  # not yet time to retry
    clock[0] += 1.5
    assert source.read() is None and source.failures == 2


def wait_for_frame(source: CaptureSource, seconds: float = 3.0) -> np.ndarray | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = source.read()
        if frame is not None:
            return frame.image
        time.sleep(0.01)
    return None


def test_live_source_lost_mid_stream_comes_back_by_itself(tmp_path: Path) -> None:
    # A stream that stops delivering mid-way (the camera unplugged), then one that works again.
    stream = write_video(tmp_path / "stream.avi", frames(3))
    source = CaptureSource(str(stream), live=True, reconnect_every=0.05)
    assert drain(source) == [0, 1, 2]
    assert source.state == "lost"
    assert source.read() is None  # still gone, and nothing raises
    write_video(stream, frames(6)[4:])  # plugged back in: it shows frames 40 and 50
    image = wait_for_frame(source)
    assert image is not None and source.state == "ok" and source.reconnects == 1
    assert round(float(image.mean()) / 10) == 4


def test_camera_missing_at_start_is_picked_up_when_it_appears(tmp_path: Path) -> None:
    device = tmp_path / "video0.avi"
    source = CaptureSource(str(device), live=True, reconnect_every=0.05)
    assert source.read() is None and source.state == "lost"
    write_video(device, frames(2))
    assert wait_for_frame(source) is not None and source.state == "ok"


def test_pace_delivers_a_file_at_its_frame_rate(tmp_path: Path) -> None:
    source = CaptureSource(str(write_video(tmp_path / "v.avi", frames(10), fps=50)), pace=True)
    started = time.monotonic()
    assert len(drain(source)) == 10
    assert time.monotonic() - started >= 9 / 50 * 0.9


def test_read_image_is_quiet_about_bad_files(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.png").write_bytes(b"nope")
    assert read_image(tmp_path / "bad.png") is None
    assert read_image(tmp_path / "missing.png") is None
    assert capfd.readouterr().err == ""
