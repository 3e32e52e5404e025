"""The verdict icons, drawn with canvas instructions: a tick, a cross, a circular arrow.

Drawn rather than taken from a font, so they never turn into a missing-glyph
box, and shaped differently enough to tell apart without colour (a
colour-blind volunteer, a washed-out screen in the sun).
"""

from __future__ import annotations

import math
from typing import Any

from kivy.graphics import Color, Ellipse, Line, SmoothLine, Triangle  # type: ignore[import-untyped]
from kivy.properties import ColorProperty, OptionProperty  # type: ignore[import-untyped]
from kivy.uix.behaviors import ButtonBehavior  # type: ignore[import-untyped]
from kivy.uix.widget import Widget  # type: ignore[import-untyped]

# The symbols on a unit square, (0, 0) bottom left.
TICK = (0.27, 0.52, 0.43, 0.35, 0.74, 0.67)
CROSS = ((0.31, 0.31, 0.69, 0.69), (0.31, 0.69, 0.69, 0.31))


def _stroke(points: list[tuple[float, float]], width: float) -> None:
    """A thick line with round ends, the ends drawn as discs (Kivy's own round caps leave a pixel hole)."""
    Line(points=[c for p in points for c in p], width=width, cap="none", joint="round")
    for x, y in (points[0], points[-1]):
        Ellipse(pos=(x - width, y - width), size=(2 * width, 2 * width))


class VerdictIcon(Widget):  # type: ignore[misc]
    kind = OptionProperty("tick", options=["tick", "cross", "again"])
    disc = ColorProperty((1, 1, 1, 1))  # the filled circle
    mark = ColorProperty((0, 0, 0, 1))  # the symbol on it

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, kind=self._draw, disc=self._draw, mark=self._draw)
        self._draw()

    def _draw(self, *_: object) -> None:
        side = min(self.width, self.height)
        x0, y0 = self.center_x - side / 2, self.center_y - side / 2
        width = max(2.0, side * 0.075)

        def at(u: float, v: float) -> tuple[float, float]:
            return x0 + u * side, y0 + v * side

        self.canvas.clear()
        with self.canvas:
            Color(rgba=self.disc)
            Ellipse(pos=(x0, y0), size=(side, side))
            SmoothLine(ellipse=(x0, y0, side, side), width=1.0)  # an anti-aliased rim: no MSAA (env.py)
            Color(rgba=self.mark)
            if self.kind == "tick":
                _stroke([at(TICK[i], TICK[i + 1]) for i in range(0, 6, 2)], width)
            elif self.kind == "cross":
                for u1, v1, u2, v2 in CROSS:
                    _stroke([at(u1, v1), at(u2, v2)], width)
            else:
                self._arrow(x0 + side / 2, y0 + side / 2, side * 0.27, width)

    @staticmethod
    def _arrow(cx: float, cy: float, radius: float, width: float) -> None:
        """Three quarters of a circle, clockwise, with an arrow head: "once more"."""
        start, end = 50.0, 320.0  # Kivy's angles: degrees clockwise from twelve o'clock
        Line(circle=(cx, cy, radius, start, end), width=width, cap="none")
        a = math.radians(end)
        px, py = cx + radius * math.sin(a), cy + radius * math.cos(a)  # where the arc ends
        nx, ny = math.sin(a), math.cos(a)  # outwards there
        tip = math.radians(end + 46)  # the point follows the circle on, so the head curves with the arc
        half = width * 2.3
        Triangle(points=[cx + radius * math.sin(tip), cy + radius * math.cos(tip), px + nx * half, py + ny * half,
                         px - nx * half, py - ny * half])

class GearButton(ButtonBehavior, Widget):  # type: ignore[misc]
    """The admin button: a gear drawn as a ring with eight teeth (64 dp to hit, small to look at)."""

    ink = ColorProperty((0.85, 0.88, 0.95, 1))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, ink=self._draw, state=self._draw)
        self._draw()

    def _draw(self, *_: object) -> None:
        cx, cy = self.center
        radius = min(self.width, self.height) * 0.24
        width = max(1.5, radius * 0.28)
        self.canvas.clear()
        with self.canvas:
            Color(rgba=(0.28, 0.32, 0.40, 1) if self.state == "down" else (0.16, 0.19, 0.23, 1))
            Ellipse(pos=(self.x, self.y), size=self.size)
            Color(rgba=self.ink)
            Line(circle=(cx, cy, radius), width=width)
            for tooth in range(8):
                a = math.radians(tooth * 45)
                Line(points=[cx + radius * 1.1 * math.sin(a), cy + radius * 1.1 * math.cos(a),
                             cx + radius * 1.6 * math.sin(a), cy + radius * 1.6 * math.cos(a)], width=width * 1.1)
