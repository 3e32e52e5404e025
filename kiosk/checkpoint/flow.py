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
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.checkpoint import view as views
from kiosk.checkpoint.devices import all_ended, device_states, tried_all
from kiosk.checkpoint.measuring import wait_for_reading
from kiosk.checkpoint.parts import CheckpointParts, Listener, MeasuringListener
from kiosk.checkpoint.view import DeviceStates, StatusView, SyncSummary, VerdictView, verdict_view
from kiosk.closing import StoppedOnExit
from kiosk.errors import KioskError
from kiosk.policy import Policy
from kiosk.scanner.types import Scan
from kiosk.sync.health import alerts
from kiosk.trustdir import load_trust_dir, refreshed_at
from kiosk.verdict import decide

if TYPE_CHECKING:
    from kiosk.audit.events import Event
    from kiosk.audit.export import Format
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import LogConfig
    from kiosk.sync.service import SyncOutcome

__all__ = ["Checkpoint", "CheckpointParts", "Listener", "MeasuringListener"]  # the parts' names, from here too
log = logging.getLogger("kiosk.checkpoint")


class Checkpoint(StoppedOnExit):
    """Runs the parts it is given and owns them from then on: stop() (or leaving a `with` block) closes them.

    The admin screens (kiosk/checkpoint/admin.py) use its public methods only; the parts stay private."""

    def __init__(self, parts: CheckpointParts, *, clock: Callable[[], float] = time.time) -> None:
        self._parts = parts
        self.trust = parts.trust
        self.clock = clock
        self.verdicts = 0
        self._scans: queue.Queue[Scan | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stopped = False
        self._stop_once = threading.Lock()  # two threads may stop it (a screen closing, Ctrl-C): the first does
        self._opened = False
        self._listener: Listener | None = None
        self.observers: list[Listener] = []  # told of every verdict too (the demo's table, benchmarks)
        self._stopping = threading.Event()
        # A thermometer at the door makes a temperature required; without one (a bus) it is not.
        self._policy = parts.policy.with_values({"require_temperature": True}) if parts.thermometer else parts.policy


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
            if self._parts.thermometer is not None:
                self._parts.thermometer.start()
            for source in self._parts.sources:
                source.start(self._scans.put)
        deadline = time.monotonic() + settle
        while not tried_all(self._parts.sources, self._parts.thermometer) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.devices()

    def start(self, listener: Listener | None) -> None:
        self._listener = listener
        self.open_devices()
        if self._parts.sync is not None:
            self._parts.sync.report_devices(self.devices)  # each batch tells the collector's console of them
            self._parts.sync.start_background()
        self._worker = threading.Thread(target=self._work, name="checkpoint", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the sources first (no new scans), let the worker finish the scan in hand, then the rest.
        Once: a second call (a `with` block around a command that stopped it already) does nothing."""
        with self._stop_once:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        self._opened = False
        for source in self._parts.sources:
            source.stop()
        self._scans.put(None)
        if self._worker is not None:
            self._worker.join(10)
        if self._parts.thermometer is not None:
            self._parts.thermometer.stop()
        if self._parts.sync is not None:
            self._parts.sync.close()
        if self._parts.signal is not None:
            self._parts.signal.close()
        if self._parts.recorder is not None:
            self._parts.recorder.close()

    def submit(self, text: str, source: str = "keyboard") -> None:
        """A code typed by a keyboard-wedge scanner (or pasted by staff): decided like any other scan."""
        self._scans.put(Scan(text, source, self.clock()))

    def trust_changed(self) -> None:
        """New trust files were installed (sync, or an import from a stick): use them from the next scan."""
        self._parts.trust_news.installed()

    @property
    def ended(self) -> bool:
        """Every source was a file that has been read to the end (the demo, a video)."""
        return all_ended(self._parts.sources)

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
        if self._parts.trust_news.take():
            self._reload_trust()
        now = self.clock()
        thermometer = self._parts.thermometer
        reading = thermometer.reading_at(now, self.policy.reading_window) if thermometer else None
        verdict = decide(scan.text, self.trust, self.policy, reading, now)
        # Everything else about the code is fine (the temperature is checked last): worth a moment's wait.
        if verdict.reason == "temperature_missing" and thermometer is not None and self._parts.reading_wait > 0:
            reading, now = wait_for_reading(scan.source, thermometer, wait=self._parts.reading_wait,
                                            window=self.policy.reading_window, clock=self.clock,
                                            listeners=[*self.observers, self._listener], stopping=self._stopping)
            verdict = decide(scan.text, self.trust, self.policy, reading, now)
        recorder = self._parts.recorder
        if recorder is not None:  # committed before it is shown; from here on the decision is final
            verdict = recorder.record(verdict, now)
            if self._parts.sync is not None:
                self._parts.sync.wake()
        if verdict.verdict == "pass" and self._parts.signal is not None:
            self._parts.signal.fire()
        ms = None if scan.frame_at is None else (time.monotonic() - scan.frame_at) * 1000
        view = verdict_view(verdict, at=now, hold=self._parts.hold, source=scan.source, ms=ms)
        self.verdicts += 1
        for listener in [*self.observers, self._listener]:
            if listener is not None:
                listener.on_verdict(view)
        self._watch_devices()
        return view

    def _reload_trust(self) -> None:
        try:
            self.trust = load_trust_dir(self._parts.trust_dir)
        except KioskError as err:  # a verified install should always load; if not, keep verifying with the old
            log.error("new trust files could not be loaded, keeping the old ones: %s", err)

    # -- what the status bar and admin screens ask ------------------------------------------------------

    def devices(self) -> DeviceStates:
        return device_states(self._parts.sources, self._parts.thermometer)

    def status(self) -> StatusView:
        now = self.clock()
        sync = self._parts.sync
        summary = SyncSummary()
        offset = None
        if sync is not None:
            state = sync.outbox.state()
            summary = SyncSummary(True, sync.outbox.pending(), state.last_success, state.last_error)
            offset = state.clock_offset
        found = alerts(now, refreshed_at(self._parts.trust_dir), offset, self._parts.limits)
        recorder = self._parts.recorder
        return views.status_view(self.devices(), found, summary, recorder.last_error if recorder else None, now)

    def _watch_devices(self) -> None:
        """Log each change of a device's state (camera lost, thermometer disconnected) for the day's report."""
        recorder = self._parts.recorder
        if recorder is None or self._stopping.is_set():
            return
        states = self.devices()
        now = self.clock()
        for name, state in (("camera", states.camera), ("2D scanner", states.scanner),
                            ("thermometer", states.thermometer)):
            if state is not None:
                recorder.device_state(name, state, now)

    def recent(self, limit: int) -> list[Event]:
        """The newest events, newest first, for the admin screen."""
        recorder = self._parts.recorder
        return recorder.audit.latest(limit) if recorder is not None else []

    # -- the admin's commands (kiosk/checkpoint/admin.py): what it may read and do, the parts stay private --

    @property
    def policy(self) -> Policy:
        return self._policy

    def set_policy(self, policy: Policy) -> None:
        """Decide with `policy` from the next scan (one assignment: the worker sees the old or the new, never half)."""
        self._policy = policy

    @property
    def trust_dir(self) -> Path:
        return self._parts.trust_dir

    @property
    def reading_wait(self) -> float:
        return self._parts.reading_wait

    @property
    def log_settings(self) -> LogConfig | None:
        """The audit log's settings (site, lane, device, language, zone, registration fields); None: no log."""
        recorder = self._parts.recorder
        return recorder.settings if recorder is not None else None

    @property
    def log_path(self) -> Path | None:
        recorder = self._parts.recorder
        return recorder.audit.path if recorder is not None else None

    def log_admin(self, action: str, details: dict[str, object], *, at: float) -> None:
        """Log an admin action (it goes ahead when the log cannot be written) and send it as verdicts are sent."""
        recorder = self._parts.recorder
        if recorder is not None:
            recorder.admin(action, details, at=at)
            if self._parts.sync is not None:
                self._parts.sync.wake()

    def register(self, details: dict[str, object], *, at: float, temperature: float | None, operator: str,
                 policy: Policy) -> Event:
        """A person registered by hand (Recorder.manual: ValueError for what cannot be kept, LogWriteError)."""
        return self._recorder().manual(details, at=at, temperature=temperature, operator=operator, policy=policy)

    def export_log(self, out: Path, fmt: Format) -> int:
        """The whole log to `out` in the site's language and zone (Recorder.export); the rows written."""
        return self._recorder().export(out, fmt)

    def sync_now(self) -> SyncOutcome | None:
        """One sync pass, the one `kiosk sync` runs (kiosk/sync/service.py); None without [sync]. Trust files it
        installs are used from the next scan."""
        sync = self._parts.sync
        if sync is None:
            return None
        from kiosk.sync.service import sync_once

        outcome = sync_once(sync)
        if outcome.installed:
            self.trust_changed()
        return outcome

    def _recorder(self) -> Recorder:
        if self._parts.recorder is None:
            from kiosk.errors import LogWriteError  # here: no database module for a checkpoint that has none

            raise LogWriteError("no audit log configured")
        return self._parts.recorder
