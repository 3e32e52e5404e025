"""Which camera frames to decode: every one while codes come, a few a second once none has for a while.

A kiosk on a battery (a tablet on a bus) spends most of its day looking at an empty doorway,
and decoding every frame of a 1280x720 camera at 30 fps costs about a sixth of a core. Once no
code has been seen for `idle_after` seconds the pipeline decodes `idle_fps` frames a second and
takes the others off the camera without turning them into pictures; the first decoded frame in
which zxing-cpp locates a code (read or not) brings back every frame. A code held out while idle
is read within 1/idle_fps seconds and a frame or two. Pure: the times are arguments.
"""

from __future__ import annotations

import math

IDLE_AFTER = 10.0  # seconds with no code seen before the pipeline decodes fewer frames
IDLE_FPS = 5.0  # frames decoded a second while idle


class IdleSchedule:
    """Says, for each frame as it is taken, whether to decode it; told when a code was seen."""

    def __init__(self, idle_after: float | None = IDLE_AFTER, idle_fps: float = IDLE_FPS) -> None:
        if idle_after is not None and not (idle_after >= 0 and math.isfinite(idle_after)):
            raise ValueError("idle_after must be 0 or more seconds (0 or None: never idle)")
        if not (idle_fps > 0 and math.isfinite(idle_fps)):
            raise ValueError("idle_fps must be more than 0 frames a second")
        self.idle_after = idle_after or None  # 0 turns idle mode off, as in the config file
        self.period = 1.0 / idle_fps
        self._last_code: float | None = None  # when a code was last seen; at first, the first frame's time
        self._next = -math.inf  # when the next frame is due for decoding while idle

    @classmethod
    def never(cls) -> IdleSchedule:
        """Every frame decoded, always (what the pipeline did before idle mode)."""
        return cls(idle_after=None)

    def idle(self, now: float) -> bool:
        """Whether no code has been seen for `idle_after` seconds at `now` (quiet counts from the first frame)."""
        if self.idle_after is None:
            return False
        if self._last_code is None:
            self._last_code = now
        return now - self._last_code >= self.idle_after

    def should_decode(self, now: float) -> bool:
        """Whether to decode the frame taken at `now`; a yes while idle is that period's decode."""
        if not self.idle(now):
            return True
        if now < self._next - self.period / 10:  # a tenth of a period early still counts: frame times jitter
            return False
        # Keep the phase (5 of 30 fps is every 6th frame); after a stall start over from now.
        self._next = self._next + self.period if now < self._next + self.period else now + self.period
        return True

    def code_seen(self, now: float) -> None:
        """A decoded frame taken at `now` showed a code: every frame from here on."""
        self._last_code = now if self._last_code is None else max(self._last_code, now)
