"""Which sightings of a code are new scans. Pure: the time is an argument.

A code seen in consecutive frames is one scan; the same code again is a new
scan only once it has been out of sight for the hold-off, so a person who
stands in front of the camera for a minute is logged once.
"""

from __future__ import annotations


class ScanGate:
    def __init__(self, holdoff: float = 5.0) -> None:
        if not holdoff >= 0:
            raise ValueError("holdoff must be 0 or more seconds")
        self.holdoff = holdoff
        self._last_seen: dict[str, float] = {}

    def admit(self, text: str, now: float) -> bool:
        """Record a sighting of `text` at `now`; True when it is a new scan."""
        last = self._last_seen.get(text)
        self._last_seen[text] = now
        if len(self._last_seen) > 64:
            self._forget_before(now - self.holdoff)
        return last is None or now - last >= self.holdoff

    def _forget_before(self, moment: float) -> None:
        # Keeps the memory bounded by the codes seen within one hold-off.
        for text in [t for t, seen in self._last_seen.items() if seen < moment]:
            del self._last_seen[text]
