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
Trust comes from keys/demo (DEMO ONLY), events go to a temporary log; the
checkpoint itself is built by the composition root, as `kiosk run`'s is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.audit.settings import LogConfig
from kiosk.checkpoint.flow import Checkpoint
from kiosk.checkpoint.settings import KioskSettings
from kiosk.closing import ClosedOnExit
from kiosk.config import Config
from kiosk.demo import DEMO_DIR, Person, bus_queue, queue, render_queue
from kiosk.devices_config import ThermometerConfig
from kiosk.policy import Policy
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.preview_buffer import FrameBuffer
from kiosk.scanner.types import Frame
from kiosk.thermometer.simulator import SKIN_BELOW_BODY, Simulator
from kiosk.thermometer.types import Sample

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


def render(people: list[Person], path: Path, slot: Slot) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return render_queue(people, path, FPS, slot.stepping, slot.showing)


class DoorFrames:
    """The video as the camera: each frame also tells the simulator who stands at the thermometer."""

    def __init__(self, video: Path, people: list[Person], slot: Slot, simulator: Simulator) -> None:
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
class Demo(ClosedOnExit):
    """The demo's checkpoint and what it plays; `with build_demo(...) as demo:` stops both on the way out."""

    checkpoint: Checkpoint
    simulator: Simulator | None  # None on a bus: no thermometer to simulate
    people: list[Person]
    video: Path
    slot: Slot
    preview: FrameBuffer  # the camera picture for the touchscreen (run_ui's preview)
    settings: KioskSettings  # the screen's: door or bus, windowed

    def close(self) -> None:
        """Stop the checkpoint (its log closed), then the simulator it was measuring."""
        self.checkpoint.stop()
        if self.simulator is not None:
            self.simulator.stop()


def demo_config(folder: Path, *, bus: bool, thermometer_port: str | None) -> Config:
    """The demo kiosk's configuration: keys/demo, a log in `folder`, at the door the simulator's port; built
    into a checkpoint by the same composition root as `kiosk run` (kiosk/checkpoint/wiring.py)."""
    return Config(trust_dir=DEMO_DIR, policy=Policy(reading_window=READING_WINDOW),
                  thermometer=None if thermometer_port is None else ThermometerConfig("gy906", thermometer_port,
                                                                                      interval=0.1),
                  log=LogConfig(folder / "audit.db", site="demo", lane="gate 1", device="demo-kiosk"),
                  kiosk=KioskSettings(mode="bus" if bus else "door", vehicle=VEHICLE if bus else "",
                                      verdict_seconds=1.5 if bus else 3.0, reading_wait=0.0, fullscreen=False))


def build_demo(folder: Path, *, pace: float = 1.6, people: list[Person] | None = None,
               bus: bool = False) -> Demo:
    """A ready checkpoint over the demo queue in `folder` (video, log); start it with checkpoint.start()."""
    from kiosk.checkpoint.wiring import build_checkpoint
    from kiosk.scanner.decoders import ChainDecoder
    from kiosk.scanner.pipeline import CameraPipeline

    folder.mkdir(parents=True, exist_ok=True)
    if people is None:
        people = bus_queue(time.time()) if bus else list(queue(time.time()))
    slot = slot_for(pace, thermometer=not bus)
    video = render(people, folder / ("bus.avi" if bus else "door.avi"), slot)
    simulator: Simulator | None = None
    frames: DoorFrames | CaptureSource
    if bus:
        frames = CaptureSource(str(video), pace=True)
    else:
        simulator = Simulator("gy906", script="steady", emulate_baud=True)
        simulator.override = DOORWAY
        frames = DoorFrames(video, people, slot, simulator)
    config = demo_config(folder, bus=bus, thermometer_port=simulator.start() if simulator is not None else None)
    # The hold-off is shorter than a person's slot: the same code shown twice in a row is two people.
    preview = FrameBuffer()
    pipeline = CameraPipeline(frames, ChainDecoder(), holdoff=min(3.0, slot.seconds * 0.8), latest_wins=True,
                              on_frame=preview.put)
    try:
        checkpoint = build_checkpoint(config, sources=[pipeline], with_sync=False)
    except BaseException:
        if simulator is not None:
            simulator.stop()
        raise
    return Demo(checkpoint, simulator, people, video, slot, preview, config.kiosk)
