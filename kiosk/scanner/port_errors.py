"""Why a serial port cannot be opened, in a few words, from the error its device kept. Pure.

pyserial says "could not open port /dev/ttyACM0: [Errno 2] No such file or
directory: '/dev/ttyACM0'"; the kiosk's one line at start says "no such file or
directory". Shared by the serial 2D scanner and the thermometer, both pyserial.
"""

from __future__ import annotations

import os
import re

_ERRNO = re.compile(r"\[Errno (\d+)\]")


def why_not_opened(error: str | None) -> str | None:
    """The words for a device's last error when it is a failed open ("cannot open ..."); None: it is not one."""
    if error is None or not error.startswith("cannot open"):
        return None
    numbers = _ERRNO.findall(error)
    if numbers:
        return os.strerror(int(numbers[-1])).lower()
    return error.split(": ", 1)[-1].strip()[:120] or "unknown error"
