"""What the collector keeps, and the chain check it does on every batch. The check is pure.

Two stores implement `CollectorStore`: SQLite (one site; the default) and
PostgreSQL (a city), chosen by the database URL (kiosk/collector/database.py). Both keep, per
enrolled device, its public key and the head of its chain as the collector has
it; per event, every field, the link the kiosk stored and the event's own hash;
the faults seen; and the digests of recent batches, so a replayed batch is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from kiosk.audit.events import chain_hash
from kiosk.audit.schema import COLUMNS
from kiosk.sync.protocol import Batch, Fault, Linked

ROW_COLUMNS = COLUMNS  # export rows: the kiosk's own, those of its audit log's events table, in that order
REPLAY_MEMORY = 24 * 3600.0  # seconds a batch digest is kept; far beyond the signing window (MAX_SKEW)


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
    events: int = 0
    head: Head | None = None
    faults: int = 0


@dataclass(frozen=True)
class Checked:
    """What a batch brings, after the chain check."""

    new: list[tuple[Linked, bytes]]  # events not stored yet, each with its own hash, in order
    duplicates: int
    faults: list[Fault]
    head: Head | None  # the device's head once the new events are stored


def check_chain(head: Head | None, events: list[Linked], known: dict[str, bytes]) -> Checked:
    """Place a batch's events after the device's head.

    `known` maps the batch's event ids that are stored already to their stored
    hash. A stored event sent again is a duplicate (a conflict if its contents
    differ); a new event whose link is not the head's hash is a gap: events
    between are missing, or one was altered on the kiosk. Faults are reported,
    never a reason to refuse: the events are evidence either way. A device's
    first event may link to an event that was purged before it ever synced. An
    event older than the head that was never stored (a kiosk restored from a
    backup) is stored and flagged "late"; the head stays at the newest event.
    """
    new: list[tuple[Linked, bytes]] = []
    faults: list[Fault] = []
    duplicates = 0
    for linked in events:
        event = linked.event
        own = chain_hash(linked.prev_hash, event)
        if event.id in known:
            duplicates += 1
            if known[event.id] != own:
                faults.append(Fault("conflict", event.id, head.event_id if head else None,
                                    f"event {event.id} was sent before with other contents; the first copy is kept"))
            continue
        new.append((linked, own))
        if head is not None and event.id < head.event_id:  # never from a kiosk that keeps its log: stored, flagged
            faults.append(Fault("late", event.id, head.event_id,
                                f"event {event.id} arrived after the newer event {head.event_id}; the chain's head "
                                "stays where it was"))
            continue
        if head is not None and linked.prev_hash != head.hash:
            faults.append(Fault("gap", event.id, head.event_id,
                                f"event {event.id} does not link to {head.event_id}: events between them are missing, "
                                "or one of them was altered on the kiosk"))
        head = Head(event.id, own)
    return Checked(new, duplicates, faults, head)


@dataclass(frozen=True)
class Ingested:
    stored: int
    duplicates: int
    faults: list[Fault] = field(default_factory=list)


@dataclass(frozen=True)
class StoredFault:
    device: str
    kind: str
    event_id: str
    after_id: str | None
    message: str
    seen_at: float


class CollectorStore(Protocol):
    """The collector's database. Every method is one transaction; errors raise StoreError."""

    def enroll(self, public_key: bytes, name: str, at: float) -> Device:
        """Enroll (or re-enroll, clearing a revocation and renaming) the device with this key."""

    def revoke(self, device_id: str, at: float) -> Device:
        """Refuse the device's batches from now on; its stored events stay. StoreError if unknown."""

    def device(self, device_id: str) -> Device | None: ...

    def devices(self) -> list[Device]: ...

    def ingest(self, batch: Batch, received_at: float) -> Ingested:
        """Store a batch that `open_batch` accepted, atomically and idempotently.

        Refuses (BatchRefused "replayed") a batch whose digest it has seen; under
        the device's lock, runs `check_chain` from the stored head, inserts the new
        events and the faults, moves the head and remembers the digest.
        """

    def faults(self, device_id: str | None = None) -> list[StoredFault]: ...

    def rows(self, since: float | None = None, until: float | None = None, verdict: str | None = None,
             device: str | None = None, batch: int = 10_000, names: bool = False) -> Iterator[list[tuple[object, ...]]]:
        """Events in [since, until) as tuples of ROW_COLUMNS (details as JSON text or None), ordered by
        (at, device, id), in lists of up to `batch`. `names`: the device column holds the kiosk's enrolled
        name and short id ("Gate 2 (3f2a9c1b)", kiosk.device_names.label) instead of the text it logged."""

    def count(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> CollectorStore: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        """close()"""
