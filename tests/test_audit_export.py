"""Exports of the audit log: CSV for Excel, JSON Lines, XLSX; local times, filters, all-or-nothing files."""

from __future__ import annotations

import csv
import json
import math
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.audit import export as export_module
from kiosk.audit.columns import columns, header
from kiosk.audit.events import Event
from kiosk.audit.export import ExportError, export
from kiosk.audit.localtime import LocalTime
from kiosk.audit.store import AuditLog

TZ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
FIELDS = ("name", "phone", "id_last4")  # [log] manual_fields' default, the export's default
COLUMNS = columns(FIELDS)


def at(text: str) -> float:
    """Epoch seconds of a Shanghai wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def scan(when: str, verdict: str = "pass", reason: str = "ok", **changes: object) -> Event:
    moment = at(when)
    event = Event("", moment, "scan", site="人民广场站", lane="A1", device="kiosk-1", verdict=verdict, reason=reason,
                  status="green", code_kind="dynamic", kid="9f2c4a1be0d37a55", iss="CN-310000",
                  code_iat=int(moment) - 30, subject_ref="ab" * 16, temperature=36.5)
    return replace(event, **changes)  # type: ignore[arg-type]


DAY = [
    scan("2026-11-27 00:30:05.250"),
    scan("2026-11-27 08:00:00", "deny", "expired", status="amber"),
    scan("2026-11-27 09:15:00", "retry", "temperature_missing", temperature=None),
    Event("", at("2026-11-27 10:00:00"), "manual", site="人民广场站", lane="A1", temperature=36.8,
          operator="=1+1", details={"name": "张*", "phone": "138****0000"}),
    Event("", at("2026-11-27 11:00:00"), "device", lane="A1", details={"device": "camera", "state": "lost"}),
    scan("2026-11-28 00:00:00", "deny", "fever", temperature=38.4),
]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db")
    for event in DAY:
        audit.append(event)
    yield audit
    audit.close()


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def column(rows: list[list[str]], key: str) -> list[str]:
    index = [k for k, *_ in COLUMNS].index(key)
    return [row[index] for row in rows[1:]]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_csv_starts_with_a_bom_and_reads_back(log: AuditLog, tmp_path: Path, language: str) -> None:
    out = tmp_path / "day.csv"
    assert export(log, out, "csv", tz=TZ, language=language) == len(DAY)  # type: ignore[arg-type]
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(out)
    assert rows[0] == header(language, FIELDS)  # type: ignore[arg-type]
    assert len(rows) == len(DAY) + 1 and all(len(row) == len(COLUMNS) for row in rows)
    assert column(rows, "id") == [event.id for event in log.events()]


def test_every_column_has_a_chinese_and_an_english_header() -> None:
    zh, en = header("zh", FIELDS), header("en", FIELDS)
    assert len(set(zh)) == len(set(en)) == len(COLUMNS)
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in zh)
    assert all(h.isascii() or "°" in h for h in en)
    for expected in ("时间", "结果", "原因", "状态", "场所", "通道", "设备", "码类型", "签发机构", "人员标识", "操作员",
                     "姓名", "电话", "更正时间", "更正人", "其他信息", "编号"):
        assert expected in zh
    for expected in ("time", "verdict", "reason", "reason code", "status", "site", "lane", "device", "name", "phone",
                     "corrected at", "corrected by", "id"):
        assert expected in en


def test_chinese_export_translates_values_and_keeps_the_raw_reason(log: AuditLog, tmp_path: Path) -> None:
    export(log, tmp_path / "zh.csv", "csv", tz=TZ, language="zh")
    rows = read_csv(tmp_path / "zh.csv")
    assert column(rows, "verdict")[:3] == ["通行", "禁止", "重试"]  # one word a verdict, as on the screen
    assert column(rows, "reason")[:3] == ["正常", "码已过期", "未测体温"]
    assert column(rows, "reason_code")[:3] == ["ok", "expired", "temperature_missing"]
    assert column(rows, "status")[:2] == ["绿码", "黄码"]
    assert column(rows, "kind")[3:5] == ["人工登记", "设备"]
    assert (column(rows, "field:name")[3], column(rows, "field:phone")[3]) == ("张*", "138****0000")
    assert column(rows, "details")[3] == ""  # every field in its own column: nothing left over
    export(log, tmp_path / "en.csv", "csv", tz=TZ, language="en")
    rows = read_csv(tmp_path / "en.csv")
    assert column(rows, "verdict")[:3] == ["pass", "deny", "retry"]
    assert column(rows, "reason")[1] == "code expired" and column(rows, "reason_code")[1] == "expired"


def test_times_are_local_to_the_zone_given(log: AuditLog, tmp_path: Path) -> None:
    export(log, tmp_path / "sh.csv", "csv", tz=TZ)
    rows = read_csv(tmp_path / "sh.csv")
    assert column(rows, "time")[0] == "2026-11-27 00:30:05"
    assert column(rows, "code_issued")[0] == "2026-11-27 00:29:35"
    assert set(column(rows, "utc_offset")) == {"+08:00"}
    export(log, tmp_path / "utc.csv", "csv", tz=UTC)
    rows = read_csv(tmp_path / "utc.csv")
    assert column(rows, "time")[0] == "2026-11-26 16:30:05"
    assert set(column(rows, "utc_offset")) == {"+00:00"}


def test_no_zone_means_the_machines_zone(log: AuditLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    export(log, tmp_path / "local.csv", "csv")
    rows = read_csv(tmp_path / "local.csv")
    assert column(rows, "time")[0] == "2026-11-26 11:30:05" and column(rows, "utc_offset")[0] == "-05:00"


@pytest.mark.parametrize(("since", "until", "verdict", "expected"), [
    (None, None, None, 6),
    (at("2026-11-27 08:00:00"), None, None, 5),  # since is inclusive
    (None, at("2026-11-27 08:00:00"), None, 1),  # until is exclusive
    (datetime(2026, 11, 27, 8), datetime(2026, 11, 28), None, 4),  # naive datetimes are wall clock in tz
    (datetime(2026, 11, 27, tzinfo=TZ), datetime(2026, 11, 28, tzinfo=TZ), "deny", 1),
    (None, None, "pass", 1),
    (None, None, "retry", 1),
])
def test_filters(log: AuditLog, tmp_path: Path, since: object, until: object, verdict: str | None,
                 expected: int) -> None:
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"filtered.{fmt}"
        assert export(log, out, fmt, since=since, until=until, verdict=verdict, tz=TZ) == expected  # type: ignore
    assert len(read_csv(tmp_path / "filtered.csv")) == expected + 1
    assert len((tmp_path / "filtered.jsonl").read_text().splitlines()) == expected


def test_jsonl_has_the_raw_values_and_an_iso_local_time(log: AuditLog, tmp_path: Path) -> None:
    export(log, tmp_path / "day.jsonl", "jsonl", tz=TZ, language="zh")
    lines = [json.loads(line) for line in (tmp_path / "day.jsonl").read_text(encoding="utf-8").splitlines()]
    for line, event in zip(lines, log.events(), strict=True):
        time = line.pop("time")
        assert Event(**line) == event  # raw values, whatever the language
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", time)
        assert abs(datetime.fromisoformat(time).timestamp() - event.at) < 0.001
    assert lines[0]["verdict"] == "pass"


@settings(max_examples=25, deadline=None)
@given(text=st.text(), details=st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.none())),
       temperature=st.one_of(st.none(), st.floats(30, 45)), when=st.floats(0, 4_102_444_800))
def test_jsonl_round_trips_anything(text: str, details: dict[str, object], temperature: float | None,
                                    when: float) -> None:
    audit = AuditLog()
    event = audit.append(Event("", when, "manual", site=text, lane=text, operator=text, temperature=temperature,
                               details=details))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "x.jsonl"
        assert export(audit, out, "jsonl", tz=TZ) == 1
        line = json.loads(out.read_text(encoding="utf-8"))
    line.pop("time")
    assert Event(**line) == event


def test_xlsx_is_a_workbook_with_a_frozen_header_and_real_numbers(log: AuditLog, tmp_path: Path) -> None:
    out = tmp_path / "day.xlsx"
    assert export(log, out, "xlsx", tz=TZ, language="zh") == len(DAY)
    with zipfile.ZipFile(out) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        assert "xl/workbook.xml" in book.namelist()
    assert len(re.findall(r"<row ", sheet)) == len(DAY) + 1
    assert 'state="frozen"' in sheet and "<cols>" in sheet
    temperature = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[[k for k, *_ in COLUMNS].index("temperature")]
    assert re.search(rf'<c r="{temperature}2"[^>]*><v>36.5</v></c>', sheet)  # a number, not text
    excel_day = (datetime(2026, 11, 27, 0, 30, 5, 250000) - datetime(1899, 12, 30)).total_seconds() / 86400
    first = re.search(r'<c r="A2"[^>]*><v>([0-9.]+)</v>', sheet)
    assert first and float(first[1]) == pytest.approx(excel_day, abs=1e-8)  # local time, as an Excel date
    assert "<f>" not in sheet and "=1+1" in sheet  # typed text never becomes a formula
    assert "禁止" in sheet and "码已过期" in sheet


def test_xlsx_starts_a_new_sheet_when_one_is_full(log: AuditLog, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "XLSX_MAX_ROWS", 4)  # a header and 3 rows a sheet
    export(log, tmp_path / "day.xlsx", "xlsx", tz=TZ, language="en")
    with zipfile.ZipFile(tmp_path / "day.xlsx") as book:
        sheets = [book.read(f"xl/worksheets/sheet{n}.xml").decode() for n in (1, 2)]
    assert [len(re.findall(r"<row ", sheet)) for sheet in sheets] == [4, 4]


def test_a_failed_export_leaves_no_file_and_keeps_the_old_one(log: AuditLog, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "day.csv"
    out.write_text("yesterday's export")

    def broken(temp: Path, *_: object) -> int:
        temp.write_text("half of it")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export_module, "_write_csv", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(log, out, "csv", tz=TZ)
    assert out.read_text() == "yesterday's export"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("audit.db")) == ["day.csv"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_an_unwritable_folder_is_a_clear_error(log: AuditLog, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "a-file").write_text("")
    for out in (tmp_path / "missing" / f"day.{fmt}", tmp_path / "a-file" / f"day.{fmt}", tmp_path):
        with pytest.raises(ExportError, match="cannot write"):
            export(log, out, fmt, tz=TZ)  # type: ignore[arg-type]
    assert not (tmp_path / "missing").exists()


def test_a_read_only_folder_is_a_clear_error(log: AuditLog, read_only_folder: Path) -> None:
    with pytest.raises(ExportError, match=r"cannot write .*day\.csv"):
        export(log, read_only_folder / "day.csv", "csv", tz=TZ)
    assert list(read_only_folder.iterdir()) == []


def test_the_progress_bar_goes_to_stderr_only(log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    export(log, tmp_path / "quiet.csv", "csv", tz=TZ)
    assert capsys.readouterr() == ("", "")
    export(log, tmp_path / "day.csv", "csv", tz=TZ, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "100%" in err and "event" in err


def test_an_empty_log_exports_the_header_only(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "empty.db")
    assert export(audit, tmp_path / "empty.csv", "csv", tz=TZ) == 0
    assert read_csv(tmp_path / "empty.csv") == [header("zh", FIELDS)]
    assert export(audit, tmp_path / "empty.jsonl", "jsonl", tz=TZ) == 0
    assert (tmp_path / "empty.jsonl").read_text() == ""
    audit.close()


def test_bad_arguments(log: AuditLog, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        export(log, tmp_path / "x.pdf", "pdf", tz=TZ)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="language"):
        export(log, tmp_path / "x.csv", "csv", tz=TZ, language="fr")  # type: ignore[arg-type]


ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu",
         "America/St_Johns", "Pacific/Chatham", "UTC"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 4_102_444_800), min_size=1, max_size=20), st.sampled_from(ZONES))
def test_fast_local_time_matches_the_zone_rules(moments: list[float], zone: str) -> None:
    tz = ZoneInfo(zone)
    clock = LocalTime(tz)
    for moment in sorted(moments):
        expected = datetime.fromtimestamp(math.floor(moment), tz)
        assert clock.text(moment) == expected.strftime("%Y-%m-%d %H:%M:%S")
        assert clock.offset == expected.strftime("%z")[:3] + ":" + expected.strftime("%z")[3:]


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe"])
def test_fast_local_time_around_dst_changes(zone: str) -> None:
    tz = ZoneInfo(zone)
    clock = LocalTime(tz)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    for second in range(int(start), int(start) + 366 * 86400, 97):  # every 97 s for a year: both changes
        assert clock.text(second + 0.5) == datetime.fromtimestamp(second, tz).strftime("%Y-%m-%d %H:%M:%S")


def test_exports_keep_write_order_when_the_clock_jumped(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.db")
    for clock in ("10:00:00", "09:00:00", "09:30:00", "11:00:00"):  # the clock was set back after the first
        audit.append(scan(f"2026-11-27 {clock}"))
    out = tmp_path / "x.csv"
    assert export(audit, out, "csv", tz=TZ, since=at("2026-11-27 09:00:00"), until=at("2026-11-27 10:30:00")) == 3
    assert column(read_csv(out), "time") == ["2026-11-27 10:00:00", "2026-11-27 09:00:00", "2026-11-27 09:30:00"]
    assert export(audit, out, "csv", tz=TZ, since=at("2026-11-27 09:10:00"), until=at("2026-11-27 12:00:00")) == 3
    assert column(read_csv(out), "time") == ["2026-11-27 10:00:00", "2026-11-27 09:30:00", "2026-11-27 11:00:00"]
    assert export(audit, out, "csv", tz=TZ, since=at("2026-11-28 00:00:00")) == 0
    audit.close()
