"""`run_ui`: the touchscreen, from `kiosk run` and `kiosk demo`.

This module imports no Kivy: Kivy's environment must be set before its first
import (kiosk/ui/env.py), so the app module is imported only once that is done.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.checkpoint.flow import Checkpoint
from kiosk.checkpoint.settings import KioskSettings
from kiosk.ui import env

if TYPE_CHECKING:
    from kiosk.scanner.preview_buffer import FrameBuffer
    from kiosk.ui.admin_api import AdminApi
    from kiosk.ui.kioskapp import KioskApp


def make_app(checkpoint: Checkpoint, settings: KioskSettings, admin: AdminApi | None = None, *,
             screenshots: Path | None = None, exit_when_ended: bool = False, windowed: bool = False,
             on_ready: Callable[[], None] | None = None, size: tuple[int, int] | None = None,
             preview: FrameBuffer | None = None) -> KioskApp:
    """The app, not yet running: run_ui runs it; tests drive it frame by frame (tests/ui_harness.py)."""
    ui = env.prepare(settings, windowed=windowed, size=size)
    from kiosk.ui.kioskapp import KioskApp

    return KioskApp(checkpoint, settings, admin, ui, screenshots=screenshots, exit_when_ended=exit_when_ended,
                    on_ready=on_ready, preview=preview)


def run_ui(checkpoint: Checkpoint, settings: KioskSettings, admin: AdminApi | None = None, *,
           screenshots: Path | None = None, exit_when_ended: bool = False, windowed: bool = False,
           on_ready: Callable[[], None] | None = None, preview: FrameBuffer | None = None) -> int:
    """Show the checkpoint until the window closes (or, with `exit_when_ended`, its sources end); returns 0.

    Starts the checkpoint with the UI as its listener once the screens exist,
    and stops it on the way out, whatever happened. `screenshots`: a PNG of
    each screen the first time it is shown. `on_ready`: called at the Scan
    screen's first drawn frame. `preview`: the buffer the camera pipeline puts its frames into (else no picture).
    """
    app = make_app(checkpoint, settings, admin, screenshots=screenshots, exit_when_ended=exit_when_ended,
                   windowed=windowed, on_ready=on_ready, preview=preview)
    with checkpoint:
        try:
            app.run()
        finally:
            app.shutdown()  # the app's clocks and window hooks first, then the checkpoint
    return 0
