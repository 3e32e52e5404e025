"""What every thermometer protocol provides, so the poller and the simulator work with any of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Sample:
    """What a device reports, before any skin-to-body compensation."""

    object_c: float  # the surface it is aimed at (a forehead), degrees Celsius
    ambient_c: float | None = None  # the sensor's own temperature, where the device reports it
    distance: float | None = None  # where the device reports it (some text bridges do), in its own unit


class Driver(Protocol):
    """One device protocol, kiosk side. Parsing is pure: bytes in, samples out, never raises."""

    name: str
    errors: int  # garbage bytes, bad checksums and malformed frames skipped so far

    def setup(self) -> bytes | None:
        """Bytes sent once each time the port opens (a GY-906 told to stream), or None."""

    def request(self) -> bytes | None:
        """The bytes that ask the device for one reading; None for a device that talks by itself."""

    def parse(self, buffer: bytearray) -> list[Sample]:
        """Take every complete frame off the front of `buffer` and return its samples.

        Garbage and bad frames are dropped (and counted in `errors`) and the
        parser resynchronises on the next frame start; an incomplete frame at
        the end stays in `buffer` for the next call.
        """


class Device(Protocol):
    """One device protocol, device side: what a real thermometer answers (for the simulator)."""

    def answer(self, received: bytearray, sample: Sample | None) -> bytes:
        """Bytes to send back for what was `received` so far (consume what it used); b"" for nothing.

        `sample` is what the simulated person measures now (None: nobody there, stay silent).
        """

    def stream(self, sample: Sample) -> bytes:
        """Bytes a device in continuous mode sends by itself for one sample (b"" if it never does)."""
