"""What a declared setting is made of (kiosk/settings_table.py declares every one). Pure: no IO.

A setting says once what the config file may hold under its name: its types,
its default, its range or choices, the words an out-of-range value is told,
one line for the README, and, where the admin screen may change it, the
words, step and range of its control there. The section parsers, the one
section check (kiosk/tables.py), the admin screen and the README's settings
table are all made from these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from importlib import import_module
from typing import Any, NamedTuple

# Named tuples, not dataclasses: these are made when `kiosk verify` starts (Policy's defaults come from here), and
# a frozen dataclass of this size costs a millisecond or two to make; a named tuple a fraction of that.


class Late(NamedTuple):
    """A value another module owns (the wire format's largest batch, the thermometer protocols), looked up when a
    section that needs it is read: reading a config file must not import them (`kiosk verify` starts fast)."""

    module: str
    name: str

    def get(self) -> Any:
        return getattr(import_module(self.module), self.name)


class AdminControl(NamedTuple):
    """A setting on the admin screen: its words, and for a number the step of its -/+ keys and the range they keep
    to. That range is narrower than the file's: the file is written with care, while a slip of a gloved finger at
    the door (3.73 for 37.3) must not flag everyone or no one until the next restart."""

    zh: str
    en: str
    step: float | None = None  # None: a switch (true or false)
    low: float = 0.0
    high: float = 0.0
    unit: str = ""
    decimals: int = 0  # how the screen and its messages show a value

    def shown(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"


class Setting(NamedTuple):
    key: str
    types: tuple[type, ...]
    default: Any  # None: absent means "none" (no camera, no PIN); see also default_text
    about: str  # one line for the README
    low: float | None = None  # a number below is refused ...
    high: float | Late | None = None  # ... and one above
    above: bool = False  # the low end itself is refused too ("above 0")
    below: bool = False  # the high end itself is refused too
    expected: str = ""  # what a refused value is told, after "expected": may name {low} and {high}
    choices: tuple[str, ...] | Late = ()
    required: bool = False  # the section means nothing without it
    nonempty: bool = False  # "" is refused, with the expected words
    default_text: str = ""  # the README's words for a default worked out at start ($KIOSK_TRUST_DIR, ...)
    bus_default: Any = None  # the default in bus mode ([kiosk] verdict_seconds), where it differs
    admin: AdminControl | None = None
    within: tuple[Setting, ...] = ()  # an inline table's own settings (compensation = { offset = 2.5 })

    @property
    def is_number(self) -> bool:
        return float in self.types or int in self.types

    def options(self) -> tuple[str, ...]:
        return tuple(self.choices.get() if isinstance(self.choices, Late) else self.choices)

    def top(self) -> float | None:
        return self.high.get() if isinstance(self.high, Late) else self.high

    def words(self) -> str:
        """The expected words, with the range's ends put in."""
        return self.expected.format(low=_number(self.low), high=_number(self.top()))

    def problem(self, value: object) -> str | None:
        """What a value of the right type is told when it is out of range or not one of the choices; None: fine."""
        if self.choices:
            options = self.options()
            return None if value in options else " or ".join(f'"{option}"' for option in options)
        if self.nonempty and value == "":
            return self.words()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        low, high = self.low, self.top()
        if not math.isfinite(value) \
                or (low is not None and (value <= low if self.above else value < low)) \
                or (high is not None and (value >= high if self.below else value > high)):
            return self.words()
        return None

    def child(self, key: str) -> Setting:
        return {setting.key: setting for setting in self.within}[key]


class Section(NamedTuple):
    name: str
    about: str  # one line for the README
    settings: dict[str, Setting]
    absent: str = ""  # what a config without the section gets, for the README
    needs: str = ""  # the line when a required setting is missing: "[log] needs path, ..."
    # [policy] is also checked when code makes a Policy: a value of the wrong type is told the setting's own
    # words ("a number of seconds, 0 or more") there, as in the file.
    own_words: bool = False


def section(name: str, about: str, settings: Iterable[Setting], **more: Any) -> Section:
    return Section(name, about, {setting.key: setting for setting in settings}, **more)


def _number(value: float | None) -> str:
    return "" if value is None else str(value)
