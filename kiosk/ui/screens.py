"""The two screens the people at the door see: Scan (camera, prompt, thermometer) and Verdict.

Both only copy plain values (a VerdictView, a thermometer Line) into Kivy
properties; the layout is scan.kv and verdict.kv.
"""

from __future__ import annotations

from kivy.properties import (  # type: ignore[import-untyped]
    BooleanProperty,
    ColorProperty,
    StringProperty,
)
from kivy.uix.screenmanager import Screen  # type: ignore[import-untyped]

from kiosk.audit.recorder import LOG_DOWN
from kiosk.checkpoint.view import VerdictView
from kiosk.checkpoint.wording import BUS_PROMPT, PROMPT
from kiosk.ui.texts import LINE_COLOURS, Line


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
    person = StringProperty("")  # the masked name and the temperature, when there are any
    background = ColorProperty((0, 0, 0, 1))
    ink = ColorProperty((1, 1, 1, 1))
    warned = BooleanProperty(False)  # the log was not written: said in small print for the volunteer

    def show(self, view: VerdictView) -> None:
        self.verdict, self.icon = view.verdict, view.icon
        self.title_zh, self.title_en = view.title_zh, view.title_en
        self.reason_zh, self.reason_en = view.reason_zh, view.reason_en
        self.person = "    ".join(p for p in (view.name, view.temperature) if p)
        self.background, self.ink = view.background, view.foreground
        self.warned = any(w.startswith(LOG_DOWN) for w in view.warnings)
