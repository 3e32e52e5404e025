"""A camera frame's retries have a budget: at most a megapixel of changed copies past zxing-cpp's first
pass, going on in the next frame where this one stopped, so that over a few frames all are tried.

Costs are counted (pixels handed to zxing-cpp, calls to the fallback), never timed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import segno

from kiosk.scanner.decoders import ChainDecoder, ZxingDecoder, read_image
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.retry_budget import RetryBudget
from kiosk.scanner.synth import write_video
from kiosk.scanner.types import FrameReading, Image

BUDGET = 1_000_000  # pixels a frame's retries may read (issue 12: p95 within 10 ms on blurred frames)
PHC1 = "PHC1:" + "6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3" * 5
PHOTOS = Path(__file__).resolve().parent / "data" / "qr-photos"


def unreadable_frame(seed: int = 0) -> Image:
    """A 1280x720 frame with a code whose finder patterns are whole and whose data is noise:
    zxing-cpp locates it, nothing can read it, so the chain tries everything it has."""
    modules = np.array([list(row) for row in segno.make_qr(PHC1, error="m").matrix_iter(scale=1, border=4)], bool)
    code = np.repeat(np.repeat(np.where(modules, 20, 235).astype(np.uint8), 4, 0), 4, 1)
    n, rng = code.shape[0], np.random.default_rng(seed)
    a, b = int(n * 0.3), int(n * 0.7)
    code[a:b, a:b] = rng.integers(0, 2, (b - a, b - a)).astype(np.uint8) * 255
    low = cv2.resize(rng.normal(128, 45, (18, 32)).astype(np.float32), (1280, 720), interpolation=cv2.INTER_CUBIC)
    frame = np.clip(low + rng.normal(0, 5, low.shape), 0, 255).astype(np.uint8)
    frame[100:100 + n, 300:300 + n] = code
    return np.asarray(frame, np.uint8)


class CountingZxing(ZxingDecoder):
    """zxing-cpp, noting the size and options of every pass."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[tuple[int, ...], str]] = []

    def read(self, gray: Image, scale: float = 1.0, **options: Any) -> Any:
        self.calls.append((gray.shape, repr(sorted(options.items()))))
        return super().read(gray, scale, **options)


class CountingFallback:
    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def decode(self, image: Image) -> list[str]:
        self.shapes.append(image.shape)
        return []


def chain(**options: Any) -> tuple[ChainDecoder, CountingZxing, CountingFallback]:
    zxing, fallback = CountingZxing(), CountingFallback()
    return ChainDecoder(primary=zxing, fallbacks=[fallback], **options), zxing, fallback


def streak(decoder: ChainDecoder, zxing: CountingZxing, image: Image, limit: int = 100) -> list[list[Any]]:
    """read_frame on `image` frame after frame, as the pipeline does, until the rotation starts over:
    the zxing-cpp passes past the first of each frame."""
    frames, resume = [], 0
    for _ in range(limit):
        zxing.calls.clear()
        reading = decoder.read_frame(image, resume)
        assert reading.texts == [] and reading.seen  # located, not read
        frames.append(list(zxing.calls[1:]))
        resume = reading.resume
        if resume == 0:
            return frames
    raise AssertionError(f"the rotation never came round in {limit} frames")


def pixels(calls: list[Any]) -> int:
    return sum(int(np.prod(shape)) for shape, _ in calls)


def test_a_blurred_frame_reads_at_most_a_megapixel_past_the_first_pass() -> None:
    decoder, zxing, _ = chain()
    image = unreadable_frame()
    decoder.decode(image)
    everything = pixels(zxing.calls[1:])
    assert everything > 3 * BUDGET  # one picture gets it all: what a camera frame could not afford
    frames = streak(decoder, zxing, image)
    for calls in frames:
        # within the budget, or one attempt alone (every frame gets on, however big the attempt)
        assert pixels(calls) <= BUDGET or len(calls) == 1, [c[0] for c in calls]
    assert len(frames) >= 3


