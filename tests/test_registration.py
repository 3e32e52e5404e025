"""Registering a person by hand and correcting a registration, as volunteers and site managers type them.

A temperature no body has (365 typed for 36.5) is refused; a fever is said and
recorded as one; a mistake is corrected by a new event that points at the
registration (the chain is never edited), and exports, the day report and the
collector show the corrected values and that they were corrected.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.audit.events import Event
from kiosk.audit.store import AuditLog
from kiosk.policy import Policy
from tests.collector_process import CollectorProcess, Kiosk

POLICY = Policy()  # the spec's defaults: plausible 34-43 °C, a fever from 37.3 °C


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120)


def events(db: Path) -> list[Event]:
    log = AuditLog(db)
    try:
        return list(log.events())
    finally:
        log.close()


def register(db: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    where = ["--config", str(config)] if config else []
    return kiosk(*where, "log", "register", "--log", str(db), "--operator", "vol-3", *args)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def local(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def section(page: str, key: str) -> str:
    found = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert found, key
    return found[1]


# -- registering ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["365", "3.65", "33.9", "43.1", "-36.5"])
def test_a_temperature_no_body_has_is_refused_in_one_line(tmp_path: Path, typed: str) -> None:
    db = tmp_path / "audit.db"
    done = register(db, "--field", "name=张三", "--temperature", typed)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "implausible" in done.stderr
    assert f"{POLICY.plausible_min:.1f}-{POLICY.plausible_max:.1f} °C" in done.stderr  # says what it must be
    assert not db.exists() or [e for e in events(db) if e.kind == "manual"] == []  # nothing kept forever


def test_the_plausible_range_is_the_sites_policy(tmp_path: Path) -> None:
    config = tmp_path / "k.toml"
    config.write_text("[policy]\nplausible_min = 35.0\nplausible_max = 42.0\n")
    db = tmp_path / "audit.db"
    assert register(db, "--temperature", "34.5", config=config).returncode == 2  # inside 34-43, outside the site's
    for edge in ("35.0", "42.0"):
        assert register(db, "--temperature", edge, config=config).returncode == 0
    assert [e.temperature for e in events(db)] == [35.0, 42.0]


def test_a_fever_is_said_and_recorded_as_one(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    fever, calm = POLICY.fever_threshold + 0.7, POLICY.fever_threshold - 0.1  # 38.0 and 37.2
    hot = register(db, "--field", "name=张三", "--temperature", f"{fever:.1f}")
    assert hot.returncode == 0 and json.loads(hot.stdout)["fever"] is True
    assert len(hot.stderr.splitlines()) == 1 and "fever" in hot.stderr.lower() and f"{fever:.1f} °C" in hot.stderr
    cool = register(db, "--field", "name=李四", "--temperature", f"{calm:.1f}")
    assert cool.returncode == 0 and json.loads(cool.stdout)["fever"] is False and cool.stderr == ""
    assert [(e.temperature, e.reason) for e in events(db)] == [(round(fever, 1), "fever"), (round(calm, 1), None)]
    # Recorded as a fever: the export says so, and the day's report lists it (and not the other).
    out = tmp_path / "day.csv"
    assert kiosk("log", "export", "--log", str(db), "--out", str(out), "--language", "en").returncode == 0
    assert [(r["name"], r["reason"], r["reason code"]) for r in read_csv(out)] == \
        [("张三", "fever", "fever"), ("李四", "", "")]
    page = tmp_path / "day.html"
    assert kiosk("log", "report", "--log", str(db), "--out", str(page), "--language", "en").returncode == 0
    fevers = section(page.read_text(encoding="utf-8"), "fevers")
    assert '<p class="big">1</p>' in fevers and f"{fever:.1f} °C" in fevers and f"{calm:.1f} °C" not in fevers


# -- correcting ----------------------------------------------------------------------------------------------

def correct(db: Path, event_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    return kiosk("log", "correct", event_id, "--log", str(db), *args)


def test_a_correction_is_a_new_event_and_every_view_shows_it(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    first = register(db, "--field", "name=张山", "--field", "phone=138", "--temperature", "38.5")  # meant 36.5
    registration = json.loads(first.stdout)["id"]
    register(db, "--field", "name=王五", "--temperature", "36.6")
    fixed = correct(db, registration, "--temperature", "36.5", "--field", "name=张三", "--field", "phone=",
                    "--note", "typed 38.5 for 36.5", "--operator", "李 manager")
    assert fixed.returncode == 0, fixed.stderr
    answer = json.loads(fixed.stdout)
    assert answer["corrects"] == registration and answer["fever"] is False

    stored = events(db)
    original, correction = stored[0], stored[2]
    assert (original.id, original.temperature) == (registration, 38.5)  # as written, forever
    assert original.details == {"name": "张山", "phone": "138"}
    assert (correction.kind, correction.id, correction.operator) == ("correction", answer["id"], "李 manager")
    assert correction.details["corrects"] == registration
    assert correction.details["was"] == {"name": "张山", "phone": "138", "temperature": 38.5}
    verified = kiosk("log", "verify", "--log", str(db))
    assert verified.returncode == 0 and "3 events, the chain verifies" in verified.stdout

    out = tmp_path / "day.csv"
    assert kiosk("log", "export", "--log", str(db), "--out", str(out), "--language", "en").returncode == 0
    rows = read_csv(out)
    assert [r["kind"] for r in rows] == ["manual", "manual", "correction"]
    shown = rows[0]
    assert (shown["name"], shown["phone"], shown["temperature (°C)"], shown["reason"]) == ("张三", "", "36.5", "")
    assert (shown["corrected at"], shown["corrected by"]) == (local(correction.at), "李 manager")
    assert rows[1]["corrected at"] == rows[1]["corrected by"] == ""  # the other registration was not corrected
    assert registration in rows[2]["reason"] and json.loads(rows[2]["other details"])["note"] == "typed 38.5 for 36.5"

    jsonl = tmp_path / "day.jsonl"
    assert kiosk("log", "export", "--log", str(db), "--out", str(jsonl)).returncode == 0
    line = json.loads(jsonl.read_text(encoding="utf-8").splitlines()[0])
    assert (line["temperature"], line["reason"], line["details"]) == (36.5, None, {"name": "张三"})
    assert line["corrected"]["by"] == correction.id and line["corrected"]["operator"] == "李 manager"
    assert line["corrected"]["was"] == {"temperature": 38.5, "reason": "fever", "details": original.details}

    page = tmp_path / "day.html"
    assert kiosk("log", "report", "--log", str(db), "--out", str(page), "--language", "en").returncode == 0
    html = page.read_text(encoding="utf-8")
    assert "38.5" not in section(html, "fevers")  # corrected: no fever any more
    fixes = section(html, "corrections")
    assert "38.5 °C → 36.5 °C" in fixes and "李 manager" in fixes and registration in fixes
    assert "张三" not in fixes and "张山" not in fixes  # field names only on the page; values are in the log


def test_a_correction_to_a_fever_is_listed_and_marked(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    registration = json.loads(register(db, "--field", "name=张三", "--temperature", "36.8").stdout)["id"]
    fixed = correct(db, registration, "--temperature", "38.6", "--operator", "李")
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["fever"] is True and "fever" in fixed.stderr.lower()
    correction = events(db)[1]
    page = tmp_path / "day.html"
    assert kiosk("log", "report", "--log", str(db), "--out", str(page), "--language", "en").returncode == 0
    fevers = section(page.read_text(encoding="utf-8"), "fevers")
    assert "38.6 °C" in fevers and "36.8" not in fevers
    assert f"{datetime.fromtimestamp(correction.at).strftime('%H:%M:%S')} by 李" in fevers


def test_an_old_typo_in_the_log_is_corrected_out_of_the_fever_list(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    log = AuditLog(db)  # a registration from before temperatures were checked: 365 for 36.5
    typo = log.append(Event("", time.time(), "manual", temperature=365.0, operator="vol-1", details={"name": "张三"}))
    log.close()
    page = tmp_path / "day.html"
    kiosk("log", "report", "--log", str(db), "--out", str(page), "--language", "en")
    assert "365.0 °C" in section(page.read_text(encoding="utf-8"), "fevers")
    assert correct(db, typo.id, "--temperature", "36.5", "--operator", "李").returncode == 0
    kiosk("log", "report", "--log", str(db), "--out", str(page), "--language", "en")
    html = page.read_text(encoding="utf-8")
    assert "365.0" not in section(html, "fevers") and "365.0 °C → 36.5 °C" in section(html, "corrections")


@pytest.mark.parametrize(("target", "args", "said"), [
    ("registration", ["--temperature", "365"], "implausible"),
    ("registration", [], "nothing to correct"),
    ("registration", ["--field", "religion=x"], "unknown field(s) religion"),
    ("scan", ["--temperature", "36.5"], "only a registration by hand"),
    ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", ["--temperature", "36.5"], "no event"),
])
def test_a_correction_that_cannot_be_kept_is_refused_in_one_line(tmp_path: Path, target: str, args: list[str],
                                                                 said: str) -> None:
    db = tmp_path / "audit.db"
    ids = {"registration": json.loads(register(db, "--field", "name=张三").stdout)["id"]}
    log = AuditLog(db)
    ids["scan"] = log.append(Event("", time.time(), "scan", verdict="pass", reason="ok", temperature=36.5)).id
    log.close()
    done = correct(db, ids.get(target, target), *args, "--operator", "李")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and said in done.stderr
    assert [e.kind for e in events(db)] == ["manual", "scan"]


# -- at the collector ----------------------------------------------------------------------------------------

def without_device(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as both exports show them: the collector names the kiosk it enrolled where the kiosk wrote its own."""
    return [{k: v for k, v in row.items() if k != "device"} for row in rows]


