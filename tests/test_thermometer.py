"""The poller against the simulator on real pseudo-terminals: every protocol, every fault, a replug."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.errors import ConfigError
from kiosk.policy import Policy
from kiosk.thermometer.compensation import Compensation
from kiosk.thermometer.poller import ThermometerPoller
from kiosk.thermometer.protocols import make_driver
from kiosk.thermometer.simulator import Simulator
from kiosk.thermometer.types import Sample
from kiosk.verdict import decide
from tests.factories import World, code

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = {
    "gy906": {},
    "gy906-continuous": {"continuous": True},
    "textline": {"template": "T={object}"},
    "textline-distance": {"template": "%{distance},{object},{ambient}"},
    "modbus": {"slave": 3, "function": 3, "register": 1, "scale": 0.1},
}


def wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


@pytest.fixture
def rig() -> Iterator[Callable[..., tuple[Simulator, ThermometerPoller]]]:
    made: list[Simulator | ThermometerPoller] = []

    def make(protocol: str = "gy906", script: str = "steady", *, link: Path | None = None, ago: float = 0.0,
             **poller_options: object) -> tuple[Simulator, ThermometerPoller]:
        name, options = protocol.split("-")[0], PROTOCOLS[protocol]
        device_options = {k: v for k, v in options.items() if k != "continuous"}  # the driver turns it on
        simulator = Simulator(name, device_options, script, emulate_baud=False, link=link)
        path = simulator.start()
        simulator._started -= ago  # as if the script had been running that long
        poller = ThermometerPoller(path, make_driver(name, options), reconnect_every=0.1,
                                   **poller_options)  # type: ignore[arg-type]
        poller.start()
        made.extend([poller, simulator])
        return simulator, poller

    yield make
    for thing in made:
        thing.stop()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_reads_the_simulated_person(rig: Callable[..., tuple[Simulator, ThermometerPoller]],
                                                    protocol: str) -> None:
    _, poller = rig(protocol)
    wait_for(lambda: poller.state.readings >= 3)
    latest = poller.latest()
    assert latest is not None
    scale_error = 0.051 if protocol == "modbus" else 0.011  # tenths of a degree on that wire
    assert abs(latest.reading.celsius - 36.6) <= scale_error
    assert abs(latest.sample.object_c - 34.1) <= scale_error
    assert poller.state.status == "ok" and poller.state.errors == 0


@pytest.mark.parametrize(("script", "celsius"), [("fever", 38.4), ("cold", 31.5)])
def test_scripts_give_their_temperature(rig: Callable[..., tuple[Simulator, ThermometerPoller]], script: str,
                                         celsius: float) -> None:
    _, poller = rig("gy906", script)
    wait_for(lambda: poller.latest() is not None)
    assert poller.latest().reading.celsius == pytest.approx(celsius, abs=0.011)  # type: ignore[union-attr]


@pytest.mark.parametrize("protocol", ["gy906", "modbus", "textline"])
def test_garbage_and_bad_checksums_are_skipped_and_counted(rig: Callable[..., tuple[Simulator, ThermometerPoller]],
                                                           protocol: str) -> None:
    _, poller = rig(protocol, "garbage")
    wait_for(lambda: poller.state.readings >= 10 and poller.state.errors >= 2, seconds=10)
    assert all(abs(m.reading.celsius - 36.6) <= 0.051 for m in list(poller._recent))


Rig = Callable[..., tuple[Simulator, ThermometerPoller]]


def test_a_silent_device_is_missed_polls_and_no_reading(rig: Rig) -> None:
    _, poller = rig("gy906", "silent", ago=1.7)  # it goes silent 0.3 s from now
    wait_for(lambda: poller.state.readings >= 1)
    wait_for(lambda: poller.state.status == "no reading", seconds=6)
    missed = poller.state.missed_polls
    wait_for(lambda: poller.state.missed_polls > missed + 3)
    last = poller.state.last_reading_at
    assert last is not None
    assert poller.reading_at(last + 3.1, 3.0) is None  # nothing fresh for a scan: temperature_missing


def test_unplugged_adapter_reconnects_by_itself(rig: Callable[..., tuple[Simulator, ThermometerPoller]],
                                                tmp_path: Path) -> None:
    link = tmp_path / "thermometer"
    first, poller = rig("gy906", "steady", link=link)
    wait_for(lambda: poller.state.readings >= 2)
    first.stop()  # unplugged
    wait_for(lambda: poller.state.status == "disconnected")
    assert poller.state.last_error
    second = Simulator("gy906", {}, "fever", emulate_baud=False, link=link)  # plugged back in
    second.start()
    try:
        wait_for(lambda: (m := poller.latest()) is not None and m.reading.celsius > 38)
        assert poller.state.reconnects == 1 and poller.state.status == "ok"
    finally:
        second.stop()


def test_a_port_missing_at_start_is_picked_up(tmp_path: Path) -> None:
    link = tmp_path / "later"
    poller = ThermometerPoller(str(link), make_driver("gy906", {}), reconnect_every=0.1)
    poller.start()
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False, link=link)
    try:
        wait_for(lambda: poller.state.status == "disconnected")
        simulator.start()
        wait_for(lambda: poller.state.readings >= 1)
    finally:
        poller.stop()
        simulator.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("thermometer")]


def test_a_scan_takes_the_highest_confirmed_fresh_reading() -> None:
    poller = ThermometerPoller("loop://", make_driver("gy906", {}), clock=lambda: 100.0)
    # bodies: 38.4 twice (too old), 36.5, 36.9 and 36.7 (0.2 apart: confirmed), 35.5, a lone 37.5
    for seconds, skin in [(95.0, 35.9), (96.5, 35.9), (98.0, 34.0), (99.0, 34.4), (99.5, 34.2), (99.8, 35.0),
                          (100.0, 33.0)]:
        poller.clock = lambda seconds=seconds: seconds  # type: ignore[misc]
        poller._record([Sample(skin)], 0.01)
    reading = poller.reading_at(100.0, window=3.0)
    assert reading is not None and (reading.celsius, reading.taken_at) == (36.9, 99.0)
    assert poller.reading_at(200.0) is None


@pytest.mark.parametrize(("script", "reason"), [("steady", "ok"), ("fever", "fever"),
                                                ("cold", "temperature_implausible"), ("silent", "temperature_missing")])
def test_readings_decide_verdicts(rig: Callable[..., tuple[Simulator, ThermometerPoller]], script: str,
                                  reason: str) -> None:
    _, poller = rig("gy906", script, ago=10.0)  # "silent": silent from the start, nobody measured
    if script == "silent":
        time.sleep(0.3)
    else:
        wait_for(lambda: poller.state.readings >= 2)  # one reading alone is not confirmed
    now = time.time()
    reading = poller.reading_at(now, 3.0)
    text = code(iat=int(now) - 10, exp=int(now) + 3600)
    assert decide(text, World().store(), Policy(require_temperature=True), reading, now).reason == reason


@pytest.mark.parametrize(("values", "sample", "body"), [
    ({}, Sample(34.1, 24.0), 36.6),
    ({"offset": 0}, Sample(36.6), 36.6),
    ({"offset": 2.0, "ambient_slope": 0.1}, Sample(34.0, 15.0), 37.0),  # 10 degrees below 25: +1
    ({"offset": 2.0, "ambient_slope": 0.1}, Sample(34.0, None), 36.0),  # no ambient: the offset alone
])
def test_compensation(values: dict[str, float], sample: Sample, body: float) -> None:
    assert Compensation.from_mapping(values).body(sample) == body


@pytest.mark.parametrize("values", [{"ofset": 1}, {"offset": "warm"}, {"offset": float("nan")}, {"offset": True}])
def test_bad_compensation_is_a_config_error(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Compensation.from_mapping(values)


def test_simulate_and_probe_commands() -> None:
    simulate = subprocess.Popen([sys.executable, "-m", "kiosk", "thermometer", "simulate", "--protocol", "gy906",
                                 "--script", "fever"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert simulate.stdout is not None
        port = simulate.stdout.readline().strip()
        assert port.startswith("/dev/pts/")
        probe = subprocess.run([sys.executable, "-m", "kiosk", "thermometer", "probe", "--port", port,
                                "--protocol", "gy906", "--count", "3"], cwd=ROOT, capture_output=True, text=True,
                               timeout=30)
        assert probe.returncode == 0, probe.stderr
        lines = [json.loads(line) for line in probe.stdout.splitlines()]
        assert len(lines) == 3
        for line in lines:
            assert (line["celsius"], line["raw"], line["ambient"]) == (38.4, 35.9, 24.0)
            assert abs(line["taken_at"] - time.time()) < 30
        # a first reading has nothing to agree with yet: no scan would take it
        assert [(line["mark"], line["scan"]) for line in lines] == [("unconfirmed", None)] + [("confirmed", 38.4)] * 2
    finally:
        simulate.terminate()
        assert simulate.wait(timeout=10) == 0
        if simulate.stdout is not None:
            simulate.stdout.close()


def test_probe_of_a_missing_port_gives_up_with_one_line(tmp_path: Path) -> None:
    probe = subprocess.run([sys.executable, "-m", "kiosk", "thermometer", "probe", "--port", str(tmp_path / "none"),
                            "--protocol", "gy906", "--timeout", "0.5"], cwd=ROOT, capture_output=True, text=True,
                           timeout=30)
    assert (probe.returncode, probe.stdout) == (2, "")
    assert probe.stderr.count("\n") == 1 and "no reading from" in probe.stderr
