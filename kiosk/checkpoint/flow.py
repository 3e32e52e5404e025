"""The checkpoint: every scan, from any source, decided, logged, shown, in one worker thread.

Code sources (camera pipeline, serial 2D scanner, keyboard wedge) push scans
into a queue from their own threads; one worker takes them in order: attach
the freshest thermometer reading, decide, commit the event (before it is
shown), wake the sync loop, fire the pass signal, and hand a VerdictView to the
listener (the Kivy app schedules it onto its own thread; headless mode prints
it). Nothing here imports Kivy, and no caller ever waits on a device.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiosk.checkpoint.view import DeviceStates, StatusView, SyncSummary, VerdictView, status_view, verdict_view
from kiosk.errors import KioskError
from kiosk.policy import Policy
from kiosk.scanner.types import CodeSource, Frame, Scan
from kiosk.sync.health import Limits, alerts
from kiosk.trust import TrustStore
from kiosk.trustdir import load_trust_dir, refreshed_at
from kiosk.verdict import decide

if TYPE_CHECKING:
    from kiosk.audit.events import Event
    from kiosk.audit.recorder import Recorder
    from kiosk.checkpoint.signal import PassSignal
    from kiosk.sync.wiring import SyncParts
    from kiosk.thermometer.poller import ThermometerPoller

log = logging.getLogger("kiosk.checkpoint")
DEVICE_NAMES = {"CameraPipeline": "camera", "SerialScanner": "2D scanner", "KeyboardWedge": "keyboard"}


class Listener(Protocol):
    def on_verdict(self, view: VerdictView) -> None:
        """Called on the checkpoint's worker thread, once the event is committed."""


@dataclass
class CheckpointParts:
    """Everything the checkpoint drives; built from the config by kiosk/checkpoint/wiring.py."""

    trust_dir: Path
    trust: TrustStore
    policy: Policy
    sources: list[CodeSource] = field(default_factory=list)
    thermometer: ThermometerPoller | None = None
    recorder: Recorder | None = None
    sync: SyncParts | None = None
    signal: PassSignal | None = None
    hold: float = 3.0  # seconds a verdict stays on screen
    limits: Limits = field(default_factory=Limits)


