"""The camera pipeline's CPU when no code is in view, and how soon it reads one after that.

Goals (issue 12): idle, at most half the CPU the pipeline took before idle mode (every frame
decoded); a code that appears after 20 s with none read within 300 ms of the first frame that
holds it. "Power" here is the process's CPU time over wall time (there is no battery to read).

A rendered 1280x720 video at 30 fps (synth.py's street scenes; codes in random_look's hard but
readable looks) is played at its own pace through CaptureSource, CameraPipeline and ChainDecoder,
as `kiosk run` plays a camera:
1. the street with no code for --quiet seconds: process CPU over the part after the idle time,
   with idle mode off (every frame decoded: before) and on (after); and over the first seconds
   (active, decoding every frame), and with a decoder that does nothing (capture alone);
2. --episodes times: 20 s of street, then a code held out for 2 s: from the moment the source
   handed over the code's first frame to the scan, idle mode on and off.
Run: .venv/bin/python benchmarks/idle.py [--quiet S] [--episodes N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from nacl.signing import SigningKey

from kiosk.issuer import issue_code
from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.idle import IDLE_AFTER, IDLE_FPS, IdleSchedule
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.synth import random_look, render_frame, write_video
from kiosk.scanner.types import Decoder, Frame, Image, Scan

FPS, SIZE = 30, (1280, 720)
STILL = 15  # frames a rendered street picture lasts (0.5 s): the scene changes as people pass


class Nothing:
    """A decoder that does nothing: what capture alone costs."""

    def decode(self, image: Image) -> list[str]:
        return []


class Taken:
    """The source, noting when each frame was taken off it (read, or skipped undecoded)."""

    def __init__(self, source: CaptureSource) -> None:
        self.source = source
        self.taken: list[float] = []

    @property
    def state(self) -> str:
        return self.source.state

    def read(self) -> Frame | None:
        frame = self.source.read()
        if frame is not None:
            self.taken.append(frame.taken_at)
        return frame

    def skip(self) -> bool:
        if ok := self.source.skip():
            self.taken.append(time.monotonic())
        return ok

    def close(self) -> None:
        self.source.close()


def street(rng: np.random.Generator, seconds: float, seed: int) -> list[Image]:
    stills = [render_frame(None, random_look(rng, SIZE), seed=seed + i) for i in range(int(seconds * FPS) // STILL + 1)]
    return [stills[i // STILL] for i in range(int(seconds * FPS))]


def cpu_share(video: Path, decoder: Decoder, idle: IdleSchedule | bool, windows: list[tuple[float, float]]
              ) -> tuple[list[float], CameraPipeline]:
    """Process CPU over wall time in each (start, end) window, in seconds from the start of play."""
    pipeline = CameraPipeline(CaptureSource(str(video), pace=True), decoder, idle=idle, latest_wins=True)
    pipeline.start(lambda scan: None)
    began, shares = time.monotonic(), []
    for start, end in windows:
        time.sleep(max(0.0, began + start - time.monotonic()))
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(max(0.0, began + end - time.monotonic()))
        shares.append((time.process_time() - cpu0) / (time.monotonic() - wall0))
    pipeline.wait_until_done(timeout=600)
    pipeline.stop()
    return shares, pipeline


def wake_up(video: Path, firsts: list[int], texts: list[str], idle: IdleSchedule | bool) -> list[float | None]:
    """Milliseconds from each code's first frame being taken off the source to its scan (None: not read)."""
    source = Taken(CaptureSource(str(video), pace=True))
    scans: dict[str, float] = {}
    lock = threading.Lock()

    def on_scan(scan: Scan) -> None:
        with lock:
            scans.setdefault(scan.text, time.monotonic())

    pipeline = CameraPipeline(source, ChainDecoder(), idle=idle, latest_wins=True)
    pipeline.start(on_scan)
    pipeline.wait_until_done(timeout=600)
    pipeline.stop()
    return [(scans[t] - source.taken[f]) * 1000 if t in scans else None for f, t in zip(firsts, texts, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", type=float, default=30.0, help="seconds of street with no code (part 1)")
    parser.add_argument("--episodes", type=int, default=3, help="codes, each after 20 s of street (part 2)")
    args = parser.parse_args()
    if args.quiet < IDLE_AFTER + 5:
        parser.error(f"--quiet must be at least {IDLE_AFTER + 5:g} s (idle starts after {IDLE_AFTER:g} s)")
    folder = Path(tempfile.mkdtemp(prefix="kiosk-bench-idle-"))
    try:
        rng = np.random.default_rng(12)
        print(f"{os.cpu_count()} cores; {SIZE[0]}x{SIZE[1]} at {FPS} fps, played at its own pace; "
              f"idle after {IDLE_AFTER:g} s with no code, then {IDLE_FPS:g} frames decoded a second")
        quiet = folder / "street.avi"
        write_video(quiet, street(rng, args.quiet, 0), FPS)
        active, idle_part = (1.0, IDLE_AFTER - 0.5), (IDLE_AFTER + 2.0, args.quiet - 0.5)
        print(f"\n(1) {args.quiet:g} s of street, no code: process CPU / wall time "
              f"(active {active[0]:g}-{active[1]:g} s, idle {idle_part[0]:g}-{idle_part[1]:g} s)")
        (alone,), _ = cpu_share(quiet, Nothing(), False, [idle_part])
        print(f"    capture alone (a decoder that does nothing)        {alone * 100:5.1f}% of a core")
        (before,), _ = cpu_share(quiet, ChainDecoder(), False, [idle_part])
        print(f"    before: every frame decoded (idle mode off)        {before * 100:5.1f}% of a core")
        (on_active, after), pipeline = cpu_share(quiet, ChainDecoder(), True, [active, idle_part])
        stats = pipeline.stats
        print(f"    after, first {IDLE_AFTER:g} s (active, every frame decoded) {on_active * 100:5.1f}% of a core")
        print(f"    after, idle                                        {after * 100:5.1f}% of a core "
              f"({after / before:.0%} of before; goal: at most 50%)")
        print(f"        frames {stats.frames}, decoded {stats.decoded}, skipped undecoded {stats.skipped}")

        key, now = SigningKey.generate(), int(time.time())
        texts = [issue_code(key, iss="CN-120000", status=0, iat=now, exp=now + 3600)[0] for _ in range(args.episodes)]
        frames: list[Image] = []
        firsts = []
        for number, text in enumerate(texts):
            frames += street(rng, 20.0, 100 * (number + 1))
            firsts.append(len(frames))
            look = random_look(rng, SIZE)
            frames += [render_frame(text, look, seed=1000 + number + i) for i in range(3)] * (2 * FPS // 3)
        episodes = folder / "episodes.avi"
        write_video(episodes, frames, FPS)
        print(f"\n(2) {len(texts)} codes, each after 20 s of street: first frame of the code -> scan (goal: 300 ms)")
        for name, idle in (("before (idle mode off)", False), ("after (idle mode on)", True)):
            waits = wake_up(episodes, firsts, texts, idle)
            shown = ", ".join("not read" if w is None else f"{w:.0f}" for w in waits)
            read = [w for w in waits if w is not None]
            summary = f"median {statistics.median(read):.0f} ms, max {max(read):.0f} ms" if read else "none read"
            print(f"    {name:<24} {shown} ms   ({summary})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
