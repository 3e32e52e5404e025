"""The overview's chart per hour, as SVG geometry the template draws (no script, no chart library). Pure.

One bar an hour of the day, stacked by verdict (pass at the bottom, then deny, then retry), a red tick above
a bar for each hour with fevers. The numbers are the template's to write as attributes: SVG presentation
attributes, not inline styles, so the Content-Security-Policy (style-src 'self') holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 480, 150  # the viewBox; the SVG scales to its box (a phone's 390 px, a desktop's card)
TOP, BOTTOM, LEFT = 14, 18, 26  # room for the fever ticks, the hour labels, the scale
LABEL_EVERY = 3  # hours between labels: eight labels fit a phone's width


@dataclass(frozen=True)
class Hour:
    start: float  # epoch of the hour's start
    label: str  # "14" in the collector's zone
    passes: int
    denies: int
    retries: int
    fevers: int


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "pass", "deny", "retry", "fever"
    title: str  # what a hover (or a screen reader) says


@dataclass(frozen=True)
class Chart:
    rects: list[Rect]
    labels: list[tuple[float, str]]  # (x, text) under the bars
    top: int  # the scale's top value
    baseline: float
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def scale(self) -> str:
        """The top written short enough for the room left of the bars: 5000, 20k, 2M (a city's day)."""
        for size, suffix in ((1_000_000, "M"), (1_000, "k")):
            if self.top >= max(size, 10_000):  # a round top (1, 2 or 5 times a power of ten): no fraction lost
                return f"{self.top // size}{suffix}"
        return str(self.top)


def chart(hours: Sequence[Hour], titles: dict[str, str]) -> Chart:
    """The bars of `hours`; `titles`: the words for "pass", "deny", "retry", "fever" in the page's language."""
    top = max([h.passes + h.denies + h.retries for h in hours] + [1])
    top = _round_up(top)
    plot_height, baseline = HEIGHT - TOP - BOTTOM, float(HEIGHT - BOTTOM)
    slot = (WIDTH - LEFT) / max(1, len(hours))
    bar = max(1.0, slot * 0.72)
    rects: list[Rect] = []
    labels: list[tuple[float, str]] = []
    for i, hour in enumerate(hours):
        x = LEFT + i * slot + (slot - bar) / 2
        y = baseline
        for kind, count in (("pass", hour.passes), ("deny", hour.denies), ("retry", hour.retries)):
            if count:
                height = plot_height * count / top
                y -= height
                rects.append(Rect(round(x, 2), round(y, 2), round(bar, 2), round(height, 2), kind,
                                  f"{hour.label}:00 {titles[kind]} {count}"))
        if hour.fevers:
            rects.append(Rect(round(x, 2), round(max(2.0, y - 8), 2), round(bar, 2), 4.0, "fever",
                              f"{hour.label}:00 {titles['fever']} {hour.fevers}"))
        if i % LABEL_EVERY == 0:
            labels.append((round(x + bar / 2, 2), hour.label))
    return Chart(rects, labels, top, baseline)


def _round_up(value: int) -> int:
    """A round top for the scale: 1, 2, 5, 10, 20, 50, ... at or above `value`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10
