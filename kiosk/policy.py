"""Site policy: the thresholds of spec section 5, each configurable per site.

Their types, defaults and ranges are declared once, in kiosk/settings_table.py
([policy]); a Policy checks its own values against them whether it was read
from the config file or made in code, so every bad value is the same one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from kiosk.settings_table import SECTIONS, default
from kiosk.tables import bad, check_section


@dataclass(frozen=True)
class Policy:
    skew: float = default("policy", "skew")  # seconds of clock difference forgiven on iat and exp
    max_age: float = default("policy", "max_age")  # seconds a dynamic (phone) code stays good after iat
    accept_printed: bool = default("policy", "accept_printed")
    require_temperature: bool = default("policy", "require_temperature")  # a checkpoint with a thermometer sets it
    fever_threshold: float = default("policy", "fever_threshold")  # degrees Celsius, reading >= this is a fever
    plausible_min: float = default("policy", "plausible_min")
    plausible_max: float = default("policy", "plausible_max")
    reading_window: float = default("policy", "reading_window")  # seconds: a reading older than this is not fresh

    def __post_init__(self) -> None:
        # The messages name the [policy] setting as the config file spells it: most values come from there.
        check_section(SECTIONS["policy"], {f.name: getattr(self, f.name) for f in fields(self)})
        if self.plausible_min > self.plausible_max:  # the one rule between two settings
            raise bad("policy", "plausible_min", self.plausible_min,
                      f"a temperature at most plausible_max ({self.plausible_max})")

    @classmethod
    def from_table(cls, table: object) -> Policy:
        """The [policy] section of a config file: its values, else the declared defaults."""
        return cls(**check_section(SECTIONS["policy"], table))

    def with_values(self, values: Mapping[str, object]) -> Policy:
        """A copy with `values` (e.g. a TOML [policy] table) applied; unknown names are errors."""
        return Policy.from_table({**{f.name: getattr(self, f.name) for f in fields(self)}, **values})
