"""One corrupt thermometer frame must not decide a verdict (issue 11, section 5).

The rule on a table of cases; then the simulator sending corrupt frames with valid checksums on a
real pseudo-terminal, read through the real drivers and poller; then `kiosk thermometer probe`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial  # type: ignore[import-untyped]

from kiosk.policy import Policy
from kiosk.thermometer import gy906
from kiosk.thermometer.confirm import Rule, confirmed, dropped, supported
from kiosk.thermometer.poller import Measurement, ThermometerPoller
from kiosk.thermometer.protocols import make_driver
from kiosk.thermometer.simulator import Simulator, person
from kiosk.thermometer.types import Sample
from kiosk.verdict import Reading, decide
from tests.factories import World, code

ROOT = Path(__file__).resolve().parents[1]
NOW = 1000.0


def at(*celsius: float, now: float = NOW) -> list[Reading]:
    """Readings 0.1 s apart, the last one at `now`, as a sensor at 10 Hz gives them."""
    return [Reading(c, now - 0.1 * (len(celsius) - 1 - i)) for i, c in enumerate(celsius)]


# --- the rule ----------------------------------------------------------------------------------------------

CONFIRM_CASES = [  # id, readings, rule, the confirmed reading's celsius (None: no reading)
    ("a lone 39.0 among 36.5s is not a fever", at(36.5, 36.5, 39.0, 36.5, 36.5), Rule(), 36.5),
    ("two 39.0s within 0.3 are a fever", at(36.5, 39.0, 36.5, 38.8, 36.5), Rule(), 39.0),
    ("a real fever: every frame 38.5", at(38.5, 38.5, 38.5), Rule(), 38.5),
    ("a real fever and a lone higher frame", at(38.5, 38.5, 39.0, 38.5), Rule(), 38.5),
    ("a lone reading is no reading", at(36.5), Rule(), None),
    ("nothing is no reading", [], Rule(), None),
    ("no two agree: no reading", at(36.0, 36.5, 37.0, 37.5), Rule(), None),
    ("exactly 0.3 apart confirms", at(39.0, 39.3), Rule(), 39.3),
    ("0.31 apart does not", at(39.0, 39.31), Rule(), None),
    ("36.4 and 36.7: 0.3 in decimals, not in binary floating point", at(36.4, 36.7), Rule(), 36.7),
    ("the highest of a cluster", at(36.5, 36.7, 36.9), Rule(), 36.9),
    ("a lone 39.0 among a sleeve's 29.5s", at(29.5, 39.0, 29.5), Rule(), 29.5),
    ("three needed: a pair of 39.0s is not enough", at(36.5, 39.0, 36.5, 39.0, 36.5), Rule(count=3), 36.5),
    ("a tolerance of 0.1", at(36.5, 36.7), Rule(tolerance=0.1), None),
]


@pytest.mark.parametrize(("readings", "rule", "celsius"), [c[1:] for c in CONFIRM_CASES],
                         ids=[c[0] for c in CONFIRM_CASES])
def test_the_rule(readings: list[Reading], rule: Rule, celsius: float | None) -> None:
    found = confirmed(readings, NOW, 3.0, rule)
    assert (found.celsius if found else None) == celsius
    if found is not None:
        assert found in readings  # a reading that was measured, with its own time


@pytest.mark.parametrize(("readings", "celsius", "confirmed_by_them"), [
    (at(36.5, 39.0, 36.5), 36.5, True),
    (at(36.5, 39.0, 36.5), 39.0, False),
    (at(36.5), 36.5, False),  # itself alone
    (at(36.4, 36.7), 36.7, True),  # 0.3 apart
    (at(36.8, 36.5), 36.5, True),
    (at(36.4, 36.71), 36.71, False),
], ids=["36.5 by 36.5", "39.0 by nothing", "alone", "0.3 apart", "0.3 below", "0.31 apart"])
def test_one_frame_is_confirmed_by_the_others(readings: list[Reading], celsius: float,
                                              confirmed_by_them: bool) -> None:
    reading = next(r for r in readings if r.celsius == celsius)
    assert supported(reading, readings) == confirmed_by_them


def test_only_the_window_counts() -> None:
    old_fever = [Reading(39.0, NOW - 3.5), Reading(39.0, NOW - 3.2)]  # agree, but before the 3 s window
    assert confirmed([*old_fever, *at(36.5, 36.6)], NOW, 3.0) == Reading(36.6, NOW)
    assert confirmed([Reading(39.0, NOW - 3.5), Reading(39.0, NOW - 2.5)], NOW, 3.0) is None  # one of them is out
    assert confirmed(at(36.5, 36.5), NOW + 10, 3.0) is None


DROP_CASES = [  # id, protocol, sample, kept (body = skin + 2.5)
    ("36.6", "gy906", Sample(34.1, 24.0), True),
    ("224.7: the probe's line noise", "gy906", Sample(222.2, 24.0), False),
    ("-38.99: the probe's line noise", "gy906", Sample(-41.49, 24.0), False),
    ("object above the MLX90614's 382.2", "gy906", Sample(382.3, 24.0), False),
    ("object below the MLX90614's -70", "gy906", Sample(-70.01, 24.0), False),
    ("ambient above the MLX90614's 125", "gy906", Sample(34.1, 125.01), False),
    ("ambient below the MLX90614's -40", "gy906", Sample(34.1, -40.01), False),
    ("ambient -40, the lowest it works at", "gy906", Sample(34.1, -40.0), True),
    ("29.5: a sleeve, real, implausible to the verdict", "gy906", Sample(27.0, 24.0), True),
    ("23.5: the wall behind an empty doorway", "gy906", Sample(21.0, 21.0), True),
    ("20.0: the lowest body kept", "gy906", Sample(17.5, 24.0), True),
    ("19.99", "gy906", Sample(17.49, 24.0), False),
    ("45.0: the highest body kept", "gy906", Sample(42.5, 24.0), True),
    ("45.01", "gy906", Sample(42.51, 24.0), False),
    ("NaN", "gy906", Sample(float("nan"), 24.0), False),
    ("textline 36.6", "textline", Sample(34.1), True),
    ("textline 224.7", "textline", Sample(222.2), False),
    ("modbus 36.6", "modbus", Sample(34.1, None), True),
    ("modbus -39.0", "modbus", Sample(-41.5, None), False),
    ("modbus ambient 300", "modbus", Sample(34.1, 300.0), False),
]


@pytest.mark.parametrize(("protocol", "sample", "kept"), [c[1:] for c in DROP_CASES], ids=[c[0] for c in DROP_CASES])
def test_what_is_dropped(protocol: str, sample: Sample, kept: bool) -> None:
    body = round(sample.object_c + 2.5, 2)  # the default compensation
    why = dropped(protocol, sample, body)
    assert (why is None) == kept
    assert why is None or why.startswith("outside range")


def test_dropped_frames_are_counted_and_neither_decide_nor_confirm() -> None:
    poller = ThermometerPoller("loop://", make_driver("gy906", {}), clock=lambda: NOW)
    heard: list[Measurement] = []
    poller.listener = heard.append
    noise = [Sample(222.2, 24.0), Sample(222.2, 24.0), Sample(-41.49, 24.0)]  # two 224.7s would confirm each other
    poller._record([person(36.5), *noise, person(36.5)], 0.01)
    reading = poller.reading_at(NOW, 3.0)
    assert reading is not None and reading.celsius == 36.5
    state = poller.state
    assert (state.readings, state.dropped) == (2, 3)
    assert state.last_dropped is not None and "-38.99" in state.last_dropped
    assert [m.dropped is None for m in heard] == [True, False, False, False, True]  # the listener hears them all
    poller._record([Sample(222.2, 24.0)], 0.01)
    latest = poller.latest()
    assert latest is not None and latest.reading.celsius == 36.5  # a dropped frame is never the latest reading


# --- end to end: corrupt frames with valid checksums on a real pseudo-terminal ------------------------------

INTERVAL = 0.05  # 20 polls a second; the window is scaled with it: 30 frames, as 3 s at 10 Hz
WINDOW = 1.5
# Every 12th frame corrupt, claiming 39.0, 224.7 and -38.99 in turn: a window holds two or three
# corrupt frames, but never two 39.0s (36 frames apart), as rare noise would not.
EVERY = 12
PROTOCOLS: dict[str, dict[str, object]] = {
    "gy906": {},
    "textline": {"template": "T={object}"},
    "modbus": {"slave": 3, "function": 3, "register": 1, "scale": 0.1, "ambient_register": 2},
}


@pytest.fixture
def door() -> Iterator[list[tuple[Simulator, ThermometerPoller, list[Measurement]]]]:
    made: list[tuple[Simulator, ThermometerPoller, list[Measurement]]] = []
    yield made
    for simulator, poller, _ in made:
        poller.stop()
        simulator.stop()


def rig(made: list[tuple[Simulator, ThermometerPoller, list[Measurement]]], protocol: str,
        forehead: Sample) -> tuple[Simulator, ThermometerPoller, list[Measurement]]:
    # at 9600 baud, as wired; the text-line bridge streams, at the poller's rate
    simulator = Simulator(protocol, PROTOCOLS[protocol], corrupt_every=EVERY, stream_interval=INTERVAL)
    simulator.override = forehead
    heard: list[Measurement] = []
    poller = ThermometerPoller(simulator.start(), make_driver(protocol, PROTOCOLS[protocol]), interval=INTERVAL,
                               reconnect_every=0.1, listener=heard.append)
    made.append((simulator, poller, heard))
    poller.start()
    return simulator, poller, heard


def scan_until(poller: ThermometerPoller, heard: list[Measurement], lone_fevers: int,
               scans: int) -> list[tuple[str, float | None, bool]]:
    """Scan every 50 ms until `lone_fevers` corrupt 39.0 frames have arrived and `scans` scans were made.

    Each scan: (reason, the reading's celsius, whether its window held a corrupt 39.0 frame).
    """
    deadline = time.monotonic() + 60  # against a hang only
    while poller.state.readings < 2:  # nobody is confirmed by one reading: wait for the second
        assert time.monotonic() < deadline, "no readings"
        time.sleep(0.01)
    made: list[tuple[str, float | None, bool]] = []
    while len(made) < scans or sum(m.reading.celsius == 39.0 for m in list(heard)) < lone_fevers:
        assert time.monotonic() < deadline, f"{len(made)} scans, {poller.state}"
        now = time.time()
        reading = poller.reading_at(now, WINDOW)
        exposed = any(r.celsius == 39.0 for r in poller.readings(now, WINDOW))
        text = code(iat=int(now) - 10, exp=int(now) + 3600)
        verdict = decide(text, World().store(), Policy(require_temperature=True, reading_window=WINDOW), reading, now)
        made.append((verdict.reason, None if reading is None else reading.celsius, exposed))
        time.sleep(0.05)
    return made


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_healthy_person_is_never_feverish_through_corrupt_frames(
        door: list[tuple[Simulator, ThermometerPoller, list[Measurement]]], protocol: str) -> None:
    simulator, poller, heard = rig(door, protocol, person(36.5))
    scans = scan_until(poller, heard, lone_fevers=2, scans=60)
    assert {(reason, celsius) for reason, celsius, _ in scans} == {("ok", 36.5)}
    assert sum(exposed for *_, exposed in scans) >= 20  # many scans had a 39.0 in their window
    # The corrupt frames passed the protocol's check: the driver skipped nothing, the range dropped the
    # 224.7s and -38.99s, and the 39.0s reached the poller as readings, unconfirmed.
    state = poller.state
    assert state.errors == 0 and state.dropped >= 2
    noise = {224.7, -39.0 if protocol == "modbus" else -38.99}  # Modbus carries tenths of a degree
    assert {m.reading.celsius for m in list(heard) if m.dropped} == noise
    assert simulator.frames >= 4 * EVERY  # 39.0 at frame 12 and 48


def test_a_real_fever_is_still_confirmed_through_corrupt_frames(
        door: list[tuple[Simulator, ThermometerPoller, list[Measurement]]]) -> None:
    _, poller, heard = rig(door, "gy906", person(38.5))
    scans = scan_until(poller, heard, lone_fevers=1, scans=40)
    assert {(reason, celsius) for reason, celsius, _ in scans} == {("fever", 38.5)}  # never the lone 39.0
    assert any(exposed for *_, exposed in scans)


def test_the_simulator_corrupts_exactly_every_nth_frame_with_a_valid_checksum() -> None:
    simulator = Simulator("gy906", corrupt_every=3, emulate_baud=False)
    simulator.override = person(36.5)  # 34.0 on the wire
    port = serial.Serial(simulator.start(), timeout=5)
    try:
        port.write(gy906.QUERY * 7)  # in one write: the device sees them together
        replies = port.read(7 * gy906.FRAME_SIZE)
    finally:
        port.close()
        simulator.stop()
    frames = [gy906.parse_frame(replies[i:i + gy906.FRAME_SIZE]) for i in range(0, len(replies), gy906.FRAME_SIZE)]
    # skin temperatures: 36.5, 39.0, 36.5, 224.7 and -38.99 less the 2.5 of compensation
    assert [f.object_c if f else None for f in frames] == [34.0, 34.0, 36.5, 34.0, 34.0, 222.2, 34.0]


# --- `kiosk thermometer probe` marks what it prints -----------------------------------------------------------

def test_probe_marks_corrupt_frames() -> None:
    simulate = subprocess.Popen([sys.executable, "-m", "kiosk", "thermometer", "simulate", "--protocol", "gy906",
                                 "--script", "steady", "--corrupt-every", "5"], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True)
    try:
        assert simulate.stdout is not None
        port = simulate.stdout.readline().strip()
        probe = subprocess.run([sys.executable, "-m", "kiosk", "thermometer", "probe", "--port", port,
                                "--protocol", "gy906", "--count", "15"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
        assert probe.returncode == 0, probe.stderr
    finally:
        simulate.terminate()
        assert simulate.wait(timeout=10) == 0
        if simulate.stdout is not None:
            simulate.stdout.close()
    lines = [json.loads(line) for line in probe.stdout.splitlines()]
    # frames 5, 10 and 15 are the corrupt ones: 39.0, 224.7, -38.99; the rest the steady 36.6
    assert [line["celsius"] for line in lines] == [36.6] * 4 + [39.0] + [36.6] * 4 + [224.7] + [36.6] * 4 + [-38.99]
    marks = [line["mark"] for line in lines]
    assert marks[0] == "unconfirmed"  # nothing agrees with a first reading yet
    assert marks[4] == "unconfirmed"
    assert marks[9].startswith("dropped: outside range") and "not a person" in marks[9]
    assert marks[14].startswith("dropped: outside range")
    assert [marks[i] for i in (1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13)] == ["confirmed"] * 11
    assert [line["scan"] for line in lines] == [None] + [36.6] * 14  # a scan never takes a corrupt frame
