"""Every `kiosk demo` variant, run as a newcomer runs it: the installed command, in its own process.

`kiosk demo`, `kiosk demo --bus`, and both again with `--screenshots DIR`
(the touchscreen, drawn offscreen). Each must exit 0 having given every person
in its queue the verdict the queue expects. The expected reasons and screen
colours are this file's own, from the spec and the README: at a door the
thermometer adds fever, no reading and an implausible reading to what a code
decides; a bus has no thermometer, so its queue holds only what a bus driver
meets; PASS is green, DENY red, RETRY amber.

Kivy makes one window per process: the touchscreen variants open theirs in the
demo's own process, never in a pytest worker, so they cannot clash with the
in-process UI tests (tests/test_ui.py) and need no xdist group. Each demo
plays its video in real time, mostly waiting: in one pytest process they all
start together and take as long as the longest rather than the sum; under
pytest-xdist each starts when its test comes, on whichever worker that is.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
KIOSK = Path(sys.executable).with_name("kiosk")  # the command pip installed beside this interpreter
HANG = 300  # seconds: only against a hang; a run takes 10-40 s
# What a code decides, wherever it is scanned (spec section 5)...
CODE_REASONS = {"ok", "status_amber", "status_red", "too_old", "expired", "key_revoked", "unknown_key",
                "bad_signature", "not_health_code", "malformed",
                "test_positive", "wrong_key_usage", "key_expired"}  # and the EU travellers' (HC1)
# ...and what only a thermometer adds: none of it on a bus.
THERMOMETER_REASONS = {"fever", "temperature_missing", "temperature_implausible"}
DOOR_PEOPLE, BUS_PEOPLE = 21, 18  # the bus: the door's queue less the three who were there for the thermometer
# Each variant at its fastest: at the door people take 1.2 s to step up to the thermometer, a bus has none.
DOOR_PACE, BUS_PACE = "1.6", "0.8"
DOOR_SCREEN, BUS_SCREEN = (1280, 800), (1024, 600)  # a 10" kiosk panel; the README's bus tablet
VARIANTS = ["door", "bus", "door-screenshots", "bus-screenshots"]
ROW = re.compile(r"^ ?\d+  (PASS |DENY |RETRY)  (\w+) +(.*)$", re.M)
SUMMARY = re.compile(r"^(\d+) people, (\d+) codes read, (\d+) unexpected verdicts$", re.M)
THERMOMETER_WORDS = re.compile(r"pseudo-terminal|simulat|measured", re.I)
PNG = b"\x89PNG\r\n\x1a\n"


def arguments(variant: str, folder: Path) -> list[str]:
    bus = variant.startswith("bus")
    args = ["--bus", "--pace", BUS_PACE] if bus else []  # the door at its defaults: a newcomer's first run
    if variant.endswith("screenshots"):
        args += ["--screenshots", str(folder / "shots")] + ([] if bus else ["--pace", DOOR_PACE])
    return args


class Demo:
    """`kiosk demo ARGS` from the checkout, on a machine with no display (a server, CI), sound to nowhere."""

    def __init__(self, folder: Path, variant: str) -> None:
        assert KIOSK.is_file(), f"{KIOSK} missing: the package is not installed in this environment"
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIOSK_CONFIG")}
        home = folder / "home"
        env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), KIVY_HOME=str(home / "kivy"),
                   SDL_AUDIODRIVER="dummy")  # the verdict sounds are made and played, and nobody hears them
        self.folder = folder
        self.out, self.err = (folder / "stdout").open("w+"), (folder / "stderr").open("w+")  # files: no pipe fills
        self.process = subprocess.Popen([str(KIOSK), "demo", *arguments(variant, folder)], cwd=ROOT, env=env,
                                        stdout=self.out, stderr=self.err, text=True)

    def result(self) -> tuple[str, str]:
        """Its standard output and error, once it has exited 0."""
        code = self.process.wait(timeout=HANG)
        self.out.seek(0)
        self.err.seek(0)
        stdout, stderr = self.out.read(), self.err.read()
        assert code == 0, f"exit {code}\n{stdout[-3000:]}\n{stderr[-3000:]}"
        return stdout, stderr

    def close(self) -> None:
        if self.process.poll() is None:  # a test that failed before waiting: its demo goes with it
            self.process.kill()
            self.process.wait()
        self.out.close()
        self.err.close()


class Demos:
    """The module's demo processes, started on first need and all killed at its end."""

    def __init__(self, folders: pytest.TempPathFactory, chosen: list[str]) -> None:
        self.folders, self.chosen = folders, chosen
        self.started: dict[str, Demo] = {}

    def get(self, variant: str) -> Demo:
        # Which of a module's tests an xdist worker will run is not known beforehand: start only this one there.
        wanted = [variant] if os.environ.get("PYTEST_XDIST_WORKER") else [*self.chosen, variant]
        for name in wanted:
            if name not in self.started:
                self.started[name] = Demo(self.folders.mktemp(name), name)
        return self.started[variant]


@pytest.fixture(scope="module")
def demos(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demos]:
    """The selected variants' demos."""
    chosen = [item.callspec.params["variant"] for item in request.session.items
              if item.module is request.module and "variant" in getattr(getattr(item, "callspec", None), "params", {})]
    demos = Demos(tmp_path_factory, chosen)
    try:
        yield demos
    finally:
        for demo in demos.started.values():
            demo.close()


