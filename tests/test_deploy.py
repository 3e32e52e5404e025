"""deploy/: the units run commands the kiosk really has, and the example config uses the udev rules' names."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest

from kiosk.cli.main import build_parser
from kiosk.config import load_config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text().replace("\\\n", " "))  # systemd's line continuations
    return parser


def kiosk_argv(exec_start: str) -> list[str]:
    """The arguments after the `kiosk` program in an ExecStart= line (behind Cage's `--` for the kiosk)."""
    words = shlex.split(exec_start)
    return words[next(i for i, w in enumerate(words) if w.endswith("/.venv/bin/kiosk")) + 1:]


def test_the_kiosk_unit_runs_the_checkpoint_with_the_example_configs_path() -> None:
    service = unit("kiosk.service")["Service"]
    args = build_parser().parse_args(kiosk_argv(service["ExecStart"]))
    assert args.command == "run" and args.config == Path("/etc/kiosk/kiosk.toml")
    assert service["ExecStart"].startswith("/usr/bin/cage ") and service["User"] == "kiosk"
    assert service["Restart"] == "always" and "dialout" in service["SupplementaryGroups"]
    for forbidden in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock", "ProtectHome"):
        assert forbidden not in service, f"{forbidden} would cut the kiosk off its devices or its Wayland socket"


def test_the_collector_unit_serves_https_on_8443() -> None:
    service = unit("kiosk-collector.service")["Service"]
    args = build_parser().parse_args(kiosk_argv(service["ExecStart"]))
    assert (args.command, args.collector_command, args.host, args.port) == ("collector", "serve", "0.0.0.0", 8443)
    assert args.tls_cert is not None and args.tls_key is not None
    assert service["Environment"].startswith("KIOSK_COLLECTOR_DB=sqlite:////var/lib/kiosk-collector/")
    assert args.trust_files.relative_to("/var/lib") in {Path(p) for p in service["StateDirectory"].split()}


def test_the_example_config_is_valid_and_names_the_devices_udev_makes() -> None:
    config = load_config(DEPLOY / "kiosk.toml")
    assert config.kiosk.mode == "door" and config.thermometer is not None and config.signal is not None
    named = {config.thermometer.port, config.scanner.serial, config.signal.port}
    rules = [line for line in (DEPLOY / "99-kiosk.rules").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    made = {f"/dev/{m}" for line in rules for m in re.findall(r'SYMLINK\+="([^"]+)"', line)}
    assert named == made == {"/dev/kiosk-thermometer", "/dev/kiosk-scanner", "/dev/kiosk-gate"}


@pytest.mark.parametrize("line", [line for line in (DEPLOY / "99-kiosk.rules").read_text().splitlines()
                                  if line.strip() and not line.startswith("#")])
def test_each_udev_rule_matches_a_usb_serial_device_for_dialout_and_keeps_modemmanager_off(line: str) -> None:
    pairs = re.findall(r'(\w+(?:\{\w+\})?)(==|\+=|=)"([^"]*)"', line)
    assert ", ".join(f"{k}{op}\"{v}\"" for k, op, v in pairs) == line  # every clause well-formed, nothing else
    keys = {key: value for key, _, value in pairs}
    assert keys["SUBSYSTEM"] == "tty" and re.fullmatch("[0-9a-f]{4}", keys["ATTRS{idVendor}"])
    assert re.fullmatch("[0-9a-f]{4}", keys["ATTRS{idProduct}"]) and ("ATTRS{serial}" in keys or "KERNELS" in keys)
    assert (keys["GROUP"], keys["MODE"], keys["ENV{ID_MM_DEVICE_IGNORE}"]) == ("dialout", "0660", "1")
