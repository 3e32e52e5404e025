"""The decoder chain's time on frames too blurred to read, with and without a frame's retry budget.

Goal (issue 12): p95 at most 10 ms a frame on such frames (a frame lasts 33 ms at 30 fps), with
the real photos still read as before. The frames are rendered 1280x720 codes (random_look) blurred
past what random_look draws (0.4-0.8 of a module), kept when zxing-cpp locates the code but cannot
read it: the frames on which the chain spends its retries. Each is decoded
- as one picture (`decode`: every retry, view and fallback, as the camera did before), and
- as a camera sees it: the code held still for --hold frames (fresh sensor noise each), through
  `read_frame` with the rotation a camera pipeline keeps (a few attempts a frame, then on).
The real photos (N.png with its text in N.txt) go through the same two ways.
Times are the decoding thread's CPU time (time.thread_time: on a shared machine, time other
processes take the core from it is not the decoder's); wall-clock p95 follows in brackets.
Run: .venv/bin/python benchmarks/blurred.py [PHOTO_FOLDER] [--frames N] [--hold F]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from nacl.signing import SigningKey

from kiosk.errors import ImageError
from kiosk.issuer import issue_code
from kiosk.scanner.decoders import FRAME_PIXELS, ChainDecoder, ZxingDecoder, read_image
from kiosk.scanner.fallbacks import as_gray
from kiosk.scanner.synth import code_quad, random_look, render_frame
from kiosk.scanner.types import Image

PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "data" / "qr-photos"
EITHER = {("qrcode-2", "16")}  # a code inside another code: either text counts (see the folder's README)


def blurred_frames(count: int) -> list[tuple[Image, list[str]]]:
    """`count` rendered frames whose code zxing-cpp locates but cannot read."""
    key, now = SigningKey.generate(), int(time.time())
    rng, zxing, found = np.random.default_rng(2025), ZxingDecoder(), []
    for seed in range(100 * count):
        text = issue_code(key, iss="CN-120000", status=0, iat=now, exp=now + 3600)[0]
        look = random_look(rng)
        quad = code_quad(look)
        pitch = float(np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1).min()) / 61  # 53 modules + quiet zone
        look = replace(look, blur=float(rng.uniform(0.4, 0.8)) * pitch, motion_blur=0.0)
        image = render_frame(text, look, 7000 + seed)
        gray = as_gray(image)
        assert gray is not None
        texts, seen = zxing.read(gray)
        if not texts and seen:
            found.append((image, [text]))
            if len(found) == count:
                break
    return found


def photos(folder: Path) -> list[tuple[Image, list[str]]]:
    """Each photo with the texts that count as read."""
    items = []
    for png in sorted(folder.rglob("*.png"), key=lambda p: (str(p.parent), len(p.stem), p.stem)):
        txt = png.with_suffix(".txt")
        if txt.exists():
            try:
                image = read_image(png)
            except ImageError as err:
                print(f"skipped: {err}", file=sys.stderr)
                continue
            either = (png.parent.name, png.stem) in EITHER
            items.append((image, ["*"] if either else [txt.read_bytes().decode("utf-8")]))
    return items


def is_read(expected: list[str], texts: list[str]) -> bool:
    return bool(texts) if expected == ["*"] else expected[0] in texts


def p95(times: list[float]) -> float:
    return float(np.percentile(times, 95))


class Timer:
    """CPU and wall milliseconds of what runs inside `with timer:`, appended to cpu and wall."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def __enter__(self) -> None:
        self._started = time.thread_time(), time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.cpu.append((time.thread_time() - self._started[0]) * 1000)
        self.wall.append((time.perf_counter() - self._started[1]) * 1000)

    def line(self) -> str:
        return (f"median {statistics.median(self.cpu):6.2f}   p95 {p95(self.cpu):6.2f}   max {max(self.cpu):6.2f} ms"
                f"   [wall p95 {p95(self.wall):6.2f}]")


def as_one_picture(items: list[tuple[Image, list[str]]]) -> tuple[int, Timer]:
    decoder, read, timer = ChainDecoder(), 0, Timer()
    decoder.decode(items[0][0])  # warm up: the first call loads libraries
    for image, expected in items:
        with timer:
            texts = decoder.decode(image)
        read += is_read(expected, texts)
    return read, timer


def as_a_camera(items: list[tuple[Image, list[str]]], hold: int) -> tuple[list[int], Timer, Timer]:
    """Each image held `hold` frames: how many were read by frame 1..hold; times of first frames, of every frame."""
    decoder, rng = ChainDecoder(), np.random.default_rng(5)
    decoder.read_frame(items[0][0])
    read_by = [0] * hold
    first, every = Timer(), Timer()
    for image, expected in items:
        resume = 0  # a new person: the pipeline's rotation starts over after a frame with no code
        for frame in range(hold):
            noisy = image if frame == 0 else np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
            with first if frame == 0 else every:
                reading = decoder.read_frame(noisy, resume)
            resume = reading.resume
            if is_read(expected, reading.texts):
                for later in range(frame, hold):
                    read_by[later] += 1
                break
    return read_by, first, every


def report(name: str, items: list[tuple[Image, list[str]]], hold: int) -> None:
    n = len(items)
    read, timer = as_one_picture(items)
    print(f"{name}: {n}")
    print(f"  one picture, every retry (decode; the camera before): read {read}/{n}")
    print(f"      a frame   {timer.line()}")
    read_by, first, later = as_a_camera(items, hold)
    marks = sorted({m for m in (1, 2, 3, 10, hold) if m <= hold})
    print(f"  a camera, retries within {FRAME_PIXELS / 1e6:g} megapixels a frame (read_frame): read by frame "
          + ", ".join(f"{m}: {read_by[m - 1]}" for m in marks) + f" of {n}")
    print(f"      first frames   {first.line()}")
    if later.cpu:
        print(f"      later frames   {later.line()}   ({len(later.cpu)} frames: the code still held, not yet read)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=PHOTOS, help=f"real photos (default {PHOTOS})")
    parser.add_argument("--frames", type=int, default=60, help="blurred frames")
    parser.add_argument("--hold", type=int, default=30, help="frames a code is held before the camera (30: 1 s)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as read_rate.py
    print("one core; goal: p95 <= 10 ms a frame on blurred frames, photos read as before\n")
    started = time.perf_counter()
    frames = blurred_frames(args.frames)
    print(f"(rendered in {time.perf_counter() - started:.0f} s)")
    report("blurred 1280x720 frames, the code located but not read by zxing-cpp", frames, args.hold)
    if args.folder.is_dir():
        report(f"real photos under {args.folder}", photos(args.folder), args.hold)
    else:
        print(f"no photos at {args.folder}")


if __name__ == "__main__":
    main()
