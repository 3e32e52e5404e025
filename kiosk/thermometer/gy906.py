"""GY-MCU90614 / GY-906 UART modules: an MLX90614 behind a small MCU that talks in fixed frames.

Kiosk to module, three bytes `A5 cmd sum`:  `A5 15 BA` asks for one reading,
`A5 45 EA` makes the module send readings by itself (continuous output).
Module to kiosk, nine bytes: `5A 5A 45 04 TOh TOl TAh TAl SUM`, SUM the low byte of the sum of
the first eight; TO (object) and TA (ambient) are signed 16-bit big-endian hundredths of a degree.

`Driver.errors` counts bytes dropped: garbage, and every byte of a frame that fails a check (the
parser drops only its first byte and looks for a frame start in the rest, since `5A 5A` can also
appear inside a reading). Counting bytes, not incidents, makes the count independent of how the
serial reads cut the stream, and it keeps growing at a wrong baud rate.
"""

from __future__ import annotations

import math

from kiosk.thermometer.types import Sample

QUERY = b"\xa5\x15\xba"  # one reading, please
START_CONTINUOUS = b"\xa5\x45\xea"  # send readings by yourself from now on
FRAME_SIZE = 9
_PREFIX = b"\x5a\x5a\x45\x04"  # frame head 5A 5A, data type 45 (temperatures), 4 data bytes
_COMMANDS = (QUERY, START_CONTINUOUS)
_MISSING = 0.0  # what the simulated module reports for an ambient the sample does not have


def _hundredths(celsius: float) -> bytes:
    if not math.isfinite(celsius):
        raise ValueError(f"a GY-906 frame needs finite temperatures, got {celsius}")
    return max(-32768, min(32767, round(celsius * 100))).to_bytes(2, "big", signed=True)


def encode_frame(object_c: float, ambient_c: float) -> bytes:
    """The module's 9-byte reply for these temperatures (clamped to what 16 bits of hundredths hold)."""
    body = _PREFIX + _hundredths(object_c) + _hundredths(ambient_c)
    return body + bytes((sum(body) & 0xFF,))


def parse_frame(frame: bytes) -> Sample | None:
    """The sample in exactly one well-formed 9-byte reply; None for anything else. Never raises."""
    if len(frame) != FRAME_SIZE or frame[:4] != _PREFIX or sum(frame[:8]) & 0xFF != frame[8]:
        return None
    return Sample(
        object_c=int.from_bytes(frame[4:6], "big", signed=True) / 100,
        ambient_c=int.from_bytes(frame[6:8], "big", signed=True) / 100,
    )


class Driver:
    """Kiosk side: asks with `A5 15 BA` (or nothing, for a module already in continuous output)."""

    def __init__(self, continuous: bool = False) -> None:
        self.name = "gy906"
        self.errors = 0
        self.continuous = continuous

    def setup(self) -> bytes | None:
        # After a power cut the module forgets continuous mode: say it again at every open.
        return START_CONTINUOUS if self.continuous else None

    def request(self) -> bytes | None:
        return None if self.continuous else QUERY

    def parse(self, buffer: bytearray) -> list[Sample]:
        samples: list[Sample] = []
        while True:
            start = buffer.find(_PREFIX[:2])
            if start < 0:  # keep a last 5A: it may be the first half of a frame head
                start = len(buffer) - 1 if buffer.endswith(_PREFIX[:1]) else len(buffer)
            self._drop(buffer, start)
            head = bytes(buffer[:4])
            if head != _PREFIX[: len(head)]:  # wrong type or length byte: known before the frame is complete
                self._drop(buffer, 1)
                continue
            if len(buffer) < FRAME_SIZE:
                return samples
            sample = parse_frame(bytes(buffer[:FRAME_SIZE]))
            if sample is None:
                self._drop(buffer, 1)
                continue
            del buffer[:FRAME_SIZE]
            samples.append(sample)

    def _drop(self, buffer: bytearray, count: int) -> None:
        self.errors += count
        del buffer[:count]


class Device:
    """Module side, for the simulator: answers queries, and streams once told to (or built `continuous`)."""

    def __init__(self, continuous: bool = False) -> None:
        self.continuous = continuous

    def answer(self, received: bytearray, sample: Sample | None) -> bytes:
        out = bytearray()
        while received:
            start = received.find(QUERY[:1])
            if start < 0:
                received.clear()
                break
            del received[:start]
            command = bytes(received[:3])
            if command == QUERY:
                if sample is not None:
                    out += self._frame(sample)
            elif command == START_CONTINUOUS:
                self.continuous = True
            elif any(known.startswith(command) for known in _COMMANDS):
                break  # the rest of a command is still on its way
            else:  # another command (baud rate, save settings) or noise: this module ignores it
                del received[:1]
                continue
            del received[:3]
        return bytes(out)

    def stream(self, sample: Sample) -> bytes:
        return self._frame(sample) if self.continuous else b""

    @staticmethod
    def _frame(sample: Sample) -> bytes:
        return encode_frame(sample.object_c, _MISSING if sample.ambient_c is None else sample.ambient_c)
