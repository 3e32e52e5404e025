"""Every bad argument and every bad config value: one line on stderr that names it, shows it and says what to give.

`kiosk` runs as a subprocess, as a user or a script runs it: exit 2, nothing on
standard output, exactly one line on standard error holding the bad value as it
was written (cut when long) and what is expected. The expected words are this
file's own, from the README's description of each setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KIOSK = Path(sys.executable).with_name("kiosk")  # the command pip installed beside this interpreter
HANG = 120  # seconds: only against a hang
LONG = "x" * 10_000
BOUND = 500  # characters: a line naming a 10,000-character value stays short
# A file in the way of a trust directory, made beside every config (and named by `[trust] dir`).
A_FILE = "trust.cose"

# (config file, fragments of the one line). The value as TOML writes it, then what is expected.
CONFIGS: dict[str, tuple[str, list[str]]] = {
    "not TOML": ("[kiosk\n", ["not valid TOML"]),
    "unknown section": ('[display]\nlanguage = "zh"\n', ["unknown section(s): display", "kiosk", "signal"]),
    "trust not a table": ("trust = 3\n", ["trust = 3", "a [trust] table"]),
    "trust unknown": ('[trust]\nkeys = "y"\n', ["keys", "dir, warn_hours, alarm_hours"]),
    "trust dir type": ("[trust]\ndir = 5\n", ["dir = 5", "text in quotes"]),
    "trust dir a file": (f'[trust]\ndir = "{A_FILE}"\n', [f'dir = "{A_FILE}"', "a directory, not a file"]),
    "warn_hours": ("[trust]\nwarn_hours = 0\n", ["warn_hours = 0", "hours above 0"]),
    "alarm_hours": ("[trust]\nwarn_hours = 8\nalarm_hours = 4\n", ["alarm_hours = 4", "hours >= warn_hours (8)"]),
    "warn_hours above the default alarm": ("[trust]\nwarn_hours = 80\n", ["warn_hours = 80", "<= alarm_hours (72"]),
    "policy not a table": ("policy = 3\n", ["policy = 3", "a [policy] table"]),
    "policy unknown": ('[policy]\ncolour = "red"\n', ["colour", "skew", "fever_threshold"]),
    "skew": ("[policy]\nskew = -1\n", ["skew = -1", "seconds, 0 or more"]),
    "max_age": ('[policy]\nmax_age = "5 min"\n', ['max_age = "5 min"', "seconds, 0 or more"]),
    "reading_window": ("[policy]\nreading_window = nan\n", ["reading_window = NaN", "seconds, 0 or more"]),
    "fever_threshold": ("[policy]\nfever_threshold = 'hot'\n", ['fever_threshold = "hot"', "temperature in Celsius"]),
    "plausible_min": ("[policy]\nplausible_min = 44\n", ["plausible_min = 44", "at most plausible_max (43.0)"]),
    "accept_printed": ('[policy]\naccept_printed = "yes"\n', ['accept_printed = "yes"', "true or false"]),
    "thermometer no port": ('[thermometer]\nprotocol = "gy906"\n', ["needs protocol and port", "port ="]),
    "protocol": ('[thermometer]\nprotocol = "ir9000"\nport = "x"\n', ['protocol = "ir9000"', '"gy906"', '"modbus"']),
    "thermometer port": ('[thermometer]\nprotocol = "gy906"\nport = 5\n', ["port = 5", "text in quotes"]),
    "thermometer baudrate": ('[thermometer]\nprotocol = "gy906"\nport = "x"\nbaudrate = "fast"\n',
                             ['baudrate = "fast"', "a whole number"]),
    "interval": ('[thermometer]\nprotocol = "gy906"\nport = "x"\ninterval = -1\n', ["interval = -1", "0 or more"]),
    "options": ('[thermometer]\nprotocol = "gy906"\nport = "x"\noptions = { slave = 2 }\n',
                ['options = {"slave": 2}', "slave", "continuous"]),
    "long template": (f'[thermometer]\nprotocol = "textline"\nport = "x"\noptions = {{ template = "{LONG}" }}\n',
                      ["options.template", "xxxx... (10,002 characters)", "at most 200 characters"]),
    "compensation unknown": ('[thermometer]\nprotocol = "gy906"\nport = "x"\ncompensation = { gain = 2 }\n',
                             ["compensation.gain", "compensation.offset"]),
    "compensation offset": ('[thermometer]\nprotocol = "gy906"\nport = "x"\ncompensation = { offset = "2" }\n',
                            ['compensation.offset = "2"', "a number"]),
    "camera": ("[scanner]\ncamera = true\n", ["camera = true", "text in quotes or a whole number"]),
    "width": ("[scanner]\nwidth = -1280\n", ["width = -1280", "0 or more"]),
    "fps": ('[scanner]\nfps = "30"\n', ['fps = "30"', "a number"]),
    "scanner unknown": ("[scanner]\nholdof = 3\n", ["holdof", "holdoff"]),
    "log no path": ("[log]\nsite = 'x'\n", ["needs path", "path ="]),
    "on_failure": ("[log]\npath = 'a.db'\non_failure = 'panic'\n", ['on_failure = "panic"', '"continue" or "deny"']),
    "log language": ("[log]\npath = 'a.db'\nlanguage = 'fr'\n", ['language = "fr"', '"zh" or "en"']),
    "retention_days": ("[log]\npath = 'a.db'\nretention_days = 0\n", ["retention_days = 0", "days above 0"]),
    "manual_fields": ("[log]\npath = 'a.db'\nmanual_fields = ['name', '']\n",
                      ['manual_fields = ["name", ""]', "a list of field names"]),
    "manual_fields twice": ("[log]\npath = 'a.db'\nmanual_fields = ['name', 'name']\n",
                            ['manual_fields = ["name", "name"]', "each name once"]),
    "raw_subject": ("[log]\npath = 'a.db'\nraw_subject = 'yes'\n", ['raw_subject = "yes"', "true or false"]),
    "timezone": ("[log]\npath = 'a.db'\ntimezone = 'Mars/Base'\n", ['timezone = "Mars/Base"', "Asia/Shanghai"]),
    "sync no url": ("[sync]\nbatch = 10\n", ["needs url", "https://"]),
    "url": ("[sync]\nurl = 'ftp://x'\n", ['url = "ftp://x"', '"http://..." or "https://..."']),
    "batch": ("[sync]\nurl = 'http://x'\nbatch = 0\n", ["batch = 0", "1 to 5000 events"]),
    "timeout": ("[sync]\nurl = 'http://x'\ntimeout = 0\n", ["timeout = 0", "seconds above 0"]),
    "trust_pull": ("[sync]\nurl = 'http://x'\ntrust_pull = 1\n", ["trust_pull = 1", "true or false"]),
    "mode": ('[kiosk]\nmode = "buss"\n', ['mode = "buss"', '"door" or "bus"']),
    "kiosk language": ('[kiosk]\nlanguage = "fr"\n', ['language = "fr"', '"zh" or "en"']),
    "verdict_seconds": ("[kiosk]\nverdict_seconds = 100\n", ["verdict_seconds = 100", "between 0.3 and 60"]),
    "lockout_attempts": ("[kiosk]\nlockout_attempts = 0\n", ["lockout_attempts = 0", "1 or more"]),
    "lockout_seconds": ("[kiosk]\nlockout_seconds = 0\n", ["lockout_seconds = 0", "seconds above 0"]),
    "admin_pin_hash": ('[kiosk]\nadmin_pin_hash = "1234"\n', ['admin_pin_hash = "1234"', "kiosk admin hash-pin"]),
    "fullscreen": ('[kiosk]\nfullscreen = "yes"\n', ['fullscreen = "yes"', "true or false"]),
    "long mode": (f'[kiosk]\nmode = "{LONG}"\n', ['mode = "xxxx', "(10,002 characters)", '"door" or "bus"']),
    "signal no port": ("[signal]\nbaudrate = 9600\n", ["needs port", "pyserial"]),
    "signal port": ('[signal]\nport = ""\n', ['port = ""', "pyserial URL or device"]),
    "on_pass": ('[signal]\nport = "/dev/null"\non_pass = ""\n', ['on_pass = ""', "the bytes to send on a pass"]),
    "signal baudrate": ('[signal]\nport = "/dev/null"\nbaudrate = 9600.5\n', ["baudrate = 9600.5", "a whole number"]),
}

# (arguments, fragments of the one line): the argument, the value as given, what is expected.
ARGUMENTS: dict[str, tuple[list[str], list[str]]] = {
    "now": (["verify", "--now", "yesterday", "PHC1:"], ["--now", "'yesterday'", "ISO 8601", "2026-01-01"]),
    "now out of range": (["verify", "--now", "1e300", "PHC1:"], ["--now", "'1e300'", "between the years 1 and 9999"]),
    "temperature": (["verify", "--temperature", "warm", "PHC1:"], ["--temperature", "'warm'", "Celsius"]),
    "temperature nan": (["verify", "--temperature", "nan", "PHC1:"], ["--temperature", "'nan'", "Celsius"]),
    "max-age": (["verify", "--max-age", "-1", "PHC1:"], ["--max-age", "'-1'", "0 or more"]),
    "skew": (["verify", "--skew", "lots", "PHC1:"], ["--skew", "'lots'", "number of seconds"]),
    "trust a file": (["verify", "--trust", "keys/demo/trust.cose", "PHC1:"],
                     ["--trust", "'keys/demo/trust.cose'", "not a trust directory",
                      "folder that holds trust.cose", "keys/demo"]),
    "day": (["log", "report", "--day", "2026-13-01"], ["--day", "not a date: '2026-13-01' (YYYY-MM-DD)"]),
    "collector day": (["collector", "report", "--day", "27/11/2026"], ["--day", "'27/11/2026'", "YYYY-MM-DD"]),
    "seq": (["trust", "bundle", "--seq", "-1"], ["--seq", "'-1'", "whole number 0 or more"]),
    "valid-for": (["issue", "--valid-for", "a day"], ["--valid-for", "'a day'", "number of seconds"]),
    "long now": (["verify", "--now", LONG, "PHC1:"], ["--now", "'xxxx", "(10,000 characters)", "ISO 8601"]),
    "long command": ([LONG], ["COMMAND", "'xxxx", "(10,000 characters)", "'verify'"]),
    "long choice": (["issue", "--status", LONG], ["--status", "'xxxx", "(10,000 characters)", "'green'"]),
}


def kiosk(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["HOME"] = str(cwd)
    return subprocess.run([str(KIOSK), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=HANG)


def one_line(done: subprocess.CompletedProcess[str], fragments: list[str]) -> str:
    assert (done.returncode, done.stdout) == (2, ""), (done.returncode, done.stdout, done.stderr[-2000:])
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr[-2000:]
    line = done.stderr.rstrip("\n")
    assert len(line) < BOUND, line[:2000]
    missing = [fragment for fragment in fragments if fragment not in line]
    assert not missing, f"{missing} not in: {line}"
    return line


@pytest.mark.parametrize("case", CONFIGS)
def test_a_bad_config_value_is_one_line_naming_it(case: str, tmp_path: Path) -> None:
    text, fragments = CONFIGS[case]
    (tmp_path / A_FILE).write_bytes(b"")
    config = tmp_path / "kiosk.toml"
    config.write_text(text, encoding="utf-8")
    line = one_line(kiosk(["--config", str(config), "verify", "--trust", str(ROOT / "keys" / "demo"), "PHC1:"],
                          tmp_path), fragments)
    assert line.startswith(f"kiosk verify: {config}: ")  # which file


@pytest.mark.parametrize("case", ARGUMENTS)
def test_a_bad_argument_is_one_line_naming_it(case: str, tmp_path: Path) -> None:
    argv, fragments = ARGUMENTS[case]
    (tmp_path / "keys").symlink_to(ROOT / "keys")  # relative paths, as a user in a checkout gives them
    line = one_line(kiosk(argv, tmp_path), fragments)
    assert line.endswith(" (try --help)")
