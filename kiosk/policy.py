"""Site policy: the thresholds of spec section 5, each configurable per site."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from kiosk.errors import ConfigError
from kiosk.tables import bad, names


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Policy:
    skew: float = 120.0  # seconds of clock difference forgiven on iat and exp
    max_age: float = 300.0  # seconds a dynamic (phone) code stays good after iat
    accept_printed: bool = True
    require_temperature: bool = False  # a checkpoint with a thermometer sets this
    fever_threshold: float = 37.3  # degrees Celsius, reading >= this is a fever
    plausible_min: float = 34.0
    plausible_max: float = 43.0
    reading_window: float = 3.0  # seconds: a reading older than this is not fresh

    def __post_init__(self) -> None:
        # The messages name the [policy] setting as the config file spells it: most values come from there.
        for name in ("skew", "max_age", "reading_window"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value) and value >= 0):
                raise bad("policy", name, value, "a number of seconds, 0 or more")
        for name in ("fever_threshold", "plausible_min", "plausible_max"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value)):
                raise bad("policy", name, value, "a temperature in Celsius, e.g. 37.3")
        if self.plausible_min > self.plausible_max:
            raise bad("policy", "plausible_min", self.plausible_min,
                      f"a temperature at most plausible_max ({self.plausible_max})")
        for name in ("accept_printed", "require_temperature"):
            if not isinstance(getattr(self, name), bool):
                raise bad("policy", name, getattr(self, name), "true or false")

    def with_values(self, values: Mapping[str, object]) -> Policy:
        """A copy with `values` (e.g. a TOML [policy] table) applied; unknown names are errors."""
        known = [f.name for f in fields(self)]
        unknown = sorted(set(values) - set(known), key=str)
        if unknown:
            raise ConfigError(f"[policy] unknown setting(s): {names(unknown)}; expected one of: {', '.join(known)}")
        return replace(self, **values)  # type: ignore[arg-type]
