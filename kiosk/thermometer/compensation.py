"""From forehead skin to body temperature. Pure.

An infrared sensor sees the skin, which reads 2-3 degrees below the body core,
and reads lower still in a cold entrance. Without compensation a fever of
38.5 would show as 36 and pass, so the default adds 2.5 degrees; a device
that reports body temperature itself gets `offset = 0`.

    body = object + offset + ambient_slope * (ambient_ref - ambient)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from kiosk.errors import ConfigError
from kiosk.settings_table import default
from kiosk.thermometer.types import Sample


@dataclass(frozen=True)
class Compensation:
    # Defaults: [thermometer] compensation, declared in kiosk/settings_table.py.
    offset: float = default("thermometer", "compensation.offset")  # degrees added to the skin reading
    ambient_slope: float = default("thermometer", "compensation.ambient_slope")  # per degree below ambient_ref
    ambient_ref: float = default("thermometer", "compensation.ambient_ref")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"thermometer compensation {f.name} must be a number, not {value!r}")

    def body(self, sample: Sample) -> float:
        """The body temperature for a sample, to the hundredth of a degree."""
        celsius = sample.object_c + self.offset
        if sample.ambient_c is not None and self.ambient_slope:
            celsius += self.ambient_slope * (self.ambient_ref - sample.ambient_c)
        return round(celsius, 2)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Compensation:
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise ConfigError(f"unknown compensation setting(s): {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        return cls(**values)  # type: ignore[arg-type]
