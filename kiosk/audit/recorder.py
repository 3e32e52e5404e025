"""Writing each verdict to the log before it is shown, and what happens when the log cannot be written."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from kiosk.audit.corrections import correction_event, load_fixes
from kiosk.audit.device_watch import DeviceWatch
from kiosk.audit.events import Event, scan_event
from kiosk.audit.files import read_snapshot
from kiosk.audit.registration import is_fever, temperature_problem, unknown_fields
from kiosk.audit.settings import LogConfig
from kiosk.audit.store import AuditLog, LogWriteError
from kiosk.policy import Policy
from kiosk.verdict import Verdict

log = logging.getLogger(__name__)
LOG_DOWN = "audit log not written"


class Recorder:
    """Commits an event per verdict; on failure keeps deciding and says so, or refuses entry if configured."""

    def __init__(self, audit: AuditLog, settings: LogConfig, secret: bytes | None) -> None:
        self.audit, self.settings, self.secret = audit, settings, secret
        self.last_error: str | None = None
        self.watch = DeviceWatch(settings.site, settings.lane, settings.device)

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

    def record(self, verdict: Verdict, at: float) -> tuple[Verdict, bool]:
        """(the verdict to show, whether it refuses entry because the log is down)."""
        event = scan_event(verdict, at=at, site=self.settings.site, lane=self.settings.lane,
                           device=self.settings.device, secret=self.secret)
        try:
            self.audit.append(event)
        except LogWriteError as err:
            if self.last_error is None:
                log.error("%s", err)
            self.last_error = str(err)
            shown = replace(verdict, warnings=(*verdict.warnings, f"{LOG_DOWN}: {err}"))
            return shown, self.settings.on_failure == "deny" and verdict.verdict == "pass"
        if self.last_error is not None:
            log.warning("audit log writable again")
        self.last_error = None
        return verdict, False

    def manual(self, details: dict[str, object], *, at: float, temperature: float | None, operator: str,
               policy: Policy | None = None) -> Event:
        """A person registered by hand; raises ValueError for what cannot be kept (a field the site does not
        record, an implausible temperature) and LogWriteError (staff must know it was not kept). With a
        `policy`, a temperature at or above its fever threshold is recorded as a fever (reason "fever")."""
        problem = unknown_fields(details, self.settings.manual_fields)
        implausible = temperature_problem(temperature, policy) if policy is not None else None
        if problem or implausible:
            raise ValueError(problem or (implausible or ("", ""))[1])
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
        with read_snapshot(self.audit) as conn:
            fix = load_fixes(conn).get(event_id)
        allowed = (*self.settings.manual_fields, *(k for k in original.details if k not in self.settings.manual_fields))
        problem = unknown_fields(fields, allowed)
        implausible = temperature_problem(temperature, policy)
        if problem or implausible:
            raise ValueError(problem or (implausible or ("", ""))[1])
        event = correction_event(original, fix, fields, temperature, fever=is_fever(temperature, policy),
                                 operator=operator, at=at, event_id=self.audit.next_id(at), note=note)
        return self.audit.append(event)

    def admin(self, action: str, details: dict[str, object], *, at: float, operator: str = "admin") -> Event | None:
        """Log an admin action (kind "admin"); None when the log cannot be written: the action goes ahead."""
        # Through JSON and back: a value the log cannot hold becomes its text rather than stopping the action.
        clean = json.loads(json.dumps({"action": action, **details}, ensure_ascii=False, default=str))
        try:
            return self.audit.append(Event(self.audit.next_id(at), at, "admin", site=self.settings.site,
                                           lane=self.settings.lane, device=self.settings.device,
                                           operator=operator, details=clean))
        except LogWriteError as err:
            if self.last_error is None:
                log.error("%s", err)
            self.last_error = str(err)
            return None
