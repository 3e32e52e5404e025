"""What the collector keeps, and the chain check it does on every batch. The check is pure.

Two stores implement `CollectorStore`: SQLite (one site; the default) and
PostgreSQL (a city), chosen by the database URL (kiosk/collector/database.py). Both keep, per
enrolled device, its public key and the head of its chain as the collector has
it; per event, every field, the link the kiosk stored and the event's own hash;
the faults seen; and the digests of recent batches, so a replayed batch is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from types import TracebackType
from typing import Protocol

from kiosk.audit.events import Event, chain_hash
from kiosk.audit.schema import COLUMNS
from kiosk.collector.readmodel import EventPage, EventQuery, EventRow, Figures, KioskState, Overview, Trace
from kiosk.collector.records import Device as Device  # re-exported: where they always were
from kiosk.collector.records import Head as Head
from kiosk.sync.protocol import Batch, Fault, Linked

ROW_COLUMNS = COLUMNS  # export rows: the kiosk's own, those of its audit log's events table, in that order
REPLAY_MEMORY = 24 * 3600.0  # seconds a batch digest is kept; far beyond the signing window (MAX_SKEW)


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
        events and the faults, moves the head and remembers the digest; in the same
        transaction, adds the new events to the console's roll-ups and keeps the
        batch's status (the newest, by its signing time) with the time it came.
        """

    def faults(self, device_id: str | None = None) -> list[StoredFault]: ...

    def rows(self, since: float | None = None, until: float | None = None, verdict: str | None = None,
             device: str | None = None, batch: int = 10_000, names: bool = False,
             sites: frozenset[str] | None = None) -> Iterator[list[tuple[object, ...]]]:
        """Events in [since, until) as tuples of ROW_COLUMNS (details as JSON text or None), ordered by
        (at, device, id), in lists of up to `batch`. `names`: the device column holds the kiosk's enrolled
        name and short id ("Gate 2 (3f2a9c1b)", kiosk.device_names.label) instead of the text it logged.
        `sites`: only the events of these sites; None: every site's (and those logged with none)."""

    # --- The web console's read model (kiosk/collector/readmodel.py: what is counted; reads.py: how) -------
    # A scope `sites` is an account's: None reads every site and the events of none (""), a set only those.
    # Bad arguments (a tampered cursor, a time that is no number) raise ValueError, one line.

    def sites(self) -> list[str]:
        """Every site an event or a kiosk named, sorted ("" among them when events had no site)."""

    def kiosks(self, sites: frozenset[str] | None = None, start: float | None = None,
               end: float | None = None) -> list[KioskState]:
        """The enrolled kiosks whose site is in scope (one that sent nothing yet: only for every site), by name;
        their outages counted in [start, end) when both are given."""

    def overview(self, sites: frozenset[str] | None, start: float, end: float,
                 hour_starts: list[float]) -> Overview:
        """Per site in scope: its kiosks and the figures of the hours that start in [start, end), and of each
        hour of `hour_starts` (ascending, inside the range). From the roll-ups, never a scan of the events;
        people from the day roll-up when start and end are midnights of `day_zone` (else from the events)."""

    def device_hours(self, device_id: str, start: float, end: float) -> list[tuple[float, Figures, int]]:
        """One kiosk's hours that start in [start, end) and had events, oldest first: (the hour's start, its
        figures (people None: counted per site and day only), its device outages)."""

    def events_page(self, query: EventQuery, after: str | None = None, limit: int = 50) -> EventPage:
        """Up to `limit` (at most readmodel.MAX_PAGE) events, newest first, after the opaque cursor `after`
        (EventPage.next of the page before); registrations carry their corrections."""

    def hand_rows(self, since: float | None, until: float | None, sites: frozenset[str] | None = None,
                  device: str | None = None) -> list[tuple[object, ...]]:
        """The registrations (kind "manual") in [since, until) and the corrections from `since` on, with no end
        (one made later still corrects a registration in the range), at the sites in scope (and of `device`),
        as rows of ROW_COLUMNS with `rows(names=True)`'s device column, device by device, each in id order.
        The console's corrections (kiosk/collector/corrections_sql.py: ids "C...", device "console") are among
        their kiosk's rows by time: those from `since` on, and any of a registration returned."""

    def registration(self, device_id: str, event_id: str, sites: frozenset[str] | None = None) -> EventRow | None:
        """The event of that kiosk and id, with its corrections so far (the kiosk's and the console's), if the
        scope sees it; None for any other: not stored, another site's, not even an id."""

    def correct(self, device_id: str, event_id: str, fields: Mapping[str, str], temperature: float | None,
                note: str, account: str, at: float, sites: frozenset[str] | None = None) -> Event | None:
        """Keep the console's correction of a registration by hand the scope sees, made by `account` at `at`
        (kiosk/collector/correcting.py): its new `fields` ("" removes one), new temperature, and the note why;
        returned as the kiosk's correction event of it would be. None (nothing written) when the scope sees no
        such event; ValueError (one line) when the kiosk's rules refuse it."""

    def trace(self, subject_ref: str, since: float, until: float, window: float = 900.0,
              sites: frozenset[str] | None = None) -> Trace:
        """The subject's visits in [since, until) at the sites in scope and the others present at the same site
        within +-window seconds of each (kiosk/collector/tracing.py)."""

    def rename(self, device_id: str, name: str, at: float) -> Device:
        """A kiosk's new name (kiosk.device_names' rules: StoreError otherwise, or if not enrolled)."""

    def purge(self, before: float) -> int:
        """Delete the events older than `before`, and the hours and days of the roll-ups that ended by then; the
        purge is recorded (`purges`). The heads stay, so a kiosk's next batch links on without a fault."""

    def purges(self) -> list[tuple[float, float, int]]:
        """Every purge: (when, before, events deleted), oldest first."""

    @property
    def day_zone(self) -> tzinfo:
        """The zone the roll-ups count hours and days in (kept in the database)."""

    def set_day_zone(self, zone: tzinfo) -> bool:
        """Count in `zone` from now on; True when the roll-ups were counted again (it was another zone)."""

    def count(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> CollectorStore: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        """close()"""
