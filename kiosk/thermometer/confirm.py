"""Which thermometer readings may decide a verdict: in range, then confirmed by a second reading. Pure.

A GY-906 frame carries an 8-bit sum, so about 1 in 256 frames of line noise passes it (text lines
carry no check at all), and one corrupt frame must not decide a verdict. Two rules, used by the
poller for every protocol:

**Range** (`dropped`): a frame is dropped, and counted, when it says what no sensor or no person
can give:
- outside the *sensor's* range: the raw object temperature, and the ambient (the sensor's own
  temperature) where the frame has one, beyond what the sensor can measure at all. Every protocol
  here is an MLX90614 as far as we know: the GY-906 is one (datasheet: object -70..382.2 °C,
  ambient -40..125 °C), and the text-line bridges and Modbus sensors sold for forehead
  thermometers do not say which sensor they carry, so they get the same range, the widest of the
  common infrared sensors;
- outside `BODY_RANGE` *after compensation*: 224.7 °C or -38.99 °C is not a person. The range is
  wide on purpose: a cold forehead (31 °C) or a sleeve (29.5 °C) is a real measurement of
  something, which the verdict calls implausible ("measure again"), and the wall behind an empty
  doorway (about 23.5 °C) is real too.

**Confirmation** (`confirmed`): a reading counts only when at least `count` readings of the window
(itself included) lie within `tolerance` degrees of it, inclusive (exactly 0.3 apart confirms).
The scan takes the *highest* confirmed reading: an infrared sensor aimed a little off a forehead
reads low, never high, so the top of the window is the forehead, as before, but now a lone frame
cannot be the top. A real sensor at 10 Hz gives a person about 30 consistent readings in a 3 s
window, so a real fever confirms at once; a corrupt frame would need a second corrupt frame within
0.3 °C of it in the same window. A corrupt frame that happens to land within the tolerance of the
real readings is confirmed, but then it is as good as a real reading (off by at most 0.3 °C).
No confirmed reading is no reading: the verdict is `temperature_missing` (RETRY), never DENY.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kiosk.thermometer.types import Sample
from kiosk.verdict import Reading

CONFIRM_TOLERANCE = 0.3  # degrees Celsius between two readings that confirm each other
CONFIRM_COUNT = 2  # readings within the tolerance, the one confirmed included
LATE = 1.0  # seconds a reading may be stamped after the scan (clock jitter), as verdict.is_fresh forgives
# Readings are hundredths of a degree, but 36.8 - 36.5 is 0.30000000000000426 in binary floating
# point: this much slack makes "exactly 0.3 apart" mean what it says, and nothing real lies within it.
SLACK = 1e-6


@dataclass(frozen=True)
class Span:
    """An inclusive range of degrees Celsius; NaN is in none."""

    low: float
    high: float

    def holds(self, celsius: float) -> bool:
        return self.low <= celsius <= self.high

    def __str__(self) -> str:
        return f"{self.low:g}..{self.high:g} °C"


@dataclass(frozen=True)
class SensorRange:
    sensor: str
    object: Span  # what it is aimed at
    ambient: Span  # its own temperature


MLX90614 = SensorRange("MLX90614", Span(-70.0, 382.2), Span(-40.0, 125.0))
SENSOR_RANGES: dict[str, SensorRange] = {"gy906": MLX90614, "textline": MLX90614, "modbus": MLX90614}
BODY_RANGE = Span(20.0, 45.0)  # after compensation; anything else is not a person in front of the sensor


def dropped(protocol: str, sample: Sample, body: float, body_range: Span = BODY_RANGE) -> str | None:
    """Why this frame cannot be a measurement (it is dropped), or None to keep it."""
    sensor = SENSOR_RANGES.get(protocol, MLX90614)
    if not sensor.object.holds(sample.object_c):
        return f"outside range: object {sample.object_c:.2f} °C, {sensor.sensor} measures {sensor.object}"
    if sample.ambient_c is not None and not sensor.ambient.holds(sample.ambient_c):
        return f"outside range: ambient {sample.ambient_c:.2f} °C, {sensor.sensor} works at {sensor.ambient}"
    if not body_range.holds(body):
        return f"outside range: {body:.2f} °C after compensation is not a person ({body_range})"
    return None


@dataclass(frozen=True)
class Rule:
    tolerance: float = CONFIRM_TOLERANCE
    count: int = CONFIRM_COUNT

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ValueError(f"confirmation tolerance must be a number of degrees >= 0, not {self.tolerance!r}")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"confirmation count must be a whole number >= 1, not {self.count!r}")


def in_window(readings: Iterable[Reading], now: float, window: float) -> list[Reading]:
    """The finite readings measured in [now - window, now + LATE]."""
    return [r for r in readings if now - window <= r.taken_at <= now + LATE and math.isfinite(r.celsius)]


def confirmed(readings: Iterable[Reading], now: float, window: float, rule: Rule = Rule()) -> Reading | None:
    """The highest confirmed reading of the window ending at `now`, or None (see the module's docstring).

    Of equal highest values, the latest is taken.
    """
    ordered = sorted(in_window(readings, now, window), key=lambda r: (r.celsius, r.taken_at))
    values = [r.celsius for r in ordered]
    for reading in reversed(ordered):
        if _near(values, reading.celsius, rule.tolerance) >= rule.count:
            return reading
    return None


def supported(reading: Reading, readings: Sequence[Reading], rule: Rule = Rule()) -> bool:
    """Whether `readings` (which hold `reading` itself) confirm `reading`: for marking frames one by one."""
    return sum(1 for r in readings if abs(r.celsius - reading.celsius) <= rule.tolerance + SLACK) >= rule.count


def _near(values: list[float], celsius: float, tolerance: float) -> int:
    """How many of the sorted `values` lie within `tolerance` of `celsius`."""
    return bisect_right(values, celsius + tolerance + SLACK) - bisect_left(values, celsius - tolerance - SLACK)
