"""The touchscreen's speed: frame to verdict on screen, frame rate under load, start to ready.

Goals: (1) a verdict on screen within 100 ms of the camera frame that holds the
code; (2) the UI at 30 fps or more while the camera pipeline decodes 1280x720
at full rate; (3) ready to scan within 5 s of process start.

Each part runs in its own process (Kivy makes one window a process), offscreen
unless there is a display, through run_ui's own app and main loop: a rendered
video of a queue played at 30 fps through CaptureSource, CameraPipeline and the
checkpoint (trust keys/demo, a real audit log). "On screen" is the first drawn
frame of the verdict screen, finished (glFinish) before the buffers swap.
Run: .venv/bin/python benchmarks/ui.py [PEOPLE]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FPS, SIZE = 30, (1280, 720)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def queue_video(folder: Path, people: int, *, codes: bool = True) -> tuple[Path, int]:
    """A 1280x720 video of `people` stepping up (0.5 s) and holding out their code (0.5 s)."""
    import numpy as np

    from kiosk import demo
    from kiosk.scanner.synth import random_look, render_frame, write_video

    texts = [p.text for p in demo.queue(time.time())]
    while len(texts) < people:
        texts += [p.text for p in demo.queue(time.time() + len(texts))]  # new codes: new signatures
    rng = np.random.default_rng(7)
    frames = []
    for number, text in enumerate(texts[:people]):
        frames += [render_frame(None, random_look(rng, SIZE), seed=number)] * 15
        look = random_look(rng, SIZE)
        frames += [render_frame(text if codes else None, look, seed=1000 + number + i) for i in range(3)] * 5
    path = folder / ("queue.avi" if codes else "street.avi")
    write_video(path, frames, FPS)
    return path, len(frames)


def checkpoint_over(video: Path, folder: Path) -> tuple[Any, Any, Any]:
    from kiosk import demo
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import LogConfig
    from kiosk.audit.store import AuditLog
    from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
    from kiosk.policy import Policy
    from kiosk.scanner.decoders import ChainDecoder
    from kiosk.scanner.frames import CaptureSource
    from kiosk.scanner.pipeline import CameraPipeline
    from kiosk.scanner.preview_buffer import FrameBuffer
    from kiosk.trustdir import load_trust_dir

    log = LogConfig(folder / "audit.db", site="bench", lane="1", device="bench")
    preview = FrameBuffer()  # the screen's camera picture, connected as the wiring does
    pipeline = CameraPipeline(CaptureSource(str(video), pace=True), ChainDecoder(), latest_wins=True,
                              on_frame=preview.put)
    parts = CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy(), [pipeline], None,
                            Recorder(AuditLog(log.path), log, os.urandom(32)), hold=3.0)
    return Checkpoint(parts), pipeline, preview


def part_latency(people: int) -> dict[str, Any]:
    from kiosk.checkpoint.settings import KioskSettings
    from kiosk.ui.app import make_app

    folder = Path(tempfile.mkdtemp(prefix="kiosk-bench-ui-"))
    video, frames = queue_video(folder, people)
    checkpoint, pipeline, preview = checkpoint_over(video, folder)
    app = make_app(checkpoint, KioskSettings(fullscreen=False, sound=False), None, exit_when_ended=True,
                   preview=preview)
    try:
        app.run()
    finally:
        app.shutdown()
        checkpoint.stop()
    shown = [{"decided_ms": s.view.ms, "ui_ms": (s.drawn - s.received) * 1000} for s in app.shown]
    return {"people": people, "frames": frames, "verdicts": checkpoint.verdicts, "shown": shown,
            "decoded": pipeline.stats.decoded, "dropped": pipeline.stats.dropped}


def part_fps(seconds: float) -> dict[str, Any]:
    from kiosk.checkpoint.settings import KioskSettings
    from kiosk.ui.app import make_app

    folder = Path(tempfile.mkdtemp(prefix="kiosk-bench-ui-"))
    video, frames = queue_video(folder, max(2, int(seconds)), codes=False)  # no codes: the preview stays up
    checkpoint, pipeline, preview = checkpoint_over(video, folder)
    app = make_app(checkpoint, KioskSettings(fullscreen=False, sound=False), None, exit_when_ended=True,
                   preview=preview)
    from kivy.clock import Clock  # type: ignore[import-untyped]  # after make_app: Kivy's environment is set

    marks: dict[str, Any] = {}

    def start_counting(dt: float) -> None:  # after a second of warming up
        marks.update(t=time.monotonic(), flips=app.hooks.frames, uploads=app.screen("scan").ids.preview.uploads,
                     decoded=pipeline.stats.decoded, cpu=time.process_time())

    def stop_counting(dt: float) -> None:
        elapsed = time.monotonic() - marks["t"]
        marks.update(elapsed=elapsed, flips=(app.hooks.frames - marks["flips"]) / elapsed,
                     uploads=(app.screen("scan").ids.preview.uploads - marks["uploads"]) / elapsed,
                     decoded=(pipeline.stats.decoded - marks["decoded"]) / elapsed,
                     cpu=(time.process_time() - marks["cpu"]) / elapsed,
                     status_ms=app.poller.last_ms if app.poller else None)

    Clock.schedule_once(start_counting, 1.0)
    Clock.schedule_once(stop_counting, frames / FPS - 0.5)
    try:
        app.run()
    finally:
        app.shutdown()
        checkpoint.stop()
    return marks


def part_ready() -> None:
    """Runs in a fresh process: from here, the import of everything to the scan screen's first frame."""
    from kiosk import demo
    from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
    from kiosk.checkpoint.settings import KioskSettings
    from kiosk.policy import Policy
    from kiosk.trustdir import load_trust_dir
    from kiosk.ui.app import run_ui

    checkpoint = Checkpoint(CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy()))

    def ready() -> None:
        from kivy.app import App  # type: ignore[import-untyped]

        print(json.dumps({"ready": time.monotonic()}), flush=True)
        App.get_running_app().stop()

    run_ui(checkpoint, KioskSettings(fullscreen=False, sound=False), None, on_ready=ready)


