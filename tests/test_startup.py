"""`kiosk verify` and `kiosk --help` import only what they need; `kiosk --help` still lists every command.

A gate script may run `kiosk verify` once a person, so it must not load OpenCV,
numpy, an HTTP client, the audit database or the touchscreen. How fast it
starts is benchmarks/startup.py's to measure; this holds the structure that makes
it fast: which libraries the process has imported when the command is done.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KIOSK = Path(sys.executable).with_name("kiosk")  # the command pip installed beside this interpreter
HANG = 120  # seconds: only against a hang
HEAVY = {"numpy", "cv2", "httpx", "sqlite_utils", "kivy", "serial", "starlette", "zxingcpp", "pyzbar", "uvicorn",
         "matplotlib", "xlsxwriter", "psycopg", "tqdm"}
# Runs `kiosk` in this process as the console script does, then prints the top-level packages it imported.
PROBE = """
import json, sys
from kiosk.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as leaving:
    code = leaving.code
sys.stderr.write(json.dumps({"code": code, "packages": sorted({m.split(".")[0] for m in sys.modules})}) + "\\n")
"""
# A config with every section, the README's example: reading it must not import the devices' libraries either.
FULL_CONFIG = """
[trust]
warn_hours = 24
[policy]
fever_threshold = 37.3
[thermometer]
protocol = "modbus"
port = "/dev/ttyUSB0"
options = { slave = 1 }
[scanner]
camera = "0"
serial = "/dev/ttyACM0"
[log]
path = "audit.db"
site = "gate 2"
[sync]
url = "https://collector.example.org:8443"
[kiosk]
mode = "bus"
[signal]
port = "/dev/kiosk-gate"
"""


def imported_by(argv: list[str], folder: Path) -> tuple[int, set[str]]:
    """The exit code of `kiosk ARGV` and the top-level packages its process imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=HANG)
    result = json.loads(done.stderr.splitlines()[-1])
    return result["code"], set(result["packages"])


@pytest.fixture(scope="module")
def code() -> str:
    done = subprocess.run([str(KIOSK), "issue", "--key", str(ROOT / "keys" / "demo" / "private" / "tianjin.key"),
                           "--iss", "CN-120000"], capture_output=True, text=True, check=True, timeout=HANG)
    return done.stdout.strip()


@pytest.mark.parametrize("variant", ["plain", "with options", "with a full config", "help", "verify help"])
def test_verify_and_help_import_no_heavy_library(variant: str, code: str, tmp_path: Path) -> None:
    trust = ["--trust", str(ROOT / "keys" / "demo")]
    (tmp_path / "kiosk.toml").write_text(FULL_CONFIG)
    argv = {"plain": ["verify", *trust, code],
            "with options": ["verify", *trust, "--temperature", "36.6", "--now", "2026-11-27T08:00+08:00",
                             "--max-age", "60", "--no-printed", code],
            "with a full config": ["--config", "kiosk.toml", "verify", *trust, code],
            "help": ["--help"],
            "verify help": ["verify", "--help"]}[variant]
    exit_code, packages = imported_by(argv, tmp_path)
    assert exit_code in ((0,) if variant.endswith("help") else (0, 1, 3))  # a verdict, not an error
    assert not packages & HEAVY, sorted(packages & HEAVY)


@pytest.mark.slow  # each command's own --help imports its module: OpenCV, Kivy, ...
def test_help_lists_every_command_with_its_own_one_line_help() -> None:
    """`kiosk --help` names every command, each with the words its own `kiosk X --help` shows."""
    listing = subprocess.run([str(KIOSK), "--help"], capture_output=True, text=True, check=True, timeout=HANG).stdout
    rows = dict(re.findall(r"^ {4}(\S+) +(.+(?:\n {10,}\S.*)*)", listing, re.M))
    for name in rows:
        own = subprocess.run([str(KIOSK), name, "--help"], capture_output=True, text=True, check=True,
                             timeout=HANG).stdout
        description = own.split("\n\n")[1]  # usage, a blank line, the description
        assert " ".join(rows[name].split()) == " ".join(description.split()), name
    assert set(rows) >= {"verify", "decode", "scan", "run", "log", "sync", "collector", "keygen", "issue", "trust",
                         "demo", "doctor", "thermometer", "device", "admin"}
