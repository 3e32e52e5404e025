"""The day's HTML report: totals, people per hour, reasons, fevers, the busiest 15 minutes, device outages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk.audit import report as report_module
from kiosk.audit.events import Event
from kiosk.audit.export import ExportError
from kiosk.audit.report import Outage, report, summarize
from kiosk.audit.store import AuditLog

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 27)


def at(clock: str, day: str = "2026-11-27", tz: ZoneInfo = TZ) -> float:
    return datetime.fromisoformat(f"{day} {clock}").replace(tzinfo=tz).timestamp()


def scan(clock: str, verdict: str = "pass", reason: str = "ok", day: str = "2026-11-27", **changes: object) -> Event:
    event = Event("", at(clock, day), "scan", site="人民广场站", lane="A1", device="kiosk-1", verdict=verdict,
                  reason=reason, status="green", code_kind="dynamic", iss="CN-310000", temperature=36.5)
    return replace(event, **changes)  # type: ignore[arg-type]


def device(clock: str, thing: str, state: str, before: str | None = None, day: str = "2026-11-27") -> Event:
    return Event("", at(clock, day), "device", lane="A1", device="kiosk-1",
                 details={"device": thing, "state": state, "before": before})


HAND_MADE_DAY = [
    scan("23:59:59", day="2026-11-26"),  # the day before: not counted
    scan("07:30:00"),
    *[scan(clock) for clock in ("08:00:00", "08:02:00", "08:04:00", "08:06:00", "08:08:00", "08:14:59")],
    scan("08:03:00", "retry", "temperature_missing", temperature=None),  # the same person again: not a person
    Event("", at("08:05:00"), "manual", lane="A1", temperature=36.6, operator="王", details={"name": "张*"}),
    device("09:00:00", "camera", "lost", "ok"),
    device("09:12:30", "camera", "ok", "lost"),
    scan("12:00:00", "deny", "expired"),
    scan("12:10:00", "deny", "expired"),
    scan("12:20:00", "deny", "status_red", status="red"),
    scan("13:00:00", "deny", "fever", temperature=38.2),
    scan("13:05:00", "deny", "status_amber", status="amber", temperature=37.8),  # a fever behind another reason
    scan("13:10:00", "retry", "temperature_implausible", temperature=44.0),  # not a fever: not a body
    device("22:00:00", "thermometer", "disconnected", "ok"),  # never back that day
    scan("00:00:00", "deny", "fever", day="2026-11-28", temperature=39.0),  # the next day: not counted
]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db")
    for event in HAND_MADE_DAY:
        audit.append(event)
    yield audit
    audit.close()


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "quiet.db")
    audit.append(scan("12:00:00", day="2026-11-26"))  # only another day
    yield audit
    audit.close()


def section(page: str, key: str) -> str:
    found = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert found, key
    return found[1]


def test_the_numbers_of_a_hand_made_day(log: AuditLog) -> None:
    s = summarize(log, DAY, tz=TZ)
    assert s.people == 13 and s.manual == 1
    assert s.verdicts == {"pass": 7, "deny": 5, "retry": 2}
    assert s.hourly[7] == 1 and s.hourly[8] == 7 and s.hourly[12] == 3 and s.hourly[13] == 2 and sum(s.hourly) == 13
    assert s.reasons == {("deny", "expired"): 2, ("deny", "status_red"): 1, ("deny", "fever"): 1,
                         ("deny", "status_amber"): 1, ("retry", "temperature_missing"): 1,
                         ("retry", "temperature_implausible"): 1}
    assert [(c, lane) for _, c, lane in s.fevers] == [(38.2, "A1"), (37.8, "A1")]
    assert s.busiest == (at("08:00:00"), 7)
    assert s.outages == [Outage("camera (kiosk-1)", "lost", at("09:00:00"), at("09:12:30")),
                         Outage("thermometer (kiosk-1)", "disconnected", at("22:00:00"), None)]
    assert s.device_events == 3


def test_the_page_is_one_self_contained_file(log: AuditLog, tmp_path: Path) -> None:
    out = tmp_path / "day.html"
    report(log, DAY, out, tz=TZ, language="en", site_name="People's Square <gate 2> & co")
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("audit.db")] == ["day.html"]
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert "@import" not in page and not re.search(r"url\((?!#)", page)  # clip paths point inside the page
    assert "People&#x27;s Square &lt;gate 2&gt; &amp; co" in page


def test_the_english_page_says_what_happened(log: AuditLog, tmp_path: Path) -> None:
    report(log, DAY, tmp_path / "day.html", tz=TZ, language="en")
    page = (tmp_path / "day.html").read_text(encoding="utf-8")
    totals = section(page, "totals")
    for name, count in (("people", 13), ("pass", 7), ("deny", 5), ("retry", 2), ("manual registrations", 1)):
        assert f'<td>{name}</td><td class="n">{count}</td>' in totals
    verdicts = section(page, "verdicts")
    assert "<svg" in verdicts and '<td>code expired</td><td>expired</td><td class="n">2</td>' in verdicts
    fevers = section(page, "fevers")
    assert '<p class="big">2</p>' in fevers and "38.2 °C" in fevers and "37.8 °C" in fevers and "44.0" not in fevers
    assert "08:00:00–08:15:00: 7 people" in section(page, "busiest")
    devices = section(page, "devices")
    assert "<td>camera (kiosk-1)</td><td>lost</td><td>09:00:00</td><td>09:12:30</td><td>0:12:30</td>" in devices
    assert "<td>thermometer (kiosk-1)</td><td>disconnected</td><td>22:00:00</td>" in devices
    assert "not back by the end of the day" in devices
    assert "<svg" in section(page, "hourly")


def test_the_chinese_page(log: AuditLog, tmp_path: Path) -> None:
    report(log, DAY, tmp_path / "day.html", tz=TZ, language="zh", site_name="人民广场站")
    page = (tmp_path / "day.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "人民广场站 · 检查点日报 · 2026-11-27" in page
    assert '<td>人数</td><td class="n">13</td>' in section(page, "totals")
    assert '<td>拒绝</td><td>码已过期</td><td>expired</td><td class="n">2</td>' in section(page, "verdicts")
    assert "至日终未恢复" in section(page, "devices")
    assert "Asia/Shanghai" in page


def test_chart_labels_fall_back_to_english_without_a_cjk_font(log: AuditLog, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_module, "cjk_font", lambda: None)
    report(log, DAY, tmp_path / "day.html", tz=TZ, language="zh")
    page = (tmp_path / "day.html").read_text(encoding="utf-8")
    chart = section(page, "verdicts")
    assert "<!-- code expired -->" in chart and "<!-- 码已过期 -->" not in chart  # matplotlib notes each label
    assert "<td>码已过期</td>" in chart  # the page itself stays Chinese: the browser has the fonts


def test_a_quiet_day_says_none(quiet: AuditLog, tmp_path: Path) -> None:
    for language, none in (("en", "none"), ("zh", "无")):
        out = tmp_path / f"{language}.html"
        report(quiet, DAY, out, tz=TZ, language=language)  # type: ignore[arg-type]
        page = out.read_text(encoding="utf-8")
        assert '<td class="n">0</td>' in section(page, "totals")
        for key in ("hourly", "verdicts", "fevers", "busiest", "devices"):
            assert f'<p class="none">{none}</p>' in section(page, key), key
        assert "<svg" not in page


def test_a_device_down_since_before_midnight(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.db")
    audit.append(device("06:30:00", "camera", "back"))  # "back": it was down, though the day logged no loss
    audit.append(device("07:00:00", "2D scanner", "ok", "disconnected"))
    audit.append(device("08:00:00", "2D scanner", "no reading", "ok"))  # any state not known good is a problem
    audit.append(device("08:01:00", "2D scanner", "ok", "no reading"))
    s = summarize(audit, DAY, tz=TZ)
    assert s.outages == [
        Outage("2D scanner (kiosk-1)", "disconnected", s.start, at("07:00:00"), from_before=True),
        Outage("camera (kiosk-1)", "?", s.start, at("06:30:00"), from_before=True),
        Outage("2D scanner (kiosk-1)", "no reading", at("08:00:00"), at("08:01:00")),
    ]
    report(audit, DAY, tmp_path / "day.html", tz=TZ, language="en")
    devices = section((tmp_path / "day.html").read_text(encoding="utf-8"), "devices")
    assert "<td>before the day</td><td>06:30:00</td><td>6:30:00</td>" in devices
    audit.close()


@pytest.mark.parametrize(("day", "clocks", "hours"), [
    ("2026-03-08", ["01:30:00-05:00", "03:30:00-04:00"], {1: 1, 3: 1}),  # spring forward: no 02:00 hour
    ("2026-11-01", ["01:30:00-04:00", "01:30:00-05:00", "23:59:00-05:00"], {1: 2, 23: 1}),  # 01:00 twice
])
def test_hours_follow_the_local_clock_on_dst_days(tmp_path: Path, day: str, clocks: list[str],
                                                  hours: dict[int, int]) -> None:
    zone = ZoneInfo("America/New_York")
    audit = AuditLog(tmp_path / "audit.db")
    for clock in clocks:
        audit.append(replace(scan("00:00:00"), at=datetime.fromisoformat(f"{day}T{clock}").timestamp()))
    s = summarize(audit, date.fromisoformat(day), tz=zone)
    assert {h: n for h, n in enumerate(s.hourly) if n} == hours
    assert s.end - s.start == {"2026-03-08": 23, "2026-11-01": 25}[day] * 3600
    audit.close()


def test_a_failed_report_leaves_nothing(log: AuditLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("no")

    monkeypatch.setattr(report_module, "render", broken)
    with pytest.raises(RuntimeError):
        report(log, DAY, tmp_path / "day.html", tz=TZ)
    monkeypatch.undo()
    with pytest.raises(ExportError, match="cannot write"):
        report(log, DAY, tmp_path / "missing" / "day.html", tz=TZ)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("audit.db")] == []