@pytest.mark.slow
def test_a_correction_syncs_and_the_collector_export_shows_it(tmp_path: Path) -> None:
    collector = CollectorProcess(f"sqlite:///{tmp_path}/collector.db", tmp_path)
    try:
        station = Kiosk.make(tmp_path / "k1", 5, start=time.time() - 60)
        store = collector.store()
        station.enroll(store)
        store.close()
        config = tmp_path / "kiosk.toml"
        config.write_text(f'[log]\npath = "{station.log_path}"\n[sync]\nurl = "{collector.url}"\n'
                          f'device_key = "{station.identity.path}"\n')
        registration = json.loads(register(station.log_path, "--field", "name=张山", "--temperature", "38.5",
                                            config=config).stdout)["id"]
        assert kiosk("--config", str(config), "sync", "--no-trust").returncode == 0  # the mistake reaches it
        until = time.time()
        time.sleep(0.01)
        assert correct(station.log_path, registration, "--field", "name=张三", "--temperature", "36.5",
                       "--operator", "李").returncode == 0
        synced = kiosk("--config", str(config), "sync", "--no-trust")
        assert synced.returncode == 0 and "1 new to the collector" in synced.stdout, synced.stdout + synced.stderr
        store = collector.store()
        kinds = [row[2] for rows in store.rows() for row in rows]
        store.close()
        assert kinds.count("correction") == 1  # stored as it came, kind and all

        for bound in ([], ["--until", f"{until:.3f}"]):  # corrected after the range too
            mine, theirs = tmp_path / "kiosk.csv", tmp_path / "collector.csv"
            assert kiosk("--config", str(config), "log", "export", "--out", str(mine), "--language", "en",
                         *bound).returncode == 0
            done = kiosk("collector", "export", "--db", collector.db_url, "--out", str(theirs), "--language", "en",
                         *bound)
            assert done.returncode == 0, done.stderr
            assert without_device(read_csv(theirs)) == without_device(read_csv(mine))
            shown = next(row for row in read_csv(theirs) if row["id"] == registration)
            assert (shown["name"], shown["temperature (°C)"], shown["corrected by"]) == ("张三", "36.5", "李")
    finally:
        collector.stop()