def child(kivy_home: str, *args: str) -> dict[str, Any]:
    env = dict(os.environ, KIVY_HOME=kivy_home)  # shared: Kivy writes its config.ini once, not in every run
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{args} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    people = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    home = tempfile.mkdtemp(prefix="kiosk-bench-kivy-")
    print(f"{os.cpu_count()} cores; {'a display' if os.environ.get('DISPLAY') else 'offscreen (Mesa llvmpipe)'}")

    result = child(home, "--part", "latency", str(people))
    total = [s["decided_ms"] + s["ui_ms"] for s in result["shown"]]
    ui = [s["ui_ms"] for s in result["shown"]]
    decided = [s["decided_ms"] for s in result["shown"]]
    print(f"\n(1) frame -> verdict on screen, {result['people']} people in a {SIZE[0]}x{SIZE[1]} video at {FPS} fps "
          f"({result['frames']} frames, {result['verdicts']} verdicts, {len(total)} drawn)")
    print(f"    total            median {statistics.median(total):6.1f} ms   p95 {percentile(total, .95):6.1f} ms   "
          f"max {max(total):6.1f} ms   (goal: within 100 ms)")
    print(f"    of it: decode, decide, log   median {statistics.median(decided):5.1f} ms   "
          f"p95 {percentile(decided, .95):5.1f} ms")
    print(f"    of it: to the UI and drawn   median {statistics.median(ui):5.1f} ms   "
          f"p95 {percentile(ui, .95):5.1f} ms")

    fps = child(home, "--part", "fps", "10")
    print(f"\n(2) the scan screen while the pipeline decodes {SIZE[0]}x{SIZE[1]} at {FPS} fps "
          f"({fps['elapsed']:.1f} s measured)")
    print(f"    frames drawn {fps['flips']:.1f}/s   camera pictures shown {fps['uploads']:.1f}/s   "
          f"frames decoded {fps['decoded']:.1f}/s   (goal: 30/s)")
    print(f"    process CPU {fps['cpu'] * 100:.0f}% of one core (UI, capture, decoding, Mesa's renderer); "
          f"status() {fps['status_ms'] or 0:.1f} ms on its own thread")

    starts = []
    for _ in range(3):
        began = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine
        starts.append(child(home, "--part", "ready")["ready"] - began)
    print(f"\n(3) process start -> ready to scan (the scan screen's first frame), 3 runs: "
          f"{', '.join(f'{s:.2f}' for s in starts)} s   (goal: within 5 s)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--part":
        part = sys.argv[2]
        if part == "latency":
            print(json.dumps(part_latency(int(sys.argv[3]))))
        elif part == "fps":
            print(json.dumps(part_fps(float(sys.argv[3]))))
        else:
            part_ready()
    else:
        main()
