"""The two screens the people at the door see: Scan (camera, prompt, thermometer) and Verdict.

Both only copy plain values (a VerdictView, a thermometer Line) into Kivy
properties; the layout is scan.kv and verdict.kv. OneLineLabel is the one
widget of their own: a title that must never break over two lines.
"""

from __future__ import annotations

from typing import Any

from kivy.core.text import Label as CoreLabel  # type: ignore[import-untyped]
from kivy.properties import (  # type: ignore[import-untyped]
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.label import Label  # type: ignore[import-untyped]
from kivy.uix.screenmanager import Screen  # type: ignore[import-untyped]

from kiosk.audit.recorder import LOG_DOWN
from kiosk.checkpoint.view import VerdictView
from kiosk.checkpoint.wording import BUS_PROMPT, PROMPT
from kiosk.ui.texts import LINE_COLOURS, Line

FIT_MARGIN = 0.96  # of the width: glyph hinting at the smaller size must not push the last character over


class OneLineLabel(Label):  # type: ignore[misc]
    """A label whose text stays on one line: drawn at `largest`, or smaller where that would not fit its width.

    "禁止通行" broken after three characters reads as two words; a smaller title
    reads as one. The text is measured at `largest` and the font scaled down
    by the overflow (glyph widths grow in proportion to the font size).
    """

    largest = NumericProperty(40)  # the font size in pixels when there is room (kv derives it from the window)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(text=self._fit, width=self._fit, largest=self._fit, font_name=self._fit, bold=self._fit,
                  padding=self._fit)
        self._fit()

    def _fit(self, *_: object) -> None:
        room = self.width - self.padding[0] - self.padding[2]
        wide = 0
        if self.text and room > 0:
            measure = CoreLabel(font_size=self.largest, font_name=self.font_name, bold=self.bold)
            wide = max(measure.get_extents(line)[0] for line in self.text.split("\n"))
        self.font_size = self.largest if wide <= room * FIT_MARGIN else self.largest * room * FIT_MARGIN / wide


class ScanScreen(Screen):  # type: ignore[misc]
    prompt_zh = StringProperty(PROMPT[0])
    prompt_en = StringProperty(PROMPT[1])
    vehicle = StringProperty("")
    thermometer = StringProperty("")  # "" : no thermometer line at all (a bus)
    thermometer_colour = ColorProperty(LINE_COLOURS["ok"])

    def set_mode(self, bus: bool, vehicle: str) -> None:
        self.prompt_zh, self.prompt_en = BUS_PROMPT if bus else PROMPT
        self.vehicle = vehicle if bus else ""

    def show_thermometer(self, line: Line | None) -> None:
        if line is None:
            self.thermometer = ""
            return
        self.thermometer = f"{line.zh}\n{line.en}"
        self.thermometer_colour = LINE_COLOURS.get(line.level, LINE_COLOURS["alarm"])


class VerdictScreen(Screen):  # type: ignore[misc]
    verdict = StringProperty("")
    icon = StringProperty("tick")
    title_zh = StringProperty("")
    title_en = StringProperty("")
    reason_zh = StringProperty("")
    reason_en = StringProperty("")
    person = StringProperty("")  # an HC1 certificate's type, the masked name, the temperature, when there are any
    vehicle = StringProperty("")  # bus mode: which bus, under every verdict ("" at a door)
    background = ColorProperty((0, 0, 0, 1))
    ink = ColorProperty((1, 1, 1, 1))
    warned = BooleanProperty(False)  # the log was not written: said in small print for the volunteer

    def set_mode(self, bus: bool, vehicle: str) -> None:
        self.vehicle = vehicle if bus else ""

    def show(self, view: VerdictView) -> None:
        self.verdict, self.icon = view.verdict, view.icon
        self.title_zh, self.title_en = view.title_zh, view.title_en
        self.reason_zh, self.reason_en = view.reason_zh, view.reason_en
        self.person = "    ".join(p for p in (view.certificate, view.name, view.temperature) if p)
        self.background, self.ink = view.background, view.foreground
        self.warned = any(w.startswith(LOG_DOWN) for w in view.warnings)
