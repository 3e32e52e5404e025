"""A sound per verdict, so a volunteer hears it without looking: made with numpy at start, played by Kivy.

pass: a rising two-tone chime; deny: a low buzz; retry: two short beeps. The
WAV files are generated into a cache folder (no sound files to ship or
license). With sound turned off, or no audio device, nothing plays and nothing
complains: the screen alone still says everything.
"""

from __future__ import annotations

import logging
import os
import wave
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.fileio import write_atomically

log = logging.getLogger("kiosk.ui")
RATE = 22050
# verdict -> [(frequency Hz, seconds)], 0 Hz is a pause; "square" buzzes rather than rings.
TUNES: dict[str, tuple[list[tuple[float, float]], bool]] = {
    "pass": ([(880.0, 0.12), (1318.5, 0.20)], False),
    "deny": ([(180.0, 0.55)], True),
    "retry": ([(740.0, 0.10), (0.0, 0.08), (740.0, 0.10)], False),
}


def tune(notes: list[tuple[float, float]], square: bool, volume: float = 0.6) -> np.ndarray[Any, np.dtype[np.int16]]:
    """16-bit mono samples; each note fades in and out over 8 ms so it starts and ends without a click."""
    parts = []
    for frequency, seconds in notes:
        t = np.arange(int(seconds * RATE)) / RATE
        wave_ = np.zeros_like(t) if frequency == 0 else np.sin(2 * np.pi * frequency * t)
        if square and frequency:
            wave_ = np.clip(wave_ * 4, -1, 1) * 0.7  # a soft square: buzzy, not harsh
        ramp = min(len(t) // 2, int(0.008 * RATE))
        if ramp:
            envelope = np.ones_like(t)
            envelope[:ramp] = np.linspace(0, 1, ramp)
            envelope[-ramp:] = np.linspace(1, 0, ramp)
            wave_ = wave_ * envelope
        parts.append(wave_)
    samples = np.concatenate(parts) * volume * 32767
    return samples.astype(np.int16)


def wav_bytes(samples: np.ndarray[Any, np.dtype[np.int16]]) -> bytes:
    import io

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def make_sounds(folder: Path) -> dict[str, Path]:
    """Write the three verdict sounds into `folder` (unchanged files are left alone); verdict -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for verdict, (notes, square) in TUNES.items():
        path = folder / f"{verdict}.wav"
        data = wav_bytes(tune(notes, square))
        if not path.is_file() or path.read_bytes() != data:
            write_atomically(path, data)
        paths[verdict] = path
    return paths


def audio_device_present() -> bool:
    """A sound card, or a sound server to play through; without either SDL only prints ALSA errors."""
    if os.environ.get("SDL_AUDIODRIVER"):
        return True  # chosen by hand: trust it
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    if any(Path(runtime, name).exists() for name in ("pulse/native", "pipewire-0")):
        return True
    try:
        return any(name.startswith("pcmC") and name.endswith("p") for name in os.listdir("/dev/snd"))
    except OSError:
        return False


class Sounds:
    """Plays a verdict's sound; silently nothing when off or when the audio device cannot be opened."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self._sounds: dict[str, Any] = {}
        if not enabled or not audio_device_present():
            return
        try:
            from kivy.core.audio import SoundLoader  # type: ignore[import-untyped]

            for verdict, path in make_sounds(folder).items():
                sound = SoundLoader.load(str(path))
                if sound is not None:
                    self._sounds[verdict] = sound
        except Exception as err:  # no audio device, no SDL_mixer: the kiosk works without sound
            log.info("no verdict sounds: %s", err)
            self._sounds = {}

    @property
    def available(self) -> bool:
        return bool(self._sounds)

    def play(self, verdict: str) -> None:
        sound = self._sounds.get(verdict)
        if sound is None:
            return
        try:
            sound.stop()  # the next person's verdict cuts the last one short rather than overlapping it
            sound.play()
        except Exception as err:
            log.info("verdict sound failed: %s", err)
