"""Device state changes as audit events, so the day's report can show outages. Pure."""

from __future__ import annotations

from kiosk.audit.events import Event


class DeviceWatch:
    """Remembers each device's last state; a change is an event (kind "device")."""

    def __init__(self, site: str = "", lane: str = "", device: str = "") -> None:
        self.site, self.lane, self.device = site, lane, device
        self._states: dict[str, str] = {}

    def observe(self, name: str, state: str, *, at: float, event_id: str, detail: str | None = None) -> Event | None:
        """An event when `name` moved to `state` (its first state counts only if it is not "ok")."""
        before = self._states.get(name)
        self._states[name] = state
        if state == before or (before is None and state in ("ok", "starting")):
            return None
        details: dict[str, object] = {"device": name, "state": state, "before": before}
        if detail:
            details["detail"] = detail
        return Event(event_id, at, "device", site=self.site, lane=self.lane, device=self.device, details=details)
