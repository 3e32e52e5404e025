"""`kiosk collector ...` as a site manager types it: one database rule for every command, every default in
`--help`, a devices table that lines up with Chinese names and survives hostile ones, and one name per kiosk
(its enrolled name with the short device id) in devices, faults, exports and `kiosk device show`.

Each test has its own data folder (tests/conftest.py sets XDG_DATA_HOME), so "the default database" is a
file of the test's own.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import unicodedata
import uuid
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from kiosk.audit.events import Event
from kiosk.audit.store import AuditLog
from kiosk.collector.database import open_store
from kiosk.cose import kid_of
from kiosk.keyfiles import private_key_text
from kiosk.sync.protocol import Batch, Linked, encode_batch, open_batch, sign
from tests.collector_process import Kiosk, free_port
from tests.factories import key

T0 = 1_780_000_000.0  # 2026-05-28, within the day of every event below
DAY = time.strftime("%Y-%m-%d", time.localtime(T0 + 30))


def kiosk_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert all(word in done.stderr for word in words), done.stderr


def default_database() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "kiosk" / "collector.db"


class Logger:
    """A kiosk's key and its own audit log (in memory), sending signed batches straight to a store."""

    def __init__(self, name: str) -> None:
        self.key: SigningKey = key(f"collector cli {name}")
        self.public = bytes(self.key.verify_key)
        self.id = kid_of(self.public).hex()
        self.log = AuditLog()

    def scans(self, n: int, device_text: str) -> list[Linked]:
        before = self.log.count()
        for i in range(n):
            self.log.append(Event("", T0 + before + i, "scan", site="Joy City", device=device_text, verdict="pass"))
        links = [row[0] for row in self.log.db.execute("SELECT prev_hash FROM events ORDER BY rowid").fetchall()]
        return [Linked(e, p) for e, p in zip(self.log.events(), links, strict=True)][before:]

    def batch(self, events: list[Linked]) -> Batch:
        body = encode_batch(self.id, events, T0 + 60, uuid.uuid4().hex)
        return open_batch(body, sign(body, self.key), self.id, {self.id: self.public}.get, now=T0 + 60)


def enroll(public: bytes, name: str, db: str) -> subprocess.CompletedProcess[str]:
    return kiosk_cli("collector", "enroll", public.hex(), "--name", name, "--db", db)


# --- One database rule ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_collector_command_takes_its_database_the_same_way(tmp_path: Path, trust_dir: Path) -> None:
    """--db, else $KIOSK_COLLECTOR_DB, else collector.db in the data folder; only serve and enroll make one."""
    database = default_database()
    reading = [("devices",), ("faults",), ("export", "--out", str(tmp_path / "x.csv")),
               ("report", "--out", str(tmp_path / "x.html")), ("revoke", "Gate 2")]
    for args in reading:  # no database yet: said so, and none made where a path may be mistyped
        one_line_error(kiosk_cli("collector", *args), str(database), "no collector database")
    assert not database.exists()

    kiosk = Kiosk.make(tmp_path / "k", 5)
    assert kiosk_cli("collector", "enroll", kiosk.identity.public.hex(), "--name", "Gate 2").returncode == 0
    assert database.is_file()

    port = free_port()
    serve_log = tmp_path / "serve.log"
    with open(serve_log, "wb") as out:
        serve = subprocess.Popen([sys.executable, "-m", "kiosk", "collector", "serve", "--port", str(port)],
                                 cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60  # a hang guard
        while True:
            assert serve.poll() is None and time.monotonic() < deadline, serve_log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/time", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert f"database sqlite:///{database}" in serve_log.read_text()
        config = tmp_path / "kiosk.toml"
        config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{kiosk.log_path}"\n'
                          f'[sync]\nurl = "http://127.0.0.1:{port}"\ndevice_key = "{kiosk.identity.path}"\n')
        assert kiosk_cli("--config", str(config), "sync", "--no-trust").returncode == 0
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    listed = [json.loads(line) for line in kiosk_cli("collector", "devices", "--json").stdout.splitlines()]
    assert [(d["name"], d["events"]) for d in listed] == [("Gate 2", 5)]  # what serve stored, where devices reads
    for args in reading[:-1]:
        assert kiosk_cli("collector", *args).returncode == 0

    other = tmp_path / "other.db"
    env = {**os.environ, "KIOSK_COLLECTOR_DB": f"sqlite:///{other}"}
    one_line_error(kiosk_cli("collector", "devices", env=env), str(other))
    assert kiosk_cli("collector", "devices", "--db", f"sqlite:///{database}", env=env).returncode == 0  # --db first
    assert kiosk_cli("collector", "enroll", "11" * 32, env=env).returncode == 0 and other.is_file()


