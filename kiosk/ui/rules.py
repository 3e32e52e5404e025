"""The kv rules and the font, loaded once per process (a second load would apply every rule twice)."""

from __future__ import annotations

import logging
from pathlib import Path

from kivy.core.text import LabelBase  # type: ignore[import-untyped]
from kivy.lang import Builder  # type: ignore[import-untyped]
from kivy.resources import resource_find  # type: ignore[import-untyped]

from kiosk.ui.env import FONT_NAME

log = logging.getLogger("kiosk.ui")
HERE = Path(__file__).resolve().parent
KV_FILES = ("base.kv", "scan.kv", "verdict.kv", "pin.kv", "admin.kv")
_loaded = False


def register_classes() -> None:
    """Import the widget classes the kv rules name: Kivy registers every Widget subclass when it is defined."""
    from kiosk.ui import admin_screens, icons, pin_screen, preview, screens, status  # noqa: F401


def load(font: Path | None) -> None:
    global _loaded
    if _loaded:
        return
    if font is None:  # Chinese will show as boxes; say so once rather than silently
        log.warning("no Chinese font found (install fonts-wqy-microhei): Chinese text will not render")
        LabelBase.register(FONT_NAME, resource_find("data/fonts/Roboto-Regular.ttf"))
    else:
        LabelBase.register(FONT_NAME, str(font))
    register_classes()
    for name in KV_FILES:
        Builder.load_file(str(HERE / name))
    _loaded = True
