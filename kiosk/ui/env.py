"""Kivy's environment, chosen once and before Kivy is imported: files, logging, video driver, window, font.

Kivy reads its environment variables when `kivy` is first imported and makes
the window when `kivy.core.window` is, so everything here must run first;
importing this module imports no Kivy. The platform choices (offscreen with no
display, fullscreen or not) are made here and nowhere else.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kiosk.checkpoint.settings import KioskSettings

FONT_NAME = "KioskCJK"  # registered with LabelBase; every kv rule names it
# Debian's fonts-wqy-microhei first (what run.sh installs), then fonts-noto-cjk and friends.
FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
              "/usr/share/fonts/truetype/arphic/uming.ttc")
DOOR_SIZE = (1280, 800)  # a 10" kiosk panel
BUS_SIZE = (1024, 600)  # a 7" tablet at a bus door


@dataclass(frozen=True)
class UiEnv:
    kivy_home: Path
    cache: Path  # the verdict sounds
    size: tuple[int, int]
    fullscreen: bool
    offscreen: bool
    font: Path | None  # None: no CJK font found, Chinese would show as boxes


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def find_cjk_font(candidates: tuple[str, ...] = FONT_FILES) -> Path | None:
    """A font file with Chinese glyphs: a known Debian path, else whatever fontconfig lists for zh."""
    for name in candidates:
        if Path(name).is_file():
            return Path(name)
    if shutil.which("fc-list"):
        try:
            listed = subprocess.run(["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=5,
                                    check=False).stdout
        except (OSError, subprocess.SubprocessError):
            listed = ""
        # fc-list prints "path: " per font; SDL_ttf reads TrueType and OpenType collections alike.
        files = sorted(line.split(":")[0].strip() for line in listed.splitlines() if line.strip())
        for name in files:
            if name.lower().endswith((".ttf", ".ttc", ".otf")) and Path(name).is_file():
                return Path(name)
    return None


def _not_cutbuffer(record: logging.LogRecord) -> bool:
    # Every TextInput on Linux looks for xclip/xsel for X's middle-click "cut buffer" and logs a CRITICAL
    # traceback when neither is installed. A kiosk has no middle button; the clipboard itself is SDL's.
    return not str(record.msg).startswith("Cutbuffer: Unable to find")


def _chatter_at_debug(record: logging.LogRecord) -> bool:
    # Kivy's start-up INFO lines (its version, paths, GL, providers) reach stderr through the kiosk's own
    # handlers, which pass whatever a logger lets through: they are debugging detail, logged at debug level.
    if record.levelno < logging.WARNING:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # Kivy's config and our cache: nobody else's business, nobody else's to alter
    return path


def prepare(settings: KioskSettings, *, windowed: bool = False, size: tuple[int, int] | None = None) -> UiEnv:
    """Set Kivy's environment variables and configuration; call before anything imports Kivy."""
    cache_root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kiosk"
    # A KIVY_HOME set by the caller (tests, a packaged image) wins; otherwise Kivy would write into ~/.kivy.
    kivy_home = _private_dir(Path(os.environ.get("KIVY_HOME") or cache_root / "kivy"))
    offscreen = not has_display()
    env = {"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_LOG_MODE": "PYTHON", "KIVY_HOME": str(kivy_home),
           "KIVY_NO_FILELOG": "1",
           # SDL's own clipboard and audio: Kivy would otherwise probe xclip, xsel, GStreamer and ffpyplayer,
           # logging a traceback for each one missing, at every start.
           "KIVY_CLIPBOARD": "sdl2,dummy", "KIVY_AUDIO": "sdl2"}
    if offscreen:
        env["SDL_VIDEODRIVER"] = "offscreen"  # EGL on Mesa's llvmpipe: draws, screenshots, no screen needed
    os.environ.update(env)
    kivy_log = logging.getLogger("kivy")  # KIVY_LOG_MODE=PYTHON: Kivy logs here, to our handlers
    for only in (_not_cutbuffer, _chatter_at_debug):
        if only not in kivy_log.filters:
            kivy_log.addFilter(only)
    size = size or (BUS_SIZE if settings.bus else DOOR_SIZE)
    fullscreen = settings.fullscreen and not windowed and not offscreen
    ui = UiEnv(kivy_home, _private_dir(cache_root / "sounds"), size, fullscreen, offscreen, find_cjk_font())
    _configure_kivy(ui)
    return ui


def _configure_kivy(ui: UiEnv) -> None:
    from kivy.config import Config  # type: ignore[import-untyped]  # kivy.config makes no window

    Config.set("graphics", "width", str(ui.size[0]))
    Config.set("graphics", "height", str(ui.size[1]))
    Config.set("graphics", "fullscreen", "auto" if ui.fullscreen else "0")
    Config.set("graphics", "resizable", "0" if ui.fullscreen else "1")
    # No multisampling: with Mesa's software renderer (a kiosk without a GPU) 2x MSAA costs ~20 ms a frame,
    # a fifth of the 100 ms budget for a verdict; the icons smooth their own edges instead (icons.py).
    Config.set("graphics", "multisamples", "0")
    # A kiosk screen must never blank, and nobody at the door should be able to quit it with a key.
    Config.set("graphics", "allow_screensaver", "0" if ui.fullscreen else "1")
    Config.set("graphics", "show_cursor", "0" if ui.fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "0" if ui.fullscreen else "1")
    # The kiosk has a touchscreen and maybe no keyboard: the admin form then gets Kivy's on-screen one.
    Config.set("kivy", "keyboard_mode", "systemanddock" if ui.fullscreen else "system")
    Config.set("kivy", "log_enable", "0")
    Config.set("kivy", "log_level", "warning")
    # Kivy set its logger's level from its config file when it was imported: its start-up chatter (GL
    # version, providers) is not the kiosk's log.
    logging.getLogger("kivy").setLevel(logging.WARNING)
