"""Issue 13, code sources: each source says what it is (`kind`), how its device is (`health()`) and whether it has
ended; the checkpoint asks them and nothing else; preview frames go from the camera pipeline to the screen's
buffer as the wiring connects them, never through the checkpoint; no import cycle in the scanner or the UI.

Expected words and numbers come from the issue and from the tests' own devices (a port path made here, a
video of a known number of frames), never from the modules under test. Every wait has a generous hang guard.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kiosk import demo
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.wiring import code_sources
from kiosk.config import load_config
from kiosk.policy import Policy
from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.preview_buffer import FrameBuffer
from kiosk.scanner.serial_scanner import SerialScanner
from kiosk.scanner.synth import Look, render_frame, write_video
from kiosk.scanner.types import CodeSource, Frame, ScanHandler, SourceHealth
from kiosk.trustdir import load_trust_dir

ROOT = Path(__file__).resolve().parents[1]
GUARD = 60.0  # seconds: a hang guard for two loaded cores, never a speed limit


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def video(tmp_path: Path, frames: int) -> Path:
    path = tmp_path / "street.avi"
    write_video(path, [render_frame(None, Look(size=(320, 240)), seed) for seed in range(frames)], 30)
    return path


def checkpoint_over(sources: list[CodeSource]) -> Checkpoint:
    return Checkpoint(CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy(), sources))


# -- health ---------------------------------------------------------------------------------------------------


def test_a_serial_scanner_on_a_port_that_is_not_there_says_it_cannot_open_it(tmp_path: Path) -> None:
    port = tmp_path / "ttyACM5"  # nothing there
    scanner = SerialScanner(str(port), reconnect_every=30)
    assert scanner.kind == "serial"
    assert not scanner.health().tried  # not started: it has not tried the port
    scanner.start(lambda scan: None)
    try:
        wait_for(lambda: scanner.health().tried, "the scanner's first try")
        health = scanner.health()
        assert (health.state, health.cannot_open, health.target, health.retry_every) == \
            ("disconnected", "no such file or directory", str(port), 30)
        assert not scanner.ended  # a port is waited for, never done
    finally:
        scanner.stop()


def test_a_serial_scanner_that_opened_says_ok_and_nothing_about_opening() -> None:
    scanner = SerialScanner("loop://", reconnect_every=30)  # pyserial's loopback: always opens
    scanner.start(lambda scan: None)
    try:
        wait_for(lambda: scanner.health().tried, "the loopback port")
        health = scanner.health()
        assert (health.state, health.cannot_open) == ("ok", None)
    finally:
        scanner.stop()


def test_a_camera_that_is_not_there_says_why_it_cannot_open_it_and_when_it_tries_again() -> None:
    camera = CameraPipeline(CaptureSource("/dev/video-not-here", reconnect_every=7), ChainDecoder())
    assert camera.kind == "camera"
    assert not camera.health().tried  # not started: it has not tried the device
    camera.start(lambda scan: None)
    try:
        wait_for(lambda: camera.health().tried, "the camera's first try")
        health = camera.health()
        assert (health.state, health.cannot_open, health.target, health.retry_every) == \
            ("lost", "no such device", "/dev/video-not-here", 7)
        assert not camera.ended  # a camera that is not there is waited for
    finally:
        camera.stop()


def test_a_video_read_to_its_end_has_ended_and_so_has_a_checkpoint_with_no_other_source(tmp_path: Path) -> None:
    camera = CameraPipeline(CaptureSource(str(video(tmp_path, 4))), ChainDecoder(), latest_wins=False)
    checkpoint = checkpoint_over([camera])
    assert not camera.ended and not checkpoint.ended  # not started: nothing has been read yet
    checkpoint.open_devices()
    try:
        wait_for(lambda: checkpoint.ended, "the end of the video")
        assert camera.ended and camera.health().state == "ended"
    finally:
        checkpoint.stop()


def test_a_checkpoint_with_a_serial_scanner_beside_the_video_does_not_end(tmp_path: Path) -> None:
    camera = CameraPipeline(CaptureSource(str(video(tmp_path, 2))), ChainDecoder(), latest_wins=False)
    scanner = SerialScanner(str(tmp_path / "ttyACM6"), reconnect_every=30)
    checkpoint = checkpoint_over([camera, scanner])
    checkpoint.open_devices(settle=30)  # until both have tried their device: the scanner's thread may be slow
    try:
        wait_for(lambda: camera.ended, "the end of the video")
        assert not checkpoint.ended  # the scanner may still bring codes
        line = dict(checkpoint.devices().unopened)["scanner"]
        assert line == f"2D scanner {tmp_path / 'ttyACM6'}: cannot be opened (no such file or directory); " \
                       "retrying every 30 s"
    finally:
        checkpoint.stop()


class BorrowedScanner:
    """A code source of a class the checkpoint has never heard of: it is known by what it says, not by its name."""

    kind = "serial"
    ended = False

    def __init__(self, health: SourceHealth) -> None:
        self.said = health

    def health(self) -> SourceHealth:
        return self.said

    def start(self, on_scan: ScanHandler) -> None:
        pass

    def stop(self) -> None:
        pass


def test_the_checkpoint_shows_what_a_source_says_whatever_its_class() -> None:
    unplugged = BorrowedScanner(SourceHealth("disconnected", True, "permission denied", "/dev/ttyACM0", 4))
    checkpoint = checkpoint_over([unplugged])
    try:
        states = checkpoint.open_devices(settle=GUARD)  # returns at once: the source has tried
        assert (states.camera, states.scanner) == (None, "disconnected")
        assert states.unopened == (
            ("scanner", "2D scanner /dev/ttyACM0: cannot be opened (permission denied); retrying every 4 s"),)
        unplugged.said = SourceHealth("ok", True)
        assert checkpoint.devices().scanner == "ok" and checkpoint.devices().unopened == ()
        assert not checkpoint.ended
    finally:
        checkpoint.stop()


def test_a_checkpoint_without_sources_never_ends_by_itself() -> None:
    checkpoint = checkpoint_over([])  # codes typed by a keyboard-wedge scanner only: no source to end
    checkpoint.open_devices()
    try:
        assert not checkpoint.ended
    finally:
        checkpoint.stop()


# -- preview frames -------------------------------------------------------------------------------------------


def test_the_wiring_connects_the_camera_to_the_preview_buffer_and_the_checkpoint_keeps_out(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[scanner]\ncamera = "{video(tmp_path, 5)}"\n')
    preview = FrameBuffer()
    sources = code_sources(load_config(config), preview=preview)
    assert [source.kind for source in sources] == ["camera"]
    checkpoint = checkpoint_over(sources)
    checkpoint.open_devices()  # starts the sources: the checkpoint must not take their frames for itself
    try:
        wait_for(lambda: checkpoint.ended, "the end of the video")
        frame = preview.latest()
        assert isinstance(frame, Frame) and frame.index == 4  # the last of the five frames, as the camera gave it
        assert frame.image.shape[:2] == (240, 320)
    finally:
        checkpoint.stop()


def test_the_preview_buffer_hands_the_newest_frame_across_threads() -> None:
    preview = FrameBuffer()
    assert preview.latest() is None
    image = np.zeros((24, 32, 3), np.uint8)
    done = threading.Event()

    def camera() -> None:
        for index in range(500):
            preview.put(Frame(image, index, time.monotonic()))
        done.set()

    threading.Thread(target=camera, daemon=True).start()
    seen = []
    while not done.is_set():
        frame = preview.latest()
        if frame is not None:
            seen.append(frame.index)
    assert seen == sorted(seen)  # never an older frame after a newer one
    assert preview.latest() is not None and preview.latest().index == 499  # type: ignore[union-attr]


# -- the shape of the code ------------------------------------------------------------------------------------


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The kiosk modules a file imports, anywhere in it (at the top, in a function, under TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found.update(name for name in names if name in modules)
    return found


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other, round a circle (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_of_the_scanner_or_the_ui_is_in_an_import_cycle_or_over_300_lines() -> None:
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts): p for p in (ROOT / "kiosk").rglob("*.py")
             if p.name != "__init__.py"}
    graph = {module: imports_of(path, set(files)) - {module} for module, path in files.items()}
    assert graph["kiosk.ui.kioskapp"] >= {"kiosk.ui.frames"}  # the reader sees what it must
    mine = ("kiosk.ui.", "kiosk.scanner.", "kiosk.checkpoint.devices")
    circles = [sorted(group) for group in cycles(graph) if any(m.startswith(mine) for m in group)]
    assert circles == []
    long = {module: n for module, path in files.items() if module.startswith(mine)
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > 300}
    assert long == {}
