"""Site policy: the thresholds of spec section 5, and the content rules of HC1 (section 9), each configurable.

Their types, defaults and ranges are declared once, in kiosk/settings_table.py
([policy], [hc1]); a Policy checks its own values against them whether it was
read from the config file or made in code, so every bad value is the same one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from kiosk.settings_table import SECTIONS, default
from kiosk.tables import bad, check_section


@dataclass(frozen=True)
class Hc1Rules:
    """[hc1]: how long an EU DCC's vaccination, test or recovery counts (kiosk/formats/hc1_rules.py applies them)."""

    vaccination_min_days: int = default("hc1", "vaccination_min_days")  # days after the last dose before it counts
    vaccination_max_days: int = default("hc1", "vaccination_max_days")  # ... and until it no longer does
    test_max_hours_naat: float = default("hc1", "test_max_hours_naat")  # hours after the sample: NAAT (PCR)
    test_max_hours_rat: float = default("hc1", "test_max_hours_rat")  # ... rapid antigen

    def __post_init__(self) -> None:
        check_section(SECTIONS["hc1"], {f.name: getattr(self, f.name) for f in fields(self)})
        if self.vaccination_max_days < self.vaccination_min_days:  # the one rule between two settings
            raise bad("hc1", "vaccination_max_days", self.vaccination_max_days,
                      f"days at least vaccination_min_days ({self.vaccination_min_days})")

    @classmethod
    def from_table(cls, table: object) -> Hc1Rules:
        """The [hc1] section of a config file: its values, else the declared defaults."""
        return cls(**check_section(SECTIONS["hc1"], table))


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
    hc1: Hc1Rules = field(default_factory=Hc1Rules)  # [hc1], its own section of the config file

    def __post_init__(self) -> None:
        # The messages name the [policy] setting as the config file spells it: most values come from there.
        check_section(SECTIONS["policy"], self._values())
        if self.plausible_min > self.plausible_max:  # the one rule between two settings
            raise bad("policy", "plausible_min", self.plausible_min,
                      f"a temperature at most plausible_max ({self.plausible_max})")

    def _values(self) -> dict[str, object]:
        """The [policy] settings (hc1 is a section of its own)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "hc1"}

    @classmethod
    def from_table(cls, table: object, hc1: object = None) -> Policy:
        """The [policy] section of a config file, and its [hc1] (None: absent): their values, else the defaults."""
        rules = Hc1Rules() if hc1 is None else Hc1Rules.from_table(hc1)
        return cls(**check_section(SECTIONS["policy"], table), hc1=rules)

    def with_values(self, values: Mapping[str, object]) -> Policy:
        """A copy with `values` (e.g. a TOML [policy] table) applied; unknown names are errors. [hc1] stays."""
        return Policy(**check_section(SECTIONS["policy"], {**self._values(), **values}), hc1=self.hc1)
