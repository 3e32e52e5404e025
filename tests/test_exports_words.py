"""Exports a site manager reads: a column per registration field, device events in words, the format from the
file's name (kiosk log export and kiosk collector export), CSV still safe in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk.audit.events import Event
from kiosk.audit.export import export
from kiosk.audit.store import AuditLog
from kiosk.collector.database import open_store

TZ = ZoneInfo("Asia/Shanghai")
SITE_FIELDS = ("phone", "name", "seat_row")  # the site's order, and a field no words are known for


def at(clock: str) -> float:
    return datetime.fromisoformat(f"2026-11-27 {clock}").replace(tzinfo=TZ).timestamp()


EVENTS = [
    Event("", at("08:00:00"), "scan", lane="A1", device="k1", verdict="pass", reason="ok", status="green",
          subject_ref="ab" * 16, temperature=36.5),
    Event("", at("08:01:00"), "manual", lane="A1", device="k1", temperature=36.8, operator="vol-3",
          details={"name": "张三", "phone": "13800000000", "seat_row": "12"}),
    Event("", at("08:02:00"), "manual", lane="A1", device="k1", temperature=36.6, operator="vol-3",
          details={"name": "=HYPERLINK(\"http://x\")", "phone": "+8613800000000", "address": "人民路 1 号"}),
    Event("", at("08:03:00"), "device", lane="A1", device="k1",
          details={"device": "thermometer", "state": "disconnected", "before": "ok"}),
    Event("", at("08:04:00"), "device", lane="A1", device="k1",
          details={"device": "camera", "state": "lost", "before": "ok", "detail": "no frames for 5 s"}),
    Event("", at("08:05:00"), "admin", lane="A1", device="k1", operator="admin",
          details={"action": "export", "ok": True, "events": 3}),
]
# What a site manager should read in the reason column of the device and admin events, in each language.
WORDS = {"zh": ["测温仪未连接", "摄像头断开", "导出到U盘"],  # the scan screen's words for the thermometer
         "en": ["thermometer disconnected", "camera lost", "export to USB"]}


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db")
    for event in EVENTS:
        audit.append(event)
    yield audit
    audit.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel shows the Chinese
    return list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"), newline="")))


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("language", "headers"), [
    ("zh", ["电话", "姓名", "seat_row", "住址"]), ("en", ["phone", "name", "seat_row", "address"]),
])
def test_each_field_has_its_own_column_in_the_sites_order(log: AuditLog, tmp_path: Path, language: str,
                                                          headers: list[str]) -> None:
    out = tmp_path / "day.csv"
    export(log, out, "csv", tz=TZ, language=language, fields=SITE_FIELDS)  # type: ignore[arg-type]
    rows = read_csv(out)
    names = list(rows[0])
    # The site's fields in its order, then a field the log holds that the site no longer records.
    assert [n for n in names if n in headers] == headers
    assert names.index(headers[0]) == names.index(headers[1]) - 1 == names.index(headers[2]) - 2
    registrations = [EVENTS[1].details, EVENTS[2].details]
    for row, details in zip(rows[1:3], registrations, strict=True):
        for key, header in zip([*SITE_FIELDS, "address"], headers, strict=True):
            assert row[header].removeprefix("'") == details.get(key, "")  # ' only before a formula: see below
    other = "其他信息" if language == "zh" else "other details"
    assert all(row[other] == "" for row in rows[1:3])  # nothing left packed into a JSON cell
    assert not any("{" in value for row in rows[1:3] for value in row.values())


@pytest.mark.parametrize("language", ["zh", "en"])
def test_device_and_admin_events_are_said_in_words(log: AuditLog, tmp_path: Path, language: str) -> None:
    out = tmp_path / "day.csv"
    export(log, out, "csv", tz=TZ, language=language, fields=SITE_FIELDS)  # type: ignore[arg-type]
    rows = read_csv(out)
    reason = "原因" if language == "zh" else "reason"
    assert [row[reason] for row in rows[3:6]] == WORDS[language]
    other = "其他信息" if language == "zh" else "other details"
    # Said in words, not again as JSON; what has no words (the camera's detail) stays, as JSON.
    assert rows[3][other] == "" and json.loads(rows[4][other]) == {"detail": "no frames for 5 s"}


def test_an_xlsx_has_the_same_columns_and_words(log: AuditLog, tmp_path: Path) -> None:
    out = tmp_path / "day.xlsx"
    export(log, out, "xlsx", tz=TZ, language="zh", fields=SITE_FIELDS)
    with zipfile.ZipFile(out) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    texts = re.findall(r"<t[^>]*>([^<]*)</t>", sheet)  # inline strings (constant_memory)
    for word in ["电话", "姓名", "seat_row", "住址", "张三", "13800000000", *WORDS["zh"]]:
        assert word in texts, word
    assert "<f>" not in sheet  # a name typed as a formula stays text


def test_csv_field_values_typed_as_formulas_stay_inert(log: AuditLog, tmp_path: Path) -> None:
    out = tmp_path / "day.csv"
    export(log, out, "csv", tz=TZ, language="en", fields=SITE_FIELDS)
    row = read_csv(out)[2]
    assert row["name"] == "'" + str(EVENTS[2].details["name"])
    assert row["phone"] == "'" + str(EVENTS[2].details["phone"])  # "+86..." would be a formula too
    assert row["address"] == EVENTS[2].details["address"]


# -- the format from the file's name ------------------------------------------------------------------------

def kind_of(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(b"PK"):
        return "xlsx"
    if data.startswith(b"\xef\xbb\xbf"):
        return "csv"
    json.loads(data.decode().splitlines()[0])
    return "jsonl"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_log_export_takes_the_format_from_the_extension(log: AuditLog, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"today.{fmt.upper() if fmt == 'xlsx' else fmt}"  # TODAY.XLSX from a Windows habit too
    done = kiosk("log", "export", "--log", str(log.path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert kind_of(out) == fmt


@pytest.mark.parametrize(("name", "fmt", "said"), [
    ("x.xlsx", "csv", "does not match"), ("x.csv", "jsonl", "does not match"), ("x.txt", None, "cannot tell"),
    ("x", None, "cannot tell"),
])
def test_log_export_refuses_a_name_that_says_another_format(log: AuditLog, tmp_path: Path, name: str,
                                                            fmt: str | None, said: str) -> None:
    out = tmp_path / name
    done = kiosk("log", "export", "--log", str(log.path), "--out", str(out), *(["--format", fmt] if fmt else []))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and said in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_a_name_with_no_format_of_its_own_takes_format(log: AuditLog, tmp_path: Path) -> None:
    out = tmp_path / "today.txt"
    assert kiosk("log", "export", "--log", str(log.path), "--out", str(out), "--format", "csv").returncode == 0
    assert kind_of(out) == "csv"


def test_collector_export_takes_the_format_from_the_extension(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/collector.db"
    open_store(url).close()  # an empty collector: the format is decided before any row
    for fmt in ("csv", "jsonl", "xlsx"):
        out = tmp_path / f"all.{fmt}"
        done = kiosk("collector", "export", "--db", url, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert out.exists() and (fmt == "jsonl" or kind_of(out) == fmt)
    done = kiosk("collector", "export", "--db", url, "--out", str(tmp_path / "bad.xlsx"), "--format", "csv")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "does not match" in done.stderr
    assert not (tmp_path / "bad.xlsx").exists()
