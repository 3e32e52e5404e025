"""What the collector keeps about each enrolled kiosk: its Device row and the head of its chain. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    """The newest event of a device's chain as the collector has it."""

    event_id: str
    hash: bytes  # that event's own hash: the link the next event must carry


@dataclass(frozen=True)
class Device:
    id: str  # kid of the public key, 16 hex digits
    public_key: bytes
    name: str
    enrolled_at: float
    revoked_at: float | None = None
    last_seen: float | None = None  # when its last batch was stored
    events: int = 0  # events stored now (a purge takes its events off)
    head: Head | None = None
    faults: int = 0