def test_over_a_few_frames_every_retry_is_tried_once_in_the_order_one_picture_tries_them() -> None:
    image = unreadable_frame(1)
    decoder, zxing, fallback = chain()
    decoder.decode(image)
    whole, whole_fallback = zxing.calls[1:], list(fallback.shapes)
    assert len(whole) >= 15 and len(whole_fallback) == 1  # the retries, the three views, then pyzbar
    decoder, zxing, fallback = chain()
    frames = streak(decoder, zxing, image)
    assert [call for calls in frames for call in calls] == whole
    assert fallback.shapes == whole_fallback  # pyzbar, the last, once: in the last frame of the round
    assert len(frames) >= 3


def test_a_picture_on_its_own_still_gets_every_retry() -> None:
    decoder, zxing, fallback = chain(frame_pixels=1)
    decoder.decode(unreadable_frame(2))
    assert len(zxing.calls) >= 16 and len(fallback.shapes) == 1  # decode: no budget, whatever frame_pixels says


@pytest.mark.parametrize("limit", [0, -5])
def test_a_budget_under_one_pixel_is_refused(limit: int) -> None:
    with pytest.raises(ValueError):
        ChainDecoder(frame_pixels=limit)
    with pytest.raises(ValueError):
        RetryBudget(limit)


class Rotating:
    """A frame decoder that sees a code it cannot read, and says the next frame goes on 3 attempts later."""

    def __init__(self) -> None:
        self.resumes: list[int] = []

    def decode(self, image: Image) -> list[str]:
        return []

    def read_frame(self, image: Image, resume: int = 0) -> FrameReading:
        self.resumes.append(resume)
        return FrameReading([], True, (resume + 3) % 9)


def still_video(tmp_path: Path, image: Image, count: int) -> Path:
    path = tmp_path / "still.avi"
    write_video(path, [image] * count, 30)
    return path


def test_the_pipeline_carries_the_rotation_from_frame_to_frame(tmp_path: Path) -> None:
    decoder = Rotating()
    pipeline = CameraPipeline(CaptureSource(str(still_video(tmp_path, unreadable_frame(), 8))), decoder,
                              latest_wins=False)
    pipeline.start(lambda scan: None)
    assert pipeline.wait_until_done(timeout=60)
    pipeline.stop()
    assert decoder.resumes == [0, 3, 6, 0, 3, 6, 0, 3]


def test_a_camera_held_on_an_unreadable_code_gets_to_the_last_fallback(tmp_path: Path) -> None:
    """Through the real pipeline and chain: the first frame alone never reaches pyzbar; a second of them does."""
    decoder, _, fallback = chain()
    decoder.read_frame(unreadable_frame())
    assert fallback.shapes == []
    decoder, _, fallback = chain()
    pipeline = CameraPipeline(CaptureSource(str(still_video(tmp_path, unreadable_frame(), 30))), decoder,
                              latest_wins=False)
    pipeline.start(lambda scan: None)
    assert pipeline.wait_until_done(timeout=60)
    pipeline.stop()
    assert pipeline.stats.decoded == 30 and len(fallback.shapes) >= 1


def test_a_camera_reads_the_real_photos_within_a_third_of_a_second() -> None:
    """Each photo held before the camera for 10 frames (30 fps): read as when one picture gets every retry:
    all but qrcode-2/13, whose text file does not hold what the printed code says (the folder's README)."""
    assert PHOTOS.is_dir(), f"the real photos are missing: {PHOTOS}"
    pairs = [(png, png.with_suffix(".txt")) for png in sorted(PHOTOS.rglob("*.png"))]
    pairs = [(png, txt) for png, txt in pairs if txt.exists()]
    assert len(pairs) >= 90
    decoder, missed, frames_needed = ChainDecoder(), [], []
    for png, txt in pairs:
        expected, image, resume = txt.read_bytes().decode("utf-8"), read_image(png), 0
        either = png.parent.name == "qrcode-2" and png.stem == "16"  # two codes: either text counts
        for frame in range(10):
            reading = decoder.read_frame(image, resume)
            resume = reading.resume
            if expected in reading.texts or (either and reading.texts):
                frames_needed.append(frame + 1)
                break
        else:
            missed.append(str(png.relative_to(PHOTOS)))
    assert missed == ["qrcode-2/13.png"]
