"""The day's HTML report: totals, people per hour, reasons, fevers, the busiest 15 minutes, device outages."""

from __future__ import annotations

import re
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk.audit import report as report_module
from kiosk.audit import report_page
from kiosk.audit.events import Event
from kiosk.audit.export import ExportError
from kiosk.audit.report import Outage, report, summarize
from kiosk.audit.store import AuditLog
from kiosk.audit.zones import local_zone, zone_name

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 27)


def at(clock: str, day: str = "2026-11-27", tz: ZoneInfo = TZ) -> float:
    return datetime.fromisoformat(f"{day} {clock}").replace(tzinfo=tz).timestamp()


def scan(clock: str, verdict: str = "pass", reason: str = "ok", day: str = "2026-11-27", tz: ZoneInfo = TZ,
         **changes: object) -> Event:
    """A scan of a code whose subject is its time (one person a scan), unless `subject_ref` says another."""
    event = Event("", at(clock, day, tz), "scan", site="人民广场站", lane="A1", device="kiosk-1", verdict=verdict,
                  reason=reason, status="green", code_kind="dynamic", iss="CN-310000", temperature=36.5,
                  subject_ref=f"{day} {clock}")
    return replace(event, **changes)  # type: ignore[arg-type]


def device(clock: str, thing: str, state: str, before: str | None = None, day: str = "2026-11-27") -> Event:
    return Event("", at(clock, day), "device", lane="A1", device="kiosk-1",
                 details={"device": thing, "state": state, "before": before})


