"""Modbus RTU thermometers on an RS-485 adapter: read input (04) or holding (03) registers.

Request:   slave, function, register hi, lo, count hi, lo, CRC lo, CRC hi
Response:  slave, function, byte count, data (two bytes a register, big-endian), CRC lo, CRC hi
Exception: slave, function | 0x80, exception code, CRC lo, CRC hi

The driver reads the object register, and the ambient one in the same request when it is the
next register. It knows what it asked for, so a frame can start only with its slave, its function
(or the exception function) and the one byte count it expects: a false start never makes it wait
for more than one frame's length. Anything else is skipped a byte at a time, counted in `errors`
(one a byte, so the count does not depend on how reads cut the stream); an exception response
counts one. Adapters that echo what the kiosk sends (half duplex) are fine: the echo of its own
request is dropped and not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiosk.thermometer.types import Sample

READ_HOLDING, READ_INPUT = 3, 4
ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE = 1, 2, 3  # exception codes
_MISSING = 0.0  # what the simulated device reports for an ambient the sample does not have
_RESPONSE, _EXCEPTION, _ECHO, _WAIT, _NONE = range(5)


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (init 0xFFFF, reflected polynomial 0xA001); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    """The frame: `body` followed by its CRC, low byte first."""
    return body + crc16_modbus(body).to_bytes(2, "little")


@dataclass(frozen=True)
class Registers:
    """Where a device keeps its temperatures and how to read them; checked on construction."""

    slave: int = 1
    function: int = READ_INPUT
    register: int = 0
    scale: float = 0.1  # degrees Celsius per count
    ambient_register: int | None = None
    signed: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.slave <= 247:
            raise ValueError(f"modbus slave must be 1..247, got {self.slave}")
        if self.function not in (READ_HOLDING, READ_INPUT):
            raise ValueError(f"modbus function must be 3 (holding) or 4 (input registers), got {self.function}")
        for what, address in (("register", self.register), ("ambient_register", self.ambient_register)):
            if address is not None and not 0 <= address <= 0xFFFF:
                raise ValueError(f"modbus {what} must be 0..65535, got {address}")
        if self.ambient_register == self.register:
            raise ValueError(f"modbus ambient_register must differ from register ({self.register})")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"modbus scale must be a positive number, got {self.scale}")

    @property
    def count(self) -> int:
        """Registers one request reads: the ambient too when it is the next one."""
        return 2 if self.ambient_register == self.register + 1 else 1


class _Slave:
    """What both sides are built from: one slave's registers (the options of [thermometer] for modbus)."""

    def __init__(
        self,
        slave: int = 1,
        function: int = READ_INPUT,
        register: int = 0,
        scale: float = 0.1,
        ambient_register: int | None = None,
        signed: bool = True,
    ) -> None:
        self.registers = Registers(slave, function, register, scale, ambient_register, signed)
        self._ready()

    def _ready(self) -> None:
        """What a side prepares from the registers."""


class Driver(_Slave):
    """Kiosk side: polls one slave and turns its registers into degrees Celsius."""

    def _ready(self) -> None:
        self.name = "modbus"
        self.errors = 0
        self.last_exception: int | None = None  # the code of the latest exception response
        r = self.registers
        self._request = with_crc(bytes((r.slave, r.function, *divmod(r.register, 256), 0, r.count)))
        self._start = bytes((r.slave,))
        self._shapes = (  # (what a frame starts with, its length, kind), most wanted first
            (bytes((r.slave, r.function, 2 * r.count)), 5 + 2 * r.count, _RESPONSE),
            (bytes((r.slave, r.function | 0x80)), 5, _EXCEPTION),
            (self._request, len(self._request), _ECHO),
        )

    def setup(self) -> bytes | None:
        return None

    def request(self) -> bytes | None:
        return self._request

    def parse(self, buffer: bytearray) -> list[Sample]:
        samples: list[Sample] = []
        while True:
            start = buffer.find(self._start)
            skip = len(buffer) if start < 0 else start
            self.errors += skip
            del buffer[:skip]
            kind, length = self._front(buffer)
            if kind == _WAIT:
                return samples
            if kind == _NONE:  # resync: the next frame may start at the next byte
                self.errors += 1
                del buffer[:1]
                continue
            frame = bytes(buffer[:length])
            del buffer[:length]
            if kind == _RESPONSE:
                samples.append(self._sample(frame))
            elif kind == _EXCEPTION:
                self.errors += 1
                self.last_exception = frame[2]

    def _front(self, buffer: bytearray) -> tuple[int, int]:
        """(kind, length) of the frame at the front of `buffer`, or (_WAIT, 0), or (_NONE, 0).

        Waits while any more wanted kind could still complete, so the decision never depends on
        how much has arrived.
        """
        if not buffer:
            return _WAIT, 0
        for prefix, length, kind in self._shapes:
            head = bytes(buffer[: len(prefix)])
            if head != prefix[: len(head)]:
                continue
            if len(buffer) < length:
                return _WAIT, 0
            if crc16_modbus(bytes(buffer[:length])) == 0:
                return kind, length
        return _NONE, 0

    def _sample(self, frame: bytes) -> Sample:
        r = self.registers
        values = [
            round(int.from_bytes(frame[i : i + 2], "big", signed=r.signed) * r.scale, 10)  # 36.6, not 36.6000000001
            for i in range(3, 3 + 2 * r.count, 2)
        ]
        return Sample(object_c=values[0], ambient_c=values[1] if r.count == 2 else None)


class Device(_Slave):
    """Device side, for the simulator: a slave answering reads of its one or two registers."""

    def answer(self, received: bytearray, sample: Sample | None) -> bytes:
        """Replies to each request for this slave, in order; every request is 8 bytes (functions 1 to 6)."""
        out = bytearray()
        while len(received) >= 8:
            frame = bytes(received[:8])
            if crc16_modbus(frame) != 0:  # noise or a broken request: look for one a byte further
                del received[:1]
                continue
            del received[:8]
            if frame[0] == self.registers.slave and sample is not None:
                out += self._reply(frame, sample)
        return bytes(out)

    def stream(self, sample: Sample) -> bytes:
        return b""  # a Modbus slave speaks only when asked

    def _reply(self, request: bytes, sample: Sample) -> bytes:
        r = self.registers
        function = request[1]
        start, count = int.from_bytes(request[2:4], "big"), int.from_bytes(request[4:6], "big")
        values = {r.register: sample.object_c}
        if r.ambient_register is not None:
            values[r.ambient_register] = _MISSING if sample.ambient_c is None else sample.ambient_c
        addresses = range(start, start + count)
        if function != r.function:
            return self._exception(function, ILLEGAL_FUNCTION)
        if not 1 <= count <= 125:
            return self._exception(function, ILLEGAL_VALUE)
        if any(address not in values for address in addresses):
            return self._exception(function, ILLEGAL_ADDRESS)
        data = b"".join(self._encode(values[address]) for address in addresses)
        return with_crc(bytes((r.slave, function, len(data))) + data)

    def _exception(self, function: int, code: int) -> bytes:
        return with_crc(bytes((self.registers.slave, (function | 0x80) & 0xFF, code)))

    def _encode(self, celsius: float) -> bytes:
        r = self.registers
        if not math.isfinite(celsius):
            raise ValueError(f"a modbus register needs a finite temperature, got {celsius}")
        low, high = (-0x8000, 0x7FFF) if r.signed else (0, 0xFFFF)
        return max(low, min(high, round(celsius / r.scale))).to_bytes(2, "big", signed=r.signed)