class Checkpoint:
    def __init__(self, parts: CheckpointParts, *, clock: Callable[[], float] = time.time) -> None:
        self.parts = parts
        self.trust = parts.trust
        self.clock = clock
        self.latest_frame: Frame | None = None  # the newest camera frame, for the preview
        self.verdicts = 0
        self._scans: queue.Queue[Scan | None] = queue.Queue()
        self._trust_changed = threading.Event()
        self._worker: threading.Thread | None = None
        self._listener: Listener | None = None
        self.observers: list[Listener] = []  # told of every verdict too (the demo's table, benchmarks)
        self._stopping = threading.Event()
        # A thermometer at the door makes a temperature required; without one (a bus) it is not.
        self.policy = parts.policy.with_values({"require_temperature": True}) if parts.thermometer else parts.policy

    # -- running ------------------------------------------------------------------------------------

    def start(self, listener: Listener | None) -> None:
        self._listener = listener
        self._stopping.clear()
        if self.parts.thermometer is not None:
            self.parts.thermometer.start()
        if self.parts.sync is not None:
            self.parts.sync.start_background()
        for source in self.parts.sources:
            if hasattr(source, "on_frame"):
                source.on_frame = self._keep_frame
            source.start(self._scans.put)
        self._worker = threading.Thread(target=self._work, name="checkpoint", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the sources first (no new scans), let the worker finish the scan in hand, then the rest."""
        self._stopping.set()
        for source in self.parts.sources:
            source.stop()
        self._scans.put(None)
        if self._worker is not None:
            self._worker.join(10)
        if self.parts.thermometer is not None:
            self.parts.thermometer.stop()
        if self.parts.sync is not None:
            self.parts.sync.close()
        if self.parts.signal is not None:
            self.parts.signal.close()
        if self.parts.recorder is not None:
            self.parts.recorder.audit.close()

    def submit(self, text: str, source: str = "keyboard") -> None:
        """A code typed by a keyboard-wedge scanner (or pasted by staff): decided like any other scan."""
        self._scans.put(Scan(text, source, self.clock()))

    def trust_changed(self) -> None:
        """New trust files were installed (sync, or an import from a stick): use them from the next scan."""
        self._trust_changed.set()

    @property
    def ended(self) -> bool:
        """Every source was a file that has been read to the end (the demo, a video)."""
        sources = self.parts.sources
        return bool(sources) and all(getattr(s, "running", True) is False for s in sources)

    def _keep_frame(self, frame: Frame) -> None:
        self.latest_frame = frame

    def _work(self) -> None:
        while True:
            try:
                scan = self._scans.get(timeout=0.5)
            except queue.Empty:
                self._watch_devices()
                continue
            if scan is None:
                return
            try:
                self.handle(scan)
            except Exception:  # a bug in one scan must not stop the checkpoint
                log.exception("scan could not be handled")

    def handle(self, scan: Scan) -> VerdictView:
        """Decide, commit, signal and show one scan; returns what was shown."""
        if self._trust_changed.is_set():
            self._trust_changed.clear()
            self._reload_trust()
        now = self.clock()
        thermometer = self.parts.thermometer
        reading = thermometer.reading_at(now, self.policy.reading_window) if thermometer else None
        verdict = decide(scan.text, self.trust, self.policy, reading, now)
        refused = False
        recorder = self.parts.recorder
        if recorder is not None:  # committed before it is shown
            verdict, refused = recorder.record(verdict, now)
            if self.parts.sync is not None:
                self.parts.sync.wake()
        ms = None if scan.frame_at is None else (time.monotonic() - scan.frame_at) * 1000
        view = verdict_view(verdict, at=now, hold=self.parts.hold, source=scan.source, refused=refused, ms=ms)
        if view.verdict == "pass" and self.parts.signal is not None:
            self.parts.signal.fire()
        self.verdicts += 1
        for listener in [*self.observers, self._listener]:
            if listener is not None:
                listener.on_verdict(view)
        self._watch_devices()
        return view

    def _reload_trust(self) -> None:
        try:
            self.trust = load_trust_dir(self.parts.trust_dir)
        except KioskError as err:  # a verified install should always load; if not, keep verifying with the old
            log.error("new trust files could not be loaded, keeping the old ones: %s", err)

    # -- what the status bar and admin screens ask ------------------------------------------------------

    def devices(self) -> DeviceStates:
        camera = scanner = None
        for source in self.parts.sources:
            name = DEVICE_NAMES.get(type(source).__name__)
            if name == "camera":
                camera = str(getattr(getattr(source, "source", None), "state", "ok"))
            elif name == "2D scanner":
                state = getattr(source, "state", None)
                scanner = "ok" if state is None or getattr(state, "connected", True) else "disconnected"
        thermometer = self.parts.thermometer
        status = thermometer.state.status if thermometer else None
        latest = thermometer.latest() if thermometer else None
        return DeviceStates(camera, scanner, status, latest.reading.celsius if latest else None)

    def status(self) -> StatusView:
        now = self.clock()
        sync = self.parts.sync
        summary = SyncSummary()
        offset = None
        if sync is not None:
            state = sync.outbox.state()
            summary = SyncSummary(True, sync.outbox.pending(), state.last_success, state.last_error)
            offset = state.clock_offset
        found = alerts(now, refreshed_at(self.parts.trust_dir), offset, self.parts.limits)
        recorder = self.parts.recorder
        return status_view(self.devices(), found, summary, recorder.last_error if recorder else None, now)

    def _watch_devices(self) -> None:
        """Log each change of a device's state (camera lost, thermometer disconnected) for the day's report."""
        recorder = self.parts.recorder
        if recorder is None or self._stopping.is_set():
            return
        states = self.devices()
        now = self.clock()
        for name, state in (("camera", states.camera), ("2D scanner", states.scanner),
                            ("thermometer", states.thermometer)):
            if state is not None:
                recorder.device_state(name, state, now)

    def recent(self, limit: int = 20) -> list[Event]:
        """The newest events, newest first, for the admin screen."""
        recorder = self.parts.recorder
        return recorder.audit.latest(limit) if recorder is not None else []
