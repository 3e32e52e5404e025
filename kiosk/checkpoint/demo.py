"""The built-in demo as a real checkpoint: a filmed queue, the real pipeline, a thermometer on a pty.

The queue (kiosk/demo.py: green, amber, red, expired, forged, screenshot too
old, printed, feverish, ...) is rendered into a video played at its own frame
rate through the camera pipeline, as a camera would deliver it. A thermometer
simulator answers on a pseudo-terminal through the real GY-906 driver and
poller; the demo's frame source tells it who is standing at the door, so each
person's forehead is measured while they step up, and nobody's reading lingers
into the next person's (the demo's reading window is shorter than the gap
between people). Trust comes from keys/demo (DEMO ONLY), events go to a
temporary log.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.audit.recorder import Recorder
from kiosk.audit.settings import LogConfig
from kiosk.audit.store import AuditLog
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.demo import DEMO_DIR, Scan, queue, render_queue
from kiosk.policy import Policy
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.types import Frame
from kiosk.thermometer.simulator import SKIN_BELOW_BODY, Simulator
from kiosk.thermometer.types import Sample
from kiosk.trustdir import load_trust_dir

FPS = 30.0
READING_WINDOW = 0.8  # seconds a reading counts: less than the gap between two people
DOORWAY = Sample(21.0, 21.0, 200.0)  # nobody at the door: the wall behind, far too cold to be anyone


@dataclass(frozen=True)
class Slot:
    """Frames per person: stepping up to the thermometer (no code yet), then showing the code."""

    stepping: int
    showing: int

    @property
    def frames(self) -> int:
        return self.stepping + self.showing


def slot_for(pace: float) -> Slot:
    """`pace` seconds a person; the code shows for the last 0.4 s (a glance, as at a real door)."""
    showing = max(6, int(0.4 * FPS))
    return Slot(max(int(pace * FPS) - showing, int(1.2 * FPS)), showing)


def render(people: list[Scan], path: Path, slot: Slot) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return render_queue(people, path, FPS, slot.stepping, slot.showing)


class DoorFrames:
    """The video as the camera: each frame also tells the simulator who stands at the thermometer."""

    def __init__(self, video: Path, people: list[Scan], slot: Slot, simulator: Simulator) -> None:
        self.inner = CaptureSource(str(video), pace=True)
        self.people, self.slot, self.simulator = people, slot, simulator
        self.live = True  # played at its own pace: latest frame wins, as with a camera

    @property
    def state(self) -> str:
        return str(getattr(self.inner, "state", "ok"))

    def read(self) -> Frame | None:
        frame = self.inner.read()
        if frame is not None:
            number, at = divmod(frame.index, self.slot.frames)
            person = self.people[number] if number < len(self.people) else None
            # Someone who walks past the thermometer gives it nothing to read for their whole turn.
            self.simulator.silent = person is not None and person.reading is None
            if person is not None and person.reading is not None and at >= self.slot.stepping // 2:
                self.simulator.override = _skin(person.reading.celsius)  # measured while stepping up
            else:
                self.simulator.override = DOORWAY
        return frame

    def close(self) -> None:
        self.inner.close()


def _skin(body: float) -> Sample:
    return Sample(round(body - SKIN_BELOW_BODY, 2), 24.0, 30.0)


@dataclass
class Demo:
    checkpoint: Checkpoint
    simulator: Simulator
    people: list[Scan]
    log: AuditLog
    video: Path

    def close(self) -> None:
        self.simulator.stop()


def build_demo(folder: Path, *, pace: float = 1.6, people: list[Scan] | None = None,
               bus: bool = False) -> Demo:
    """A ready checkpoint over the demo queue in `folder` (video, log); start it with checkpoint.start()."""
    from kiosk.scanner.decoders import ChainDecoder
    from kiosk.scanner.pipeline import CameraPipeline
    from kiosk.thermometer.gy906 import Driver as Gy906
    from kiosk.thermometer.poller import ThermometerPoller

    folder.mkdir(parents=True, exist_ok=True)
    people = people if people is not None else list(queue(time.time()))
    slot = slot_for(pace)
    video = render(people, folder / "door.avi", slot)
    simulator = Simulator("gy906", script="steady", emulate_baud=True)
    simulator.override = DOORWAY
    port = simulator.start()
    thermometer = None if bus else ThermometerPoller(port, Gy906(), interval=0.1)
    settings = LogConfig(folder / "audit.db", site="demo", lane="bus 37" if bus else "gate 1", device="demo-kiosk")
    audit = AuditLog(settings.path)
    recorder = Recorder(audit, settings, os.urandom(32))
    frames = DoorFrames(video, people, slot, simulator)
    # The hold-off is shorter than a person's slot: the same code shown twice in a row is two people.
    pipeline = CameraPipeline(frames, ChainDecoder(), holdoff=min(3.0, pace * 0.8), latest_wins=True)
    policy = Policy(reading_window=READING_WINDOW)
    parts = CheckpointParts(DEMO_DIR, load_trust_dir(DEMO_DIR), policy, [pipeline], thermometer, recorder,
                            hold=1.5 if bus else 3.0)
    return Demo(Checkpoint(parts), simulator, people, audit, video)
