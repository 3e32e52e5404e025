"""`kiosk verify --log`, `kiosk log verify|register|purge`, the [log] section and the subject secret."""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from kiosk.audit.events import subject_reference
from kiosk.audit.store import AuditLog
from kiosk.cli.main import main
from kiosk.config import parse_config
from kiosk.errors import ConfigError
from tests.factories import SUBJECT, code


def fresh() -> str:
    now = int(time.time())
    return code(iat=now - 10, exp=now + 600)


def events(db: Path) -> list[dict[str, object]]:
    audit = AuditLog(db)
    try:
        return [e.__dict__ for e in audit.events()]
    finally:
        audit.close()


def test_verify_appends_each_verdict_before_printing(trust_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.db"
    assert main(["verify", "--trust", str(trust_dir), "--log", str(db), fresh()]) == 0
    assert main(["verify", "--trust", str(trust_dir), "--log", str(db), "hello"]) == 1
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    stored = events(db)
    assert [(e["verdict"], e["reason"]) for e in stored] == [(s["verdict"], s["reason"]) for s in shown]
    first = stored[0]
    assert (first["kind"], first["status"], first["code_kind"], first["iss"]) == ("scan", "green", "dynamic",
                                                                                 "CN-120000")
    secret = bytes.fromhex((tmp_path / "audit.db.subject-key").read_text())
    assert first["subject_ref"] == subject_reference(SUBJECT, secret) != SUBJECT.hex()  # never the raw id
    assert "张*明" not in db.read_bytes().decode("utf-8", "replace")  # the masked name is never stored
    for path in (db, tmp_path / "audit.db.subject-key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_raw_subject_where_the_authority_requires_it(trust_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "k.toml"
    config.write_text('[log]\npath = "a.db"\nraw_subject = true\nsite = "Joy City"\nlane = "B12"\n')
    assert main(["verify", "--config", str(config), "--trust", str(trust_dir), "--log", str(tmp_path / "a.db"),
                 fresh()]) == 0
    stored = events(tmp_path / "a.db")[0]
    assert (stored["subject_ref"], stored["site"], stored["lane"]) == (SUBJECT.hex(), "Joy City", "B12")


@pytest.mark.parametrize(("on_failure", "status", "reason"), [("continue", 0, "ok"), ("deny", 1, "log_unavailable")])
def test_a_log_that_cannot_be_written(trust_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      on_failure: str, status: int, reason: str) -> None:
    (tmp_path / "bad.db").write_bytes(b"this is not a database at all" * 100)
    config = tmp_path / "k.toml"
    config.write_text(f'[log]\npath = "bad.db"\non_failure = "{on_failure}"\n')
    assert main(["verify", "--config", str(config), "--trust", str(trust_dir), "--log", str(tmp_path / "bad.db"),
                 fresh()]) == status
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert shown["reason"] == reason
    assert any("audit log not written" in w and "bad.db" in w for w in shown["warnings"])
    assert "audit log not written" in err


def test_log_verify_names_the_first_broken_event(trust_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.db"
    for _ in range(4):
        main(["verify", "--trust", str(trust_dir), "--log", str(db), fresh()])
    assert main(["log", "verify", "--log", str(db)]) == 0
    assert "ok: 4 events" in capsys.readouterr().out
    second, third = events(db)[1]["id"], events(db)[2]["id"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE events SET temperature = 36.5 WHERE id = ?", [second])
    conn.close()
    assert main(["log", "verify", "--log", str(db)]) == 1
    assert f"BROKEN at event {third}" in capsys.readouterr().out


def test_manual_registration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.db"
    assert main(["log", "register", "--log", str(db), "--field", "name=张三", "--field", "id_last4=1234",
                 "--temperature", "36.4", "--operator", "volunteer 3"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "manual"
    stored = events(db)[0]
    assert (stored["kind"], stored["temperature"], stored["operator"], stored["details"]) == \
        ("manual", 36.4, "volunteer 3", {"name": "张三", "id_last4": "1234"})
    assert main(["log", "register", "--log", str(db), "--field", "religion=x", "--operator", "v"]) == 2
    assert "unknown field(s) religion" in capsys.readouterr().err


def test_purge_logs_itself_and_keeps_the_chain(trust_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.db"
    for _ in range(3):
        main(["verify", "--trust", str(trust_dir), "--log", str(db), fresh()])
    assert main(["log", "purge", "--log", str(db), "--days", "0"]) == 0
    assert "3 events older than" in capsys.readouterr().out
    stored = events(db)
    assert [e["kind"] for e in stored] == ["purge"] and stored[0]["details"]["deleted"] == 3  # type: ignore[index]
    assert main(["log", "verify", "--log", str(db)]) == 0


def test_log_commands_need_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "verify"]) == 2
    assert "give --log DB or a [log] section" in capsys.readouterr().err
    assert main(["log", "verify", "--log", str(tmp_path / "none.db")]) == 2
    assert "no such audit log" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "message"), [
    ("[log]\nsite = 'x'\n", "needs path"),
    ("[log]\npath = 'a.db'\non_failure = 'panic'\n", "on_failure"),
    ("[log]\npath = 'a.db'\nlanguage = 'fr'\n", "language"),
    ("[log]\npath = 'a.db'\nretention_days = 0\n", "retention_days"),
    ("[log]\npath = 'a.db'\nretention = 3\n", "unknown setting"),
    ("[log]\npath = 'a.db'\nraw_subject = 'yes'\n", "raw_subject"),
])
def test_bad_log_sections(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)


def test_a_short_or_unreadable_secret_is_a_config_error(trust_dir: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.key").write_text("abcd")
    config = tmp_path / "k.toml"
    config.write_text('[log]\npath = "a.db"\nsecret_file = "s.key"\n')
    assert main(["verify", "--config", str(config), "--trust", str(trust_dir), "--log", str(tmp_path / "a.db"),
                 fresh()]) == 2
    assert "at least 16 bytes" in capsys.readouterr().err


def test_scan_logs_every_verdict_and_device_trouble(trust_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.scanner.synth import Look, render_frame, write_video

    look = Look(size=(640, 480), code_fraction=0.4)
    write_video(tmp_path / "door.avi", [render_frame(None, look, 1)] * 2 + [render_frame(fresh(), look, 2)] * 4
                + [render_frame(None, look, 3)] * 20, 30)
    config = tmp_path / "k.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "audit.db"\nsite = "Joy City"\n'
                      f'[thermometer]\nprotocol = "gy906"\nport = "{tmp_path / "unplugged"}"\n')
    assert main(["scan", "--config", str(config), "--camera", str(tmp_path / "door.avi"), "--realtime"]) == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [s["reason"] for s in shown] == ["temperature_missing"]  # the thermometer is not there
    stored = events(tmp_path / "audit.db")
    scans = [e for e in stored if e["kind"] == "scan"]
    assert [(e["reason"], e["site"]) for e in scans] == [("temperature_missing", "Joy City")]
    outages = [e["details"] for e in stored if e["kind"] == "device"]
    assert {"device": "thermometer", "state": "disconnected", "before": None} in outages
    assert main(["log", "verify", "--config", str(config)]) == 0


def test_export_and_report_commands(trust_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.db"
    for text in (fresh(), fresh(), "hello"):
        main(["verify", "--trust", str(trust_dir), "--log", str(db), text])
    capsys.readouterr()
    out = tmp_path / "day.csv"
    assert main(["log", "export", "--log", str(db), "--format", "csv", "--out", str(out), "--language", "en"]) == 0
    assert "3 events written" in capsys.readouterr().out
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    assert out.read_text(encoding="utf-8-sig").count("\n") == 4  # header + 3 events
    assert main(["log", "export", "--log", str(db), "--format", "jsonl", "--out", str(tmp_path / "d.jsonl"),
                 "--verdict", "deny"]) == 0
    assert [json.loads(line)["reason"] for line in (tmp_path / "d.jsonl").read_text().splitlines()] == \
        ["not_health_code"]
    page = tmp_path / "day.html"
    assert main(["log", "report", "--log", str(db), "--out", str(page)]) == 0
    html = page.read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")


def test_csv_export_defuses_formulas_typed_by_people(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    db = tmp_path / "audit.db"
    formula = '=HYPERLINK("http://x")'
    assert main(["log", "register", "--log", str(db), "--field", "name=x", "--operator", formula]) == 0
    out = tmp_path / "day.csv"
    assert main(["log", "export", "--log", str(db), "--out", str(out), "--language", "en"]) == 0
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    operator = rows[0].index("operator")
    assert rows[1][operator] == "'" + formula