HAND_MADE_DAY = [
    scan("23:59:59", day="2026-11-26"),  # the day before: not counted
    scan("07:30:00"),
    *[scan(clock) for clock in ("08:00:00", "08:02:00", "08:04:00", "08:06:00", "08:08:00", "08:14:59")],
    scan("08:03:00", "retry", "temperature_missing", temperature=None,  # the same person again: not a person
         subject_ref="2026-11-27 08:02:00"),
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
    that_day = [e for e in HAND_MADE_DAY if s.start <= e.at < s.end]
    subjects = {e.subject_ref for e in that_day if e.kind == "scan"}
    assert s.people == len(subjects) + 1 == 14 and s.manual == 1  # the retry at 13:10 is someone new
    assert s.scans == len([e for e in that_day if e.kind == "scan"]) == 14 and s.visits == 13
    assert s.verdicts == {"pass": 7, "deny": 5, "retry": 2}
    assert s.hourly[7] == 1 and s.hourly[8] == 7 and s.hourly[12] == 3 and s.hourly[13] == 2 and sum(s.hourly) == 13
    assert s.reasons == {("deny", "expired"): 2, ("deny", "status_red"): 1, ("deny", "fever"): 1,
                         ("deny", "status_amber"): 1, ("retry", "temperature_missing"): 1,
                         ("retry", "temperature_implausible"): 1}
    assert [(f.celsius, f.lane) for f in s.fevers] == [(38.2, "A1"), (37.8, "A1")]
    assert s.busiest == (at("08:00:00"), at("08:15:00"), 7)
    assert s.outages == [Outage("camera", "kiosk-1", "lost", at("09:00:00"), at("09:12:30")),
                         Outage("thermometer", "kiosk-1", "disconnected", at("22:00:00"), None)]
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
    for name, count in (("people", 14), ("scans", 14), ("pass", 7), ("deny", 5), ("retry", 2),
                        ("registrations by hand", 1)):
        assert f'<td>{name}</td><td class="n">{count}</td>' in totals
    verdicts = section(page, "verdicts")
    assert "<svg" in verdicts and '<td>code expired</td><td>expired</td><td class="n">2</td>' in verdicts
    fevers = section(page, "fevers")
    assert '<p class="big">2</p>' in fevers and "38.2 °C" in fevers and "37.8 °C" in fevers and "44.0" not in fevers
    assert "08:00:00–08:15:00: 7 check-ins" in section(page, "busiest")
    devices = section(page, "devices")
    assert "<td>camera (kiosk-1)</td><td>lost</td><td>09:00:00</td><td>09:12:30</td><td>0:12:30</td>" in devices
    assert "<td>thermometer (kiosk-1)</td><td>disconnected</td><td>22:00:00</td>" in devices
    assert "not back by the end of the day" in devices
    assert "<svg" in section(page, "hourly")


def test_the_chinese_page(log: AuditLog, tmp_path: Path) -> None:
    report(log, DAY, tmp_path / "day.html", tz=TZ, language="zh", site_name="人民广场站")
    page = (tmp_path / "day.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "人民广场站 · 检查点日报 · 2026-11-27" in page
    assert '<td>人数</td><td class="n">14</td>' in section(page, "totals")
    assert '<td>禁止</td><td>码已过期</td><td>expired</td><td class="n">2</td>' in section(page, "verdicts")
    assert "至日终未恢复" in section(page, "devices")
    assert "Asia/Shanghai" in page


def test_chart_labels_fall_back_to_english_without_a_cjk_font(log: AuditLog, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_page, "cjk_font", lambda: None)
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
        Outage("2D scanner", "kiosk-1", "disconnected", s.start, at("07:00:00"), from_before=True),
        Outage("camera", "kiosk-1", "?", s.start, at("06:30:00"), from_before=True),
        Outage("2D scanner", "kiosk-1", "no reading", at("08:00:00"), at("08:01:00")),
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


# -- what a site manager reads on the page: the zone, words, people, outages, the rush, when it was made ----------

def zone_file(key: str) -> Path:
    """The tz database file of `key`: the system's, else the tzdata package's (which zoneinfo falls back to)."""
    import tzdata

    folders = [Path(p) for p in zoneinfo.TZPATH] + [Path(tzdata.__file__).parent / "zoneinfo"]
    return next(folder / key for folder in folders if (folder / key).is_file())


def test_the_machines_zone_is_named_from_its_link_or_its_name_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    link = tmp_path / "localtime"
    link.symlink_to(zone_file("America/New_York"))  # as /etc/localtime is on most systems
    assert getattr(local_zone(link, tmp_path / "none"), "key", None) == "America/New_York"
    copy = tmp_path / "copied"  # a copy of the zone file, as some images have: Debian names it in /etc/timezone
    copy.write_bytes(zone_file("Asia/Shanghai").read_bytes())
    (tmp_path / "timezone").write_text("Asia/Shanghai\n")
    assert getattr(local_zone(copy, tmp_path / "timezone"), "key", None) == "Asia/Shanghai"
    nameless = local_zone(copy, tmp_path / "none")  # no name anywhere: its offset, never "localtime"
    assert zone_name(nameless, at("12:00:00")) == "UTC+08:00"
    monkeypatch.setenv("TZ", "Europe/London")
    assert getattr(local_zone(link, tmp_path / "none"), "key", None) == "Europe/London"  # TZ comes first
    out = tmp_path / "day.html"
    monkeypatch.delenv("TZ")
    report(quiet_log(tmp_path), DAY, out, tz=local_zone(link, tmp_path / "none"), language="zh")
    zone_line = re.search(r'<p class="sub" id="zone">(.*?)</p>', out.read_text(encoding="utf-8"))
    assert zone_line and zone_line[1] == "时区: America/New_York (UTC-05:00)"


def quiet_log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "quiet-day.db")
    audit.append(scan("12:00:00"))
    return audit


def test_the_report_says_when_it_was_made_and_in_which_zone(log: AuditLog, tmp_path: Path) -> None:
    made = at("18:30:05", "2026-11-28")
    report(log, DAY, tmp_path / "day.html", tz=TZ, language="zh", now=made)
    footer = re.search(r'<footer id="generated">(.*?)</footer>', (tmp_path / "day.html").read_text(encoding="utf-8"))
    expected = datetime.fromtimestamp(made, TZ).strftime("%Y-%m-%d %H:%M:%S")
    assert footer and footer[1] == f"生成时间: {expected} Asia/Shanghai (UTC+08:00)"


def test_the_configured_timezone_is_the_reports_zone(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    audit = AuditLog(db)
    audit.append(scan("10:00:00", day="2026-11-27", tz=ZoneInfo("America/New_York")))
    audit.close()
    config = tmp_path / "k.toml"
    config.write_text(f'[log]\npath = "{db}"\ntimezone = "America/New_York"\n')
    page = tmp_path / "day.html"
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "log", "report", "--day",
                           "2026-11-27", "--out", str(page), "--language", "en"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert "time zone: America/New_York (UTC-05:00)" in html and "America/New_York (UTC-05:00)</footer>" in html
    assert "10:00:00–10:00:00: 1 check-ins" in section(html, "busiest")  # New York's clock, not the machine's
    config.write_text(f'[log]\npath = "{db}"\ntimezone = "Mars/Olympus_Mons"\n')
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "log", "report", "--out",
                           str(page)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "Mars/Olympus_Mons" in done.stderr


@pytest.mark.parametrize(("language", "words", "not_words"), [
    ("zh", ["摄像头 (kiosk-1)", "<td>断开</td>", "测温仪 (kiosk-1)", "<td>未连接</td>"],
     ["camera", "lost", "thermometer", "disconnected"]),
    ("en", ["camera (kiosk-1)", "<td>lost</td>", "thermometer (kiosk-1)", "<td>disconnected</td>"], ["摄像头", "断开"]),
])
def test_device_problems_are_in_the_pages_language(log: AuditLog, tmp_path: Path, language: str,
                                                   words: list[str], not_words: list[str]) -> None:
    report(log, DAY, tmp_path / "day.html", tz=TZ, language=language)  # type: ignore[arg-type]
    devices = section((tmp_path / "day.html").read_text(encoding="utf-8"), "devices")
    assert all(w in devices for w in words) and not any(w in devices for w in not_words)


def test_people_are_distinct_subjects_and_registrations_beside_scans(tmp_path: Path) -> None:
    day = [
        scan("08:00:00", subject_ref="A"), scan("08:00:05", "retry", "temperature_missing", subject_ref="A"),
        scan("12:00:00", subject_ref="A"),  # the same person again at noon: one person, three scans
        scan("08:01:00", subject_ref="B"),
        scan("08:02:00", "deny", "not_health_code", subject_ref=None),  # no code: nobody to count
        Event("", at("09:00:00"), "manual", lane="A1", temperature=36.6, details={"name": "张*"}),
        Event("", at("09:01:00"), "manual", lane="A1", temperature=36.7, details={"name": "李*"}),
    ]
    audit = AuditLog(tmp_path / "audit.db")
    for event in day:
        audit.append(event)
    s = summarize(audit, DAY, tz=TZ)
    subjects = {e.subject_ref for e in day if e.kind == "scan" and e.subject_ref}
    registered = [e for e in day if e.kind == "manual"]
    assert s.people == len(subjects) + len(registered)
    assert s.scans == len([e for e in day if e.kind == "scan"])
    report(audit, DAY, tmp_path / "day.html", tz=TZ, language="zh")
    totals = section((tmp_path / "day.html").read_text(encoding="utf-8"), "totals")
    assert f'<td>人数</td><td class="n">{s.people}</td>' in totals
    assert f'<td>扫码次数</td><td class="n">{s.scans}</td>' in totals
    audit.close()


def test_a_device_back_the_moment_it_was_lost_is_no_outage(tmp_path: Path) -> None:
    day = [device("09:00:00", "camera", "lost", "ok"), device("09:00:00", "camera", "ok", "lost"),
           device("10:00:00", "thermometer", "disconnected", "ok"), device("10:05:00", "thermometer", "ok")]
    audit = AuditLog(tmp_path / "audit.db")
    for event in day:
        audit.append(event)
    s = summarize(audit, DAY, tz=TZ)
    # A problem, then the next good state of the same device: an outage only if it lasted.
    problems = [(e.details["device"], e.at, next(later.at for later in day[i + 1:]
                                                 if later.details["device"] == e.details["device"]))
                for i, e in enumerate(day) if e.details["state"] != "ok"]
    assert [(o.device, o.start, o.end) for o in s.outages] == [p for p in problems if p[2] > p[1]]
    report(audit, DAY, tmp_path / "day.html", tz=TZ, language="en")
    devices = section((tmp_path / "day.html").read_text(encoding="utf-8"), "devices")
    assert "camera" not in devices and '<td>thermometer (kiosk-1)</td><td class="n">1</td>' in devices
    audit.close()


def test_the_busiest_stretch_ends_with_the_days_last_event(tmp_path: Path) -> None:
    day = [scan("08:00:00"), scan("08:01:00"), scan("08:04:30"), device("08:05:00", "camera", "ended")]
    audit = AuditLog(tmp_path / "audit.db")
    for event in day:
        audit.append(event)
    s = summarize(audit, DAY, tz=TZ)
    first, last = min(e.at for e in day if e.kind == "scan"), max(e.at for e in day)
    assert s.busiest == (first, min(first + 15 * 60, last), 3)
    report(audit, DAY, tmp_path / "day.html", tz=TZ, language="en")
    clock = datetime.fromtimestamp(min(first + 15 * 60, last), TZ).strftime("%H:%M:%S")
    assert f"08:00:00–{clock}: 3 check-ins" in section((tmp_path / "day.html").read_text(encoding="utf-8"),
                                                        "busiest")
    audit.close()
