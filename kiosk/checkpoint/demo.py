"""The built-in demo as a real checkpoint: a filmed queue, the real pipeline, at the door a thermometer on a pty.

The queue (kiosk/demo.py: green, amber, red, expired, forged, screenshot too
old, printed, feverish, ...) is rendered into a video played at its own frame
rate through the camera pipeline, as a camera would deliver it. At the door a
thermometer simulator answers on a pseudo-terminal through the real GY-906
driver and poller; the demo's frame source tells it who is standing at the
door, so each person's forehead is measured while they step up, and nobody's
reading lingers into the next person's (the demo's reading window is shorter
than the gap between people). On a bus there is no thermometer at all: the
bus's own queue (kiosk.demo.bus_queue), nothing measured, nothing simulated.
Trust comes from keys/demo (DEMO ONLY), events go to a temporary log.
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
from kiosk.demo import DEMO_DIR, Scan, bus_queue, queue, render_queue
from kiosk.policy import Policy
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.types import Frame
from kiosk.thermometer.simulator import SKIN_BELOW_BODY, Simulator
from kiosk.thermometer.types import Sample
from kiosk.trustdir import load_trust_dir

FPS = 30.0
READING_WINDOW = 0.8  # seconds a reading counts: less than the gap between two people
DOORWAY = Sample(21.0, 21.0, 200.0)  # nobody at the door: the wall behind, far too cold to be anyone
VEHICLE = "37路 Bus 37"  # bus mode: the lane of every event and the vehicle on screen


@dataclass(frozen=True)
class Slot:
    """Frames per person: stepping up to the thermometer (no code yet), then showing the code."""

    stepping: int
    showing: int

    @property
    def frames(self) -> int:
        return self.stepping + self.showing

    @property
    def seconds(self) -> float:
        return self.frames / FPS


def slot_for(pace: float, thermometer: bool = True) -> Slot:
    """`pace` seconds a person; the code shows for the last 0.4 s (a glance, as at a real door).

    With a thermometer, stepping up takes at least 1.2 s: longer than the reading window, so the person before
    has left it when the code shows. With none (a bus) there is nothing to wait for but a visible gap."""
    showing = max(6, int(0.4 * FPS))
    least = 1.2 if thermometer else 0.4
    return Slot(max(int(pace * FPS) - showing, int(least * FPS)), showing)


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
    simulator: Simulator | None  # None on a bus: no thermometer to simulate
    people: list[Scan]
    log: AuditLog
    video: Path
    slot: Slot

    def close(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()


def build_demo(folder: Path, *, pace: float = 1.6, people: list[Scan] | None = None,
               bus: bool = False) -> Demo:
    """A ready checkpoint over the demo queue in `folder` (video, log); start it with checkpoint.start()."""
    from kiosk.scanner.decoders import ChainDecoder
    from kiosk.scanner.pipeline import CameraPipeline
    from kiosk.thermometer.gy906 import Driver as Gy906
    from kiosk.thermometer.poller import ThermometerPoller

    folder.mkdir(parents=True, exist_ok=True)
    if people is None:
        people = bus_queue(time.time()) if bus else list(queue(time.time()))
    slot = slot_for(pace, thermometer=not bus)
    video = render(people, folder / ("bus.avi" if bus else "door.avi"), slot)
    simulator: Simulator | None = None
    thermometer: ThermometerPoller | None = None
    frames: DoorFrames | CaptureSource
    if bus:
        frames = CaptureSource(str(video), pace=True)
    else:
        simulator = Simulator("gy906", script="steady", emulate_baud=True)
        simulator.override = DOORWAY
        thermometer = ThermometerPoller(simulator.start(), Gy906(), interval=0.1)
        frames = DoorFrames(video, people, slot, simulator)
    settings = LogConfig(folder / "audit.db", site="demo", lane=VEHICLE if bus else "gate 1", device="demo-kiosk")
    audit = AuditLog(settings.path)
    recorder = Recorder(audit, settings, os.urandom(32))
    # The hold-off is shorter than a person's slot: the same code shown twice in a row is two people.
    pipeline = CameraPipeline(frames, ChainDecoder(), holdoff=min(3.0, slot.seconds * 0.8), latest_wins=True)
    policy = Policy(reading_window=READING_WINDOW)
    parts = CheckpointParts(DEMO_DIR, load_trust_dir(DEMO_DIR), policy, [pipeline], thermometer, recorder,
                            hold=1.5 if bus else 3.0)
    return Demo(Checkpoint(parts), simulator, people, audit, video, slot)
