"""What the verdict screen says and shows for each verdict and reason, in Chinese and English. Pure.

The words are the project's terms (kiosk/terms.py): the verdict's title and the
reason's sentence for the person at the door. Colour is never the only signal:
each verdict has its own words and icon, set here with its colours.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from kiosk.terms import REASON_SCREENS, VERDICT_TITLES, words

RGBA = tuple[float, float, float, float]
# verdict -> (icon, RGBA background, RGBA text)
VERDICT_LOOKS: dict[str, tuple[str, RGBA, RGBA]] = {
    "pass": ("tick", (0.05, 0.55, 0.20, 1.0), (1.0, 1.0, 1.0, 1.0)),
    "deny": ("cross", (0.78, 0.08, 0.10, 1.0), (1.0, 1.0, 1.0, 1.0)),
    "retry": ("again", (1.00, 0.70, 0.00, 1.0), (0.08, 0.08, 0.08, 1.0)),  # dark text on amber
}

PROMPT = ("请出示健康码", "Show your health code")
BUS_PROMPT = ("请扫码乘车", "Scan your code to board")
# A code was read before the thermometer had a confirmed reading: the checkpoint waits a moment for one.
MEASURING = ("正在测温…", "measuring...")


@dataclass(frozen=True)
class VerdictWords:
    """What the verdict screen shows: the title and reason in both languages, the icon and the colours."""

    title_zh: str
    title_en: str
    reason_zh: str
    reason_en: str
    icon: str
    background: RGBA
    foreground: RGBA


def temperature_text(celsius: float | None) -> str | None:
    return None if celsius is None else f"{celsius:.1f} °C"


def words_for(verdict: str, reason: str, celsius: float | None) -> VerdictWords:
    """The words of one verdict; an unknown reason is shown by its code rather than hidden."""
    shown_as = verdict if verdict in VERDICT_LOOKS else "deny"  # an unknown verdict is not quietly a pass
    title_zh, title_en = VERDICT_TITLES[shown_as]
    icon, background, foreground = VERDICT_LOOKS[shown_as]
    zh, en = words(REASON_SCREENS, reason)
    shown = temperature_text(celsius) or "?"
    return VerdictWords(title_zh, title_en, zh.format(t=shown), en.format(t=shown), icon, background, foreground)


def unopened_line(device: str, why: str, retry_every: float) -> str:
    """The one line said at start for a device that cannot be opened: which, why, and that it is retried."""
    return f"{device}: cannot be opened ({why}); retrying every {retry_every:g} s"


def open_failure(error: str | None) -> str | None:
    """Why a serial port cannot be opened, from its device's last error ("cannot open ...: [Errno 2] could not open
    port ...: [Errno 2] No such file or directory: '...'" is "no such file or directory"); None: not that."""
    if error is None or not error.startswith("cannot open"):
        return None
    numbers = re.findall(r"\[Errno (\d+)\]", error)
    if numbers:
        return os.strerror(int(numbers[-1])).lower()
    return error.split(": ", 1)[-1].strip()[:120] or "unknown error"
