"""The checkpoint: every scan, from any source, decided, logged, shown, in one worker thread.

Code sources (camera pipeline, serial 2D scanner, keyboard wedge) push scans
into a queue from their own threads; one worker takes them in order: attach
the freshest thermometer reading, decide, commit the event (before it is
shown), wake the sync loop, fire the pass signal, and hand a VerdictView to the
listener (the Kivy app schedules it onto its own thread; headless mode prints
it). Nothing here imports Kivy, and no caller ever waits on a device.
A code read before the thermometer's first confirmed reading waits up to
`reading_wait` s for one here, the listener told "measuring", rather than RETRY.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from kiosk.checkpoint import view as views
from kiosk.checkpoint.view import DeviceStates, MeasuringView, StatusView, SyncSummary, VerdictView, verdict_view
from kiosk.checkpoint.wording import open_failure
from kiosk.errors import KioskError
from kiosk.policy import Policy
from kiosk.scanner.types import CodeSource, Frame, Scan
from kiosk.sync.health import Limits, alerts
from kiosk.trust import TrustStore
from kiosk.trustdir import load_trust_dir, refreshed_at
from kiosk.verdict import Verdict, decide

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


class MeasuringListener(Listener, Protocol):
    """A listener that also shows the wait for a reading (the touchscreen); others simply are not told."""

    def on_measuring(self, view: MeasuringView) -> None:
        """Called on the worker thread when a code waits for the thermometer; its verdict follows."""


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
    reading_wait: float = 0.0  # seconds a code waits for a first confirmed reading ([kiosk] reading_wait)


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
        self._opened = False
        self._listener: Listener | None = None
        self.observers: list[Listener] = []  # told of every verdict too (the demo's table, benchmarks)
        self._stopping = threading.Event()
        # A thermometer at the door makes a temperature required; without one (a bus) it is not.
        self.policy = parts.policy.with_values({"require_temperature": True}) if parts.thermometer else parts.policy

    # -- running ------------------------------------------------------------------------------------

    def open_devices(self, settle: float = 0.0) -> DeviceStates:
        """Start the thermometer and the code sources (each opens its device on its own thread), once.

        Waits up to `settle` seconds until every device has tried to open, so that
        what it returns (and the status bar's first frame) says which cannot be
        opened rather than "starting". Scans wait in the queue until start().
        """
        self._stopping.clear()
        if not self._opened:
            self._opened = True
            if self.parts.thermometer is not None:
                self.parts.thermometer.start()
            for source in self.parts.sources:
                if hasattr(source, "on_frame"):
                    source.on_frame = self._keep_frame
                source.start(self._scans.put)
        deadline = time.monotonic() + settle
        while not self._tried_all() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.devices()

    def start(self, listener: Listener | None) -> None:
        self._listener = listener
        self.open_devices()
        if self.parts.sync is not None:
            self.parts.sync.start_background()
        self._worker = threading.Thread(target=self._work, name="checkpoint", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the sources first (no new scans), let the worker finish the scan in hand, then the rest."""
        self._stopping.set()
        self._opened = False
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
        self._watch_devices()  # a device that could not be opened at start is in the log from the start
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
        # Everything else about the code is fine (the temperature is checked last): worth a moment's wait.
        if verdict.reason == "temperature_missing" and thermometer is not None and self.parts.reading_wait > 0:
            verdict, now = self._wait_for_reading(scan, thermometer)
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

    def _wait_for_reading(self, scan: Scan, thermometer: ThermometerPoller) -> tuple[Verdict, float]:
        """Decide again once a confirmed reading comes, or after reading_wait seconds without one (RETRY)."""
        wait = self.parts.reading_wait
        measuring = MeasuringView(scan.source, self.clock(), wait)
        for listener in [*self.observers, self._listener]:
            try:
                if (tell := getattr(listener, "on_measuring", None)) is not None:
                    tell(measuring)
            except Exception:  # a screen that cannot say "measuring" must not cost the person their verdict
                log.exception("listener could not show measuring")
        deadline = time.monotonic() + wait
        while True:
            now = self.clock()
            reading = thermometer.reading_at(now, self.policy.reading_window)
            left = deadline - time.monotonic()
            # Stopping (Ctrl-C, the video ended): the code in hand still gets its verdict, at once.
            if reading is not None or left <= 0 or self._stopping.wait(min(0.05, left)):
                break
        return decide(scan.text, self.trust, self.policy, reading, now), now

    def _reload_trust(self) -> None:
        try:
            self.trust = load_trust_dir(self.parts.trust_dir)
        except KioskError as err:  # a verified install should always load; if not, keep verifying with the old
            log.error("new trust files could not be loaded, keeping the old ones: %s", err)

    # -- what the status bar and admin screens ask ------------------------------------------------------

    def devices(self) -> DeviceStates:
        camera = scanner = None
        unopened: list[tuple[str, str]] = []  # (key, the line said at start)
        for source in self.parts.sources:
            name, device = DEVICE_NAMES.get(type(source).__name__), cast(Any, source)
            if name == "camera":
                camera = str(getattr(device.source, "state", "ok"))
                if why := getattr(device.source, "open_error", None):  # set only while it has never opened
                    unopened += views.cannot_open("camera", f"camera {device.source.target}", why,
                                                  device.source.reconnect_every)
            elif name == "2D scanner":
                state = device.state
                scanner = "ok" if state.connected else "disconnected"
                if not (state.connected or state.reconnects or state.scans):
                    unopened += views.cannot_open("scanner", f"2D scanner {device.url}", open_failure(state.last_error),
                                                  device.reconnect_every)
        thermometer = self.parts.thermometer
        status = thermometer.state if thermometer else None
        latest = thermometer.latest() if thermometer else None
        if thermometer is not None and status is not None and status.status == "disconnected" \
                and not (status.readings or status.reconnects):
            unopened += views.cannot_open("thermometer", f"thermometer {thermometer.url}",
                                          open_failure(status.last_error), thermometer.reconnect_every)
        return DeviceStates(camera, scanner, status.status if status else None,
                            latest.reading.celsius if latest else None, tuple(unopened))

    def _tried_all(self) -> bool:
        """Every device has tried to open at least once (opened, or failed to)."""
        thermometer = self.parts.thermometer
        if thermometer is not None and thermometer.state.status == "starting":
            return False
        for source in self.parts.sources:
            name, device = DEVICE_NAMES.get(type(source).__name__), cast(Any, source)
            if name == "camera" and getattr(device.source, "state", None) == "starting":
                return False
            if name == "2D scanner" and not device.state.connected and device.state.last_error is None:
                return False  # its thread has not tried the port yet
        return True

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
        return views.status_view(self.devices(), found, summary, recorder.last_error if recorder else None, now)

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
