"""Writing each verdict to the log before it is shown, and what happens when the log cannot be written.

The one owner of "commit before showing" and "log down -> deny": Recorder.record
(a running checkpoint) and record_once (`kiosk verify --log`, which may not even
open the log) both return the FINAL decision, and everything after them (the
screen, the pass signal, the JSON line) only shows it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.audit.corrections import correction_event
from kiosk.audit.device_watch import DeviceWatch
from kiosk.audit.events import Event, scan_event
from kiosk.audit.registration import is_fever, temperature_problem, unknown_fields
from kiosk.audit.settings import LogConfig, subject_secret
from kiosk.audit.store import AuditLog
from kiosk.closing import ClosedOnExit
from kiosk.errors import LogWriteError
from kiosk.policy import Policy
from kiosk.verdict import Verdict

if TYPE_CHECKING:
    from kiosk.audit.export import Format, Language

log = logging.getLogger(__name__)
LOG_DOWN = "audit log not written"


def _log_down(verdict: Verdict, problem: LogWriteError, on_failure: str) -> Verdict:
    """The decision when the verdict's event could not be committed: it says so in its warnings, and a site
    that refuses entry while it cannot keep a record turns a pass into a deny (an extension of spec section 5)."""
    warned = replace(verdict, warnings=(*verdict.warnings, f"{LOG_DOWN}: {problem}"))
    if on_failure == "deny" and verdict.verdict == "pass":
        return replace(warned, reason="log_unavailable")
    return warned


def record_once(settings: LogConfig, verdict: Verdict, at: float) -> Verdict:
    """Open the log, commit the verdict's event, close it; the final decision. A log that cannot even be
    opened is a log that is down: the same outcome as one that fails to write."""
    try:
        recorder = Recorder.open(settings)
    except LogWriteError as err:
        return _log_down(verdict, err, settings.on_failure)
    with recorder:
        return recorder.record(verdict, at)


class Recorder(ClosedOnExit):
    """Commits an event per verdict; on failure keeps deciding and says so, or refuses entry if configured."""

    def __init__(self, audit: AuditLog, settings: LogConfig, secret: bytes | None) -> None:
        self.audit, self.settings, self.secret = audit, settings, secret
        self.last_error: str | None = None
        self.watch = DeviceWatch(settings.site, settings.lane, settings.device)

    @classmethod
    def open(cls, settings: LogConfig) -> Recorder:
        """The log at settings.path (LogWriteError if it cannot be opened), with the site's subject secret."""
        audit = AuditLog(settings.path)
        try:
            return cls(audit, settings, subject_secret(settings))
        except BaseException:  # a bad secret file: say so, with the log closed properly
            audit.close()
            raise

    def close(self) -> None:
        self.audit.close()


    def device_state(self, name: str, state: str, at: float) -> None:
        """Log a device's change of state (camera lost, thermometer back, ...) for the day's report."""
        event = self.watch.observe(name, state, at=at, event_id=self.audit.next_id(at))
        if event is not None:
            try:
                self.audit.append(event)
            except LogWriteError as err:
                self.last_error = str(err)

    @property
    def healthy(self) -> bool:
        return self.last_error is None

    def record(self, verdict: Verdict, at: float) -> Verdict:
        """Commit the verdict's event; the final decision, to be shown as it is (its reason "log_unavailable"
        when the log is down and the site refuses entry then, with the "audit log not written" warning)."""
        event = scan_event(verdict, at=at, site=self.settings.site, lane=self.settings.lane,
                           device=self.settings.device, secret=self.secret)
        try:
            self.audit.append(event)
        except LogWriteError as err:
            if self.last_error is None:
                log.error("%s", err)
            self.last_error = str(err)
            return _log_down(verdict, err, self.settings.on_failure)
        if self.last_error is not None:
            log.warning("audit log writable again")
        self.last_error = None
        return verdict

    def export(self, out: Path, fmt: Format) -> int:
        """The whole log to `out`, in the site's language, time zone and registration fields; the rows written."""
        from kiosk.audit.export import export  # here: the spreadsheet writer only when someone exports

        language: Language = "en" if self.settings.language == "en" else "zh"
        return export(self.audit, out, fmt, language=language, tz=self.settings.zone,
                      fields=self.settings.manual_fields)

    def manual(self, details: dict[str, object], *, at: float, temperature: float | None, operator: str,
               policy: Policy | None = None) -> Event:
        """A person registered by hand; raises ValueError for what cannot be kept (a field the site does not
        record, an implausible temperature) and LogWriteError (staff must know it was not kept). With a
        `policy`, a temperature at or above its fever threshold is recorded as a fever (reason "fever")."""
        problem = unknown_fields(details, self.settings.manual_fields)
        implausible = temperature_problem(temperature, policy) if policy is not None else None
        if problem:
            raise ValueError(problem)
        if implausible:
            raise ValueError(implausible[1])
        fever = policy is not None and is_fever(temperature, policy)
        return self.audit.append(Event(self.audit.next_id(at), at, "manual", site=self.settings.site,
                                       lane=self.settings.lane, device=self.settings.device,
                                       reason="fever" if fever else None, temperature=temperature,
                                       operator=operator, details=details))

    def correct(self, event_id: str, fields: dict[str, str], *, at: float, temperature: float | None,
                operator: str, policy: Policy, note: str | None = None) -> Event:
        """A new event correcting the registration `event_id` (which stays as it was written); ValueError for
        an id that is no registration, nothing to change, a field the site does not record, a bad temperature."""
        original = self.audit.find(event_id)
        if original is None:
            raise ValueError(f"no event {event_id} in this log")
        with self.audit.snapshot() as snapshot:
            fix = snapshot.fixes().get(event_id)
        allowed = (*self.settings.manual_fields, *(k for k in original.details if k not in self.settings.manual_fields))
        problem = unknown_fields(fields, allowed)
        implausible = temperature_problem(temperature, policy)
        if problem:
            raise ValueError(problem)
        if implausible:
            raise ValueError(implausible[1])
        event = correction_event(original, fix, fields, temperature, fever=is_fever(temperature, policy),
                                 operator=operator, at=at, event_id=self.audit.next_id(at), note=note)
        return self.audit.append(event)

    def admin(self, action: str, details: dict[str, object], *, at: float, operator: str = "admin") -> Event | None:
        """Log an admin action (kind "admin"); None when the log cannot be written: the action goes ahead."""
        # Through JSON and back: a value the log cannot hold becomes its text rather than stopping the action.
        clean = json.loads(json.dumps({"action": action, **details}, default=str))
        try:
            return self.audit.append(Event(self.audit.next_id(at), at, "admin", site=self.settings.site,
                                           lane=self.settings.lane, device=self.settings.device,
                                           operator=operator, details=clean))
        except LogWriteError as err:
            if self.last_error is None:
                log.error("%s", err)
            self.last_error = str(err)
            return None
