"""The [thermometer] and [scanner] config sections, `kiosk doctor`, and `kiosk scan` with a thermometer."""

from __future__ import annotations

import json
import os
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.cli.main import main
from kiosk.config import parse_config
from kiosk.devices_config import ScannerConfig
from kiosk.errors import ConfigError
from kiosk.scanner.synth import Look, render_frame, write_video
from kiosk.thermometer.compensation import Compensation
from kiosk.thermometer.simulator import Simulator
from tests.factories import World, code, pub


def test_device_sections_are_read() -> None:
    config = parse_config("""
[thermometer]
protocol = "modbus"
port = "/dev/ttyUSB0"
baudrate = 19200
interval = 0.2
options = { slave = 3, register = 1, scale = 0.1 }
compensation = { offset = 2.0, ambient_slope = 0.05 }
[scanner]
camera = 0
width = 1280
height = 720
serial = "/dev/ttyACM0"
holdoff = 3
""")
    assert config.thermometer is not None
    assert (config.thermometer.protocol, config.thermometer.port, config.thermometer.baudrate) == \
        ("modbus", "/dev/ttyUSB0", 19200)
    assert config.thermometer.compensation == Compensation(offset=2.0, ambient_slope=0.05)
    assert config.scanner == ScannerConfig(camera="0", width=1280, height=720, serial="/dev/ttyACM0", holdoff=3)


def test_no_thermometer_section_means_none() -> None:
    assert parse_config("").thermometer is None


@pytest.mark.parametrize(("text", "message"), [
    ('[thermometer]\nprotocol = "gy906"\n', "needs protocol and port"),
    ('[thermometer]\nprotocol = "ir9000"\nport = "x"\n', 'protocol = "ir9000": expected "gy906"'),
    ('[thermometer]\nprotocol = "gy906"\nport = "x"\noptions = { slave = 2 }\n', "slave"),
    ('[thermometer]\nprotocol = "gy906"\nport = "x"\ninterval = -1\n', "interval = -1: expected a number 0 or more"),
    ('[thermometer]\nprotocol = "gy906"\nport = 5\n', "port = 5: expected text in quotes"),
    ('[thermometer]\nprotocol = "gy906"\nport = "x"\ncompensation = { gain = 2 }\n', "compensation.gain"),
    ('[scanner]\ncamera = true\n', "camera = true: expected text in quotes or a whole number"),
    ('[scanner]\nholdof = 3\n', "unknown setting"),
])
def test_bad_device_sections_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Simulator, Path]]:
    """A trust dir, a config naming a simulated thermometer, a video camera and a pty 2D scanner."""
    trust = tmp_path / "trust"
    (trust / "roots").mkdir(parents=True)
    (trust / "roots" / "root.pub").write_text(pub("root").hex())
    (trust / "trust.cose").write_bytes(World().bundle_bytes())
    simulator = Simulator("gy906", {}, "fever", emulate_baud=False, link=tmp_path / "thermometer")
    simulator.start()
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    now = int(time.time())
    look = Look(size=(640, 480), code_fraction=0.4)
    write_video(tmp_path / "door.avi", [render_frame(None, look, 1)] * 12 +
                [render_frame(code(iat=now - 5, exp=now + 600), look, 2)] * 4, 30)
    config = tmp_path / "kiosk.toml"
    config.write_text(f"""
[trust]
dir = "trust"
[thermometer]
protocol = "gy906"
port = "{tmp_path / 'thermometer'}"
[scanner]
camera = "{tmp_path / 'door.avi'}"
serial = "{os.ttyname(slave)}"
""")
    yield config, simulator, tmp_path
    simulator.stop()
    os.close(master)
    os.close(slave)


def test_doctor_checks_everything_configured(site: tuple[Path, Simulator, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config, _, _ = site
    assert main(["doctor", "--config", str(config), "--json"]) == 0
    checks = {c["check"]: c for c in map(json.loads, capsys.readouterr().out.splitlines())}
    # The bundle was signed in May 2026, but installed just now: the age that counts is the last refresh.
    assert {c: checks[c]["result"] for c in checks} == {"config": "ok", "trust": "ok", "sync": "ok", "decoders": "ok",
                                                        "camera": "ok", "2D scanner": "ok", "thermometer": "ok"}
    assert "640x480" in checks["camera"]["detail"] and "38.40 °C" in checks["thermometer"]["detail"]
    assert "no collector configured" in checks["sync"]["detail"]


@pytest.mark.parametrize("hours, words", [(30, "trust data is 30 h old"), (100, "trust data is 4 d old: sync")])
def test_doctor_warns_of_trust_data_not_refreshed_for_long(site: tuple[Path, Simulator, Path], hours: float,
                                                           words: str, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from kiosk.trustdir import mark_refreshed

    config, _, folder = site
    mark_refreshed(folder / "trust", time.time() - hours * 3600, "sync")
    assert main(["doctor", "--config", str(config), "--json"]) == 0
    trust = next(c for c in map(json.loads, capsys.readouterr().out.splitlines()) if c["check"] == "trust")
    assert trust["result"] == "warn" and words in trust["detail"]


def test_doctor_fails_on_a_missing_device(site: tuple[Path, Simulator, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    config, simulator, _ = site
    simulator.stop()  # the thermometer unplugged
    assert main(["doctor", "--config", str(config), "--wait", "0.5"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("FAIL  thermometer") and "disconnected" in line for line in lines)


def test_doctor_says_a_bad_config_once_and_names_every_check(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("[scanner]\nidle_fps = -1\n")
    assert main(["doctor", "--config", str(config)]) == 1
    lines = capsys.readouterr().out.splitlines()
    said = [line for line in lines if "idle_fps" in line]
    assert len(said) == 1 and said[0].startswith("FAIL  config"), lines
    assert [line.split()[1] for line in lines[:3]] == ["config", "trust", "sync"]
    assert not any("<lambda>" in line for line in lines)


def test_scan_takes_the_temperature_from_the_configured_thermometer(site: tuple[Path, Simulator, Path],
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config, _, tmp_path = site
    time.sleep(0.5)
    assert main(["scan", "--config", str(config), "--camera", str(tmp_path / "door.avi"), "--realtime"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["reason"], x["temperature"]) for x in lines] == [("fever", 38.4)]