# --- Defaults in --help ---------------------------------------------------------------------------------------


def test_serve_help_gives_the_default_port_and_every_option_its_default() -> None:
    import argparse

    from kiosk.cli.main import build_parser

    shown = kiosk_cli("collector", "serve", "--help").stdout
    port = " ".join(shown.split("\n  --port PORT", 1)[1].split("\n  --", 1)[0].split())
    assert "default: 8080" in port and "8443" in port, port

    actions = next(a for a in build_parser()._subparsers._group_actions[0].choices["collector"]._actions  # type: ignore[union-attr]
                   if isinstance(a, argparse._SubParsersAction))
    for name, parser in actions.choices.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.required or action.dest in ("help", "config"):
                continue
            shown = formatter._expand_help(action) if action.help else ""  # what --help prints beside it
            assert "default" in shown, f"kiosk collector {name} {action.option_strings[-1]}: {shown!r}"


# --- The devices table ----------------------------------------------------------------------------------------


def columns(text: str) -> int:
    """Display columns, by the rule the terminal uses: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def test_the_devices_table_lines_up_by_display_width_and_shows_hostile_names_safely(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    names = ["Gate 2", "北京西站 2号门", "Gate 东 3 号", "上海虹桥火车站西广场南侧第二检查点左侧通道"]
    kiosks = {name: Logger(name) for name in names}
    for name, kiosk in kiosks.items():
        assert enroll(kiosk.public, name, db).returncode == 0
    hostile = Logger("hostile")
    store = open_store(db)  # a name an older version stored, or one written into the database by hand
    store.enroll(hostile.public, "\x1b[2J\u202eevil\r\nname\x07", T0)
    store.close()

    table = kiosk_cli("collector", "devices", "--db", db).stdout
    lines = table.splitlines()
    assert len(lines) == 1 + 5 and not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", table)
    header = lines[0]
    id_at, upload_at = columns(header[:header.index(" id ") + 1]), columns(header[:header.index("last upload")])
    for kiosk in [*kiosks.values(), hostile]:
        row = next(line for line in lines if kiosk.id[:8] in line)
        assert columns(row[:row.index(kiosk.id[:8])]) == id_at, (row, table)
        assert columns(row[:row.index("never")]) == upload_at, (row, table)
    long_row = next(line for line in lines if kiosks[names[3]].id[:8] in line)
    assert long_row.startswith("上海虹桥火车站") and "..." in long_row  # cut to its column
    assert "?[2J?evil??name?" in table

    one_line_error(enroll(Logger("x").public, "Gate\x1b[31m 9", db), "control")
    one_line_error(enroll(Logger("x").public, "Gate\u202e9", db), "U+202E")
    one_line_error(enroll(Logger("x").public, "门" * 65, db), "64")


# --- One name per kiosk ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_kiosk_is_its_enrolled_name_with_its_short_id_everywhere(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    gate, station = Logger("gate"), Logger("station")
    (tmp_path / "gate.key").write_text(private_key_text(gate.key))
    (tmp_path / "gate.key").chmod(0o600)
    config = tmp_path / "gate.toml"
    config.write_text(f'[log]\npath = "{tmp_path / "audit.db"}"\ndevice = "Gate 2"\n'
                      f'[sync]\nurl = "http://127.0.0.1:9"\ndevice_key = "{tmp_path / "gate.key"}"\n')

    # On the kiosk: its [log] device, its short id beside it, and the line that enrolls it under that name.
    shown = kiosk_cli("--config", str(config), "device", "show")
    assert f"name        Gate 2 ({gate.id[:8]})" in shown.stdout and f"device id   {gate.id}" in shown.stdout
    line = json.loads(kiosk_cli("--config", str(config), "device", "show", "--json").stdout)["enroll"]
    assert shlex.split(line)[:3] == ["kiosk", "collector", "enroll"] and f"enroll      {line}" in shown.stdout
    enrolled = kiosk_cli(*shlex.split(line)[1:], "--db", db)
    assert enrolled.returncode == 0 and f"Gate 2 ({gate.id[:8]})" in enrolled.stdout
    assert enroll(station.public, "北京西站 2号门", db).returncode == 0

    # Both kiosks log the same [log] device text (a copied config): the collector names them apart anyway.
    store = open_store(db)
    gate_events = gate.scans(6, "kiosk-07")
    store.ingest(gate.batch(gate_events[:2]), T0 + 60)
    store.ingest(gate.batch(gate_events[4:]), T0 + 61)  # two events missing: a gap
    store.ingest(station.batch(station.scans(3, "kiosk-07")), T0 + 62)
    store.close()
    gate_label, station_label = f"Gate 2 ({gate.id[:8]})", f"北京西站 2号门 ({station.id[:8]})"

    devices = kiosk_cli("collector", "devices", "--db", db).stdout
    assert re.search(rf"^Gate 2 +{gate.id[:8]} ", devices, re.M) and re.search(rf"^北京西站 2号门 +{station.id[:8]} ",
                                                                               devices, re.M)
    faults = kiosk_cli("collector", "faults", "--db", db).stdout
    assert re.search(rf"  Gate 2 +{gate.id[:8]}  gap ", faults), faults
    as_json = json.loads(kiosk_cli("collector", "faults", "--db", db, "--json").stdout)
    assert (as_json["device"], as_json["name"]) == (gate.id, "Gate 2")

    def exported(*args: str) -> list[str]:
        out = tmp_path / f"{uuid.uuid4().hex}.csv"
        done = kiosk_cli("collector", "export", "--db", db, "--language", "en", "--out", str(out), *args)
        assert done.returncode == 0, done.stderr
        return [row["device"] for row in csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines())]

    assert sorted(exported()) == [gate_label] * 4 + [station_label] * 3  # never "kiosk-07"
    assert exported("--device", "Gate 2") == exported("--device", gate.id[:8]) == exported("--device", gate.id) \
        == [gate_label] * 4
    page = tmp_path / "day.html"
    assert kiosk_cli("collector", "report", "--db", db, "--day", DAY, "--device", "北京西站 2号门", "--out",
                     str(page)).returncode == 0 and page.is_file()

    # A second kiosk under the same name: enrolled with a warning; the name no longer picks one.
    namesake = enroll(Logger("namesake").public, "Gate 2", db)
    assert namesake.returncode == 0 and gate_label in namesake.stderr
    one_line_error(kiosk_cli("collector", "export", "--db", db, "--out", str(tmp_path / "y.csv"), "--device",
                             "Gate 2"), gate_label, "give the device id")
    revoked = kiosk_cli("collector", "revoke", "--db", db, gate.id[:8])
    assert revoked.returncode == 0 and gate_label in revoked.stdout
    one_line_error(kiosk_cli("collector", "revoke", "--db", db, "0011223344556677"), "0011223344556677")


def test_exports_name_kiosks_the_same_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    from tests.pg_server import create_database

    db = create_database(pg_url, f"names_{uuid.uuid4().hex[:12]}")
    gate = Logger("gate")
    assert enroll(gate.public, "北京西站 2号门", db).returncode == 0
    store = open_store(db)
    store.ingest(gate.batch(gate.scans(2, "kiosk-07")), T0 + 60)
    store.close()
    out = tmp_path / "all.jsonl"
    assert kiosk_cli("collector", "export", "--db", db, "--format", "jsonl", "--out", str(out)).returncode == 0
    assert [json.loads(line)["device"] for line in out.read_text(encoding="utf-8").splitlines()] == \
        [f"北京西站 2号门 ({gate.id[:8]})"] * 2


@pytest.mark.parametrize("name", ["", "Gate\x1b[31m 2"])
def test_device_show_says_when_the_name_cannot_be_enrolled(tmp_path: Path, name: str) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[log]\npath = "{tmp_path / "audit.db"}"\ndevice = {json.dumps(name)}\n')
    shown = kiosk_cli("--config", str(config), "device", "show", "--key", str(tmp_path / "d.key"))
    assert shown.returncode == 0 and "\x1b" not in shown.stdout and "[log] device" in shown.stdout
    assert " --name" not in json.loads(kiosk_cli("--config", str(config), "device", "show", "--key",
                                                 str(tmp_path / "d.key"), "--json").stdout)["enroll"]
