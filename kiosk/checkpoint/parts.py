"""What a checkpoint is built from (CheckpointParts), who hears its verdicts, and the word of new trust files.

Plain structures: the composition root (kiosk/checkpoint/wiring.py, with the
factories of kiosk/checkpoint/factories.py) fills them from the config; tests
and the demo fill them with parts of their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiosk.policy import Policy
from kiosk.scanner.types import CodeSource
from kiosk.sync.health import Limits
from kiosk.trust import TrustStore

if TYPE_CHECKING:
    from kiosk.audit.recorder import Recorder
    from kiosk.checkpoint.signal import PassSignal
    from kiosk.checkpoint.view import MeasuringView, VerdictView
    from kiosk.sync.wiring import SyncParts
    from kiosk.thermometer.poller import ThermometerPoller


class Listener(Protocol):
    def on_verdict(self, view: VerdictView) -> None:
        """Called on the checkpoint's worker thread, once the event is committed."""


class MeasuringListener(Listener, Protocol):
    """A listener that also shows the wait for a reading (the touchscreen); others simply are not told."""

    def on_measuring(self, view: MeasuringView) -> None:
        """Called on the worker thread when a code waits for the thermometer; its verdict follows."""


class TrustNews:
    """Word that new trust files were installed (by a sync pull or from a stick): the checkpoint reloads its
    trust store before its next scan. Made before sync and the checkpoint, and given to both, so neither
    needs the other to exist first."""

    def __init__(self) -> None:
        self._installed = threading.Event()

    def installed(self, *_: object) -> None:
        """Say it (any arguments, e.g. sync's TrustPull, are ignored: the files on disk are what count)."""
        self._installed.set()

    def take(self) -> bool:
        """Whether there was news since the last take (and forget it)."""
        if not self._installed.is_set():
            return False
        self._installed.clear()
        return True


@dataclass
class CheckpointParts:
    """Everything the checkpoint drives; the checkpoint owns them from then on (stop() closes them)."""

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
    trust_news: TrustNews = field(default_factory=TrustNews)
