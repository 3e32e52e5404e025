"""Site policy: the thresholds of spec section 5, each configurable per site."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from kiosk.errors import ConfigError


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
        for name in ("skew", "max_age", "reading_window"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"policy {name} must be a number of seconds >= 0, not {value!r}")
        for name in ("fever_threshold", "plausible_min", "plausible_max"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value)):
                raise ConfigError(f"policy {name} must be a temperature in Celsius, not {value!r}")
        if self.plausible_min > self.plausible_max:
            raise ConfigError("policy plausible_min is above plausible_max")
        for name in ("accept_printed", "require_temperature"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"policy {name} must be true or false")

    def with_values(self, values: Mapping[str, object]) -> Policy:
        """A copy with `values` (e.g. a TOML [policy] table) applied; unknown names are errors."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown policy setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **values)  # type: ignore[arg-type]