def verdicts(stdout: str, people: int) -> list[tuple[str, str, str]]:
    """The table's rows (verdict, reason, the rest), once the summary says every person got what was expected."""
    assert SUMMARY.findall(stdout) == [(str(people), str(people), "0")], stdout[-2000:]
    assert re.search(r"^audit log: \d+ events, chain verifies$", stdout, re.M), stdout[-500:]
    rows = [(verdict.strip(), reason, rest) for verdict, reason, rest in ROW.findall(stdout)]
    assert len(rows) == people, stdout[-2000:]
    return rows


def screen(path: Path, size: tuple[int, int]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A screenshot's pixels (RGB), once its bytes say it is a PNG of the screen's size."""
    import cv2

    data = path.read_bytes()
    assert data[:8] == PNG and data[12:16] == b"IHDR", f"{path.name} is not a PNG"
    assert struct.unpack(">II", data[16:24]) == size, path.name
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None and pixels.shape == (size[1], size[0], 3), path.name
    return np.ascontiguousarray(pixels[:, :, ::-1])


def dominant(pixels: np.ndarray[Any, np.dtype[np.uint8]]) -> tuple[tuple[int, int, int], float]:
    """The most common colour and the share of the screen it covers."""
    packed = (pixels[..., 0].astype(np.uint32) << 16) | (pixels[..., 1].astype(np.uint32) << 8) | pixels[..., 2]
    values, counts = np.unique(packed, return_counts=True)
    top = int(values[counts.argmax()])
    return ((top >> 16) & 255, (top >> 8) & 255, top & 255), float(counts.max() / packed.size)


def check_screenshots(folder: Path, bus: bool) -> None:
    size = BUS_SCREEN if bus else DOOR_SCREEN
    names = sorted(p.name for p in folder.glob("*.png"))
    shots = {name.split("-", 1)[1].removesuffix(".png"): folder / name for name in names}
    # The scan screen comes first; its status bar may warn at first (the thermometer has no reading yet).
    scans = {"scan", "scan-warnings"}
    assert names and names[0] in {f"01-{scan}.png" for scan in scans}, names
    assert screen(folder / names[0], size).std() > 20  # the camera picture and the words, not an empty frame
    # Each screen the first time it shows; nothing on a bus asks anyone to measure again.
    assert set(shots) - scans == {"verdict-pass", "verdict-deny"} | (set() if bus else {"verdict-retry"})
    # A verdict fills the screen with its colour: PASS's green channel dominates, DENY's red, RETRY is amber.
    wanted = {"verdict-pass": (1, (0, 2)), "verdict-deny": (0, (1, 2)), "verdict-retry": (None, (2,))}
    for name in sorted(set(shots) - scans):
        strong, weak = wanted[name]
        colour, share = dominant(screen(shots[name], size))
        assert share > 0.5, (name, colour, share)
        above = [colour[strong]] if strong is not None else [colour[0], colour[1]]  # amber: red and green
        assert all(high >= colour[low] + 80 for high in above for low in weak), (name, colour)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_kiosk_demo(variant: str, demos: Demos) -> None:
    bus = variant.startswith("bus")
    demo = demos.get(variant)
    stdout, stderr = demo.result()
    rows = verdicts(stdout, BUS_PEOPLE if bus else DOOR_PEOPLE)
    intro = stdout.split("\n\n", 1)[0]
    reasons, words = {reason for _, reason, _ in rows}, {verdict for verdict, _, _ in rows}
    if bus:
        assert f"bus mode (37路 Bus 37): {BUS_PEOPLE} passengers filmed at the bus door, {BUS_PACE} s each" in intro
        assert "no thermometer" in intro
        # Nothing measured, nothing simulated, nothing said to be missing.
        assert not THERMOMETER_WORDS.search(stdout + stderr), THERMOMETER_WORDS.findall(stdout + stderr)
        assert "°C" not in stdout and "no reading" not in stdout
        assert (reasons, words) == (CODE_REASONS, {"PASS", "DENY"})  # what a bus driver sees, all of it
    else:
        assert f"{DOOR_PEOPLE} people filmed at the door, {DOOR_PACE} s each" in intro
        assert "measured by a thermometer on a pseudo-terminal" in intro
        assert (reasons, words) == (CODE_REASONS | THERMOMETER_REASONS, {"PASS", "DENY", "RETRY"})
        assert rows[0][:2] == ("PASS", "ok") and "°C" in rows[0][2]  # measured, then let through
    if variant.endswith("screenshots"):
        check_screenshots(demo.folder / "shots", bus)


def test_a_bus_demo_starts_no_thermometer(tmp_path: Path) -> None:
    from kiosk.checkpoint.demo import build_demo
    from kiosk.demo import bus_queue

    for bus in (True, False):
        with build_demo(tmp_path / str(bus), pace=0.8, people=bus_queue(0)[:1], bus=bus) as demo:
            started = (demo.simulator is not None, demo.checkpoint.devices().thermometer is not None)
            assert started == (not bus, not bus), bus
