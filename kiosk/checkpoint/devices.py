"""What the checkpoint's devices say, from the code sources' health() and the thermometer's state.

The status bar's device states, the line said at start for a device that has
never opened ("2D scanner /dev/ttyACM0: cannot be opened (...); retrying
every 2 s"), whether every device has tried to open, and whether every source
has ended (a video played to its end). Each source says what it is (`kind`)
and how it is (`health()`); nothing here looks at a class or an attribute of
its own choosing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kiosk.checkpoint.view import DeviceStates, cannot_open
from kiosk.scanner.port_errors import why_not_opened
from kiosk.scanner.types import CodeSource

if TYPE_CHECKING:
    from kiosk.thermometer.poller import ThermometerPoller

# A source's kind -> (its key on the status bar, its name in the line said at start). A keyboard-wedge scanner
# is no source: it types into the screen, which hands each code to the checkpoint.
KINDS = {"camera": ("camera", "camera"), "serial": ("scanner", "2D scanner")}


def device_states(sources: Sequence[CodeSource], thermometer: ThermometerPoller | None) -> DeviceStates:
    """What each device says now, and the line for each that has never opened (for the status bar and the log)."""
    states: dict[str, str] = {}  # status bar key -> state; of two sources of one kind, the last says
    unopened: list[tuple[str, str]] = []  # (key, the line said at start)
    for source in sources:
        if source.kind not in KINDS:
            continue
        key, name = KINDS[source.kind]
        health = source.health()
        states[key] = health.state
        unopened += cannot_open(key, f"{name} {health.target}", health.cannot_open, health.retry_every)
    status = thermometer.state if thermometer is not None else None
    latest = thermometer.latest() if thermometer is not None else None
    if thermometer is not None and status is not None and status.status == "disconnected" \
            and not (status.readings or status.reconnects):
        unopened += cannot_open("thermometer", f"thermometer {thermometer.url}", why_not_opened(status.last_error),
                                thermometer.reconnect_every)
    return DeviceStates(states.get("camera"), states.get("scanner"), status.status if status else None,
                        latest.reading.celsius if latest else None, tuple(unopened))


def tried_all(sources: Sequence[CodeSource], thermometer: ThermometerPoller | None) -> bool:
    """Every device has tried to open at least once (opened, or failed to)."""
    if thermometer is not None and thermometer.state.status == "starting":
        return False
    return all(source.health().tried for source in sources)


def all_ended(sources: Sequence[CodeSource]) -> bool:
    """There are sources and every one has ended (the demo, a video); a kiosk with none never ends by itself."""
    return bool(sources) and all(source.ended for source in sources)
