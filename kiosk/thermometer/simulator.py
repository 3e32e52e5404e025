"""A thermometer on a pseudo-terminal that answers like the real device, for the demo, tests and installers.

The temperature follows a script; the default compensation (+2.5 degrees,
skin to body) turns the skin temperatures below back into the body
temperatures the scripts name.

`corrupt_every=N` makes every Nth frame a corrupt one that still passes the
protocol's check (checksum, CRC), as line noise does about once in 256 GY-906
frames: the device encodes one of `corrupt` (by default body 39.0, 224.7 and
-38.99 °C, in turn) instead of the person. Requests are fed to the device a
byte at a time, so each reply is exactly one frame and "every Nth" is exact
even when two requests arrive together.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import threading
import time
import tty
from collections.abc import Callable, Mapping
from pathlib import Path

from kiosk.closing import StoppedOnExit
from kiosk.thermometer.protocols import make_device
from kiosk.thermometer.types import Sample

SKIN_BELOW_BODY = 2.5


def person(body: float, ambient: float = 24.0) -> Sample:
    return Sample(round(body - SKIN_BELOW_BODY, 2), ambient, 30.0)


Script = Callable[[float, random.Random], Sample | None]
# What corrupt frames claim, in turn: a fever, and the two readings a test campaign saw from line noise.
CORRUPT = (person(39.0), Sample(222.2, 24.0), Sample(-41.49, 24.0))  # body 39.0, 224.7, -38.99
# A queue at the door for the demo: 4 s each, then the next person.
QUEUE = (person(36.5), person(36.8), person(38.6), Sample(21.0, 21.0, 200.0), person(36.4), Sample(29.0, 4.0, 30.0))

SCRIPTS: dict[str, Script] = {
    "steady": lambda t, rng: person(36.6),
    "fever": lambda t, rng: person(38.4),
    "cold": lambda t, rng: Sample(29.0, 4.0, 30.0),  # a cold forehead from outside in winter: implausible
    "noise": lambda t, rng: person(36.6 + rng.gauss(0, 0.3)),
    "garbage": lambda t, rng: person(36.6),  # with garbage bytes and bad checksums between the frames
    "silent": lambda t, rng: person(36.6) if t < 2.0 else None,  # answers for 2 s, then nothing
    "queue": lambda t, rng: QUEUE[int(t // 4) % len(QUEUE)],
}


class Simulator(StoppedOnExit):
    """Opens a pty and plays `protocol`'s device on its master side in a thread."""

    def __init__(self, protocol: str, options: Mapping[str, object] | None = None, script: str = "steady", *,
                 baudrate: int = 9600, emulate_baud: bool = True, stream_interval: float = 0.1,
                 link: Path | None = None, seed: int = 0, corrupt_every: int = 0,
                 corrupt: tuple[Sample, ...] = CORRUPT) -> None:
        if script not in SCRIPTS:
            raise ValueError(f"unknown script {script!r}; scripts: {', '.join(SCRIPTS)}")
        if corrupt_every < 0 or (corrupt_every and not corrupt):
            raise ValueError(f"corrupt_every must be 0 (never) or more, with samples to send: {corrupt_every}")
        self.device = make_device(protocol, options or {})
        self.line_based = protocol == "textline"
        self.script = script
        self.baudrate, self.emulate_baud, self.stream_interval = baudrate, emulate_baud, stream_interval
        self.link = link
        self.rng = random.Random(seed)
        self.override: Sample | None = None  # tests set a sample directly
        self.silent = False  # the device answers nothing (nobody in range, for a device that says so)
        self.replies = 0
        self.corrupt_every, self.corrupt = corrupt_every, corrupt
        self.frames = 0  # frames sent with a sample in them, corrupt ones included
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self.master = self.slave = -1

    def start(self) -> str:
        """Open the pty, start answering; returns the path the kiosk opens (the link, if any)."""
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)  # no echo, no line editing: bytes as the device sends them
        path = os.ttyname(self.slave)
        if self.link is not None:
            temporary = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(path)
            os.replace(temporary, self.link)  # re-pointing is atomic: a replug, as udev does it
            path = str(self.link)
        self._started = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="thermometer-simulator", daemon=True)
        self._thread.start()
        return path

    def stop(self) -> None:
        """Stop and close the pty: to the kiosk this looks like the adapter being unplugged."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master = self.slave = -1


    def sample_now(self) -> Sample | None:
        if self.silent:
            return None
        if self.override is not None:
            return self.override
        return SCRIPTS[self.script](time.monotonic() - self._started, self.rng)

    def _for_next_frame(self, sample: Sample) -> Sample:
        """What the next frame carries: `sample`, or a corrupt one if it is the Nth."""
        number = self.frames + 1
        if not self.corrupt_every or number % self.corrupt_every:
            return sample
        return self.corrupt[(number // self.corrupt_every - 1) % len(self.corrupt)]

    def _send(self, data: bytes) -> None:
        if self.script == "garbage":
            data = self._spoil(data)
        if self.emulate_baud:
            time.sleep(len(data) * 10 / self.baudrate)  # 8N1: ten bit times a byte on the wire
        os.write(self.master, data)
        self.replies += 1

    def _spoil(self, data: bytes) -> bytes:
        noise = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 6)))
        if self.line_based:
            noise += b"\r\n"  # a line of noise, as a bridge that glitches prints it
        if self.replies % 3 == 2 and data:  # every third frame arrives with a byte flipped
            spoiled = bytearray(data)
            spoiled[self.rng.randrange(len(spoiled))] ^= 0x10
            return noise + bytes(spoiled)
        return noise + data

    def _run(self) -> None:
        received = bytearray()
        next_stream = time.monotonic()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.01)
                if ready:
                    data = os.read(self.master, 1024)
                    if self.emulate_baud:  # the request too took its time on the wire before the device saw it
                        time.sleep(len(data) * 10 / self.baudrate)
                    sample = self.sample_now()
                    for byte in data:  # a reply a request: every frame is counted, and corrupted, alone
                        received.append(byte)
                        carried = None if sample is None else self._for_next_frame(sample)
                        if reply := self.device.answer(received, carried):
                            self.frames += 1
                            self._send(reply)
                if time.monotonic() >= next_stream:
                    next_stream += self.stream_interval
                    sample = self.sample_now()
                    if sample is not None and (chunk := self.device.stream(self._for_next_frame(sample))):
                        self.frames += 1
                        self._send(chunk)
            except OSError:  # the pty closed under us: stop() is on its way
                return
