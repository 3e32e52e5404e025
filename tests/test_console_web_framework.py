"""The console's framework without a server: what make_console refuses, every word a template says in both
languages, the files the package ships, and the pure parts (filters, alerts, chart) at their edges."""

from __future__ import annotations

import configparser
import fnmatch
import re
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from starlette.requests import Request
from starlette.responses import Response

from kiosk.audit.events import subject_reference
from kiosk.console import alerts
from kiosk.console.chart import Hour, chart
from kiosk.console.filters import parse, today
from kiosk.console.web import ConsoleParts, Page, discovered, make_console, needs

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "kiosk" / "console"
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _handler(request: Request, parts: ConsoleParts) -> Response:
    return Response("")


def test_a_page_that_declares_no_action_is_refused_at_start() -> None:
    parts = cast(ConsoleParts, object())
    with pytest.raises(RuntimeError, match="declares no @needs"):
        make_console(parts, [Page("/open", _handler)])
    assert make_console(parts, [Page("/open", needs("events")(_handler))])  # declared: served (behind the guard)
    assert make_console(parts, [Page("/login-like", _handler, kind="public")])


def test_every_word_a_template_says_exists_in_both_languages() -> None:
    _, table = discovered()
    assert all(zh.strip() and en.strip() for zh, en in table.values())
    used: set[str] = set()
    for template in (CONSOLE / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_.]+)['"]""", template.read_text(encoding="utf-8")))
    for module in CONSOLE.glob("pages_*.py"):
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_.]+)['"]""", module.read_text(encoding="utf-8")))
    # Keys a template builds: 'overview.' ~ state, 'role.' ~ role, 'kind.' ~ kind.
    used |= {f"overview.{s}" for s in ("online", "offline", "revoked")}
    used |= {f"role.{r}" for r in ("viewer", "manager", "tracer", "admin")}
    used |= {f"kind.{k}" for k in ("scan", "manual", "correction", "device", "admin", "purge")}
    used |= {"alert.silent", "alert.never", "alert.chain", "alert.trust", "alert.clock", "alert.fever",
             "alert.device", "problem.forbidden", "problem.not_found", "problem.bad_request", "problem.store",
             "problem.internal"}
    assert sorted(k for k in used - set(table) if not k.endswith(".")) == []  # "x." ~ value: built, listed above


def test_the_package_ships_every_template_and_asset() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["kiosk.console"].split(",")]
    files = [p.relative_to(CONSOLE).as_posix() for folder in ("templates", "static")
             for p in (CONSOLE / folder).iterdir() if p.is_file()]
    assert files and [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def test_filters_read_days_and_times_in_the_collectors_zone() -> None:
    day = parse({"since": "2026-11-21", "until": "2026-11-21"}, SHANGHAI, None)
    assert day.since == datetime(2026, 11, 21, tzinfo=SHANGHAI).timestamp()
    assert day.until == datetime(2026, 11, 22, tzinfo=SHANGHAI).timestamp()  # a day as the end: all of it
    moment = parse({"since": "2026-11-21T14:30"}, SHANGHAI, None)
    assert moment.since == datetime(2026, 11, 21, 6, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    for bad in ({"since": "21/11/2026"}, {"until": "2026-02-30"}, {"since": "2026-11-22", "until": "2026-11-21"},
                {"site": "x" * 65}, {"site": "a\nb"}, {"reason": "because"}, {"after": "x" * 201}):
        with pytest.raises(ValueError):
            parse(bad, SHANGHAI, None)


def test_a_subject_is_a_reference_or_with_the_key_also_the_id_on_a_code() -> None:
    key, subject = bytes(range(32)), "00112233445566778899AABBCCDDEEFF"
    assert parse({"subject": subject}, SHANGHAI, None).subjects == (subject.lower(),)
    assert parse({"subject": subject}, SHANGHAI, key).subjects == (
        subject.lower(), subject_reference(bytes.fromhex(subject), key))


def test_a_day_with_a_clock_change_has_its_own_number_of_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    _, _, spring = today(datetime(2026, 3, 29, 12, tzinfo=berlin).timestamp(), berlin)
    _, _, autumn = today(datetime(2026, 10, 25, 12, tzinfo=berlin).timestamp(), berlin)
    _, _, plain = today(datetime(2026, 6, 1, 12, tzinfo=berlin).timestamp(), berlin)
    assert (len(spring), len(autumn), len(plain)) == (23, 25, 24)


def facts(**changes: Any) -> alerts.KioskFacts:
    values: dict[str, Any] = {"label": "Gate 2 (3f2a9c1b)", "last_sync": 1000.0}
    return alerts.KioskFacts(**{**values, **changes})


def test_alerts_keep_to_their_thresholds() -> None:
    now = 1000.0
    keys = lambda found: [(a.level, a.key) for a in found]  # noqa: E731
    assert keys(alerts.kiosk_alerts(facts(last_sync=now - 599), now)) == []  # online: synced within 10 minutes
    assert keys(alerts.kiosk_alerts(facts(last_sync=now - 601), now)) == [("warning", "alert.silent")]
    assert keys(alerts.kiosk_alerts(facts(last_sync=now - 3601), now)) == [("alarm", "alert.silent")]
    assert keys(alerts.kiosk_alerts(facts(last_sync=None), now)) == [("warning", "alert.never")]
    assert keys(alerts.kiosk_alerts(facts(last_sync=now - 9999, revoked=True), now)) == []
    assert keys(alerts.kiosk_alerts(facts(faults=1), now)) == [("alarm", "alert.chain")]
    assert keys(alerts.kiosk_alerts(facts(trust_at=now - 24 * 3600 - 1), now)) == [("warning", "alert.trust")]
    assert keys(alerts.kiosk_alerts(facts(trust_at=now - 72 * 3600 - 1), now)) == [("alarm", "alert.trust")]
    assert keys(alerts.kiosk_alerts(facts(clock_offset=-121), now)) == [("warning", "alert.clock")]
    assert keys(alerts.kiosk_alerts(facts(clock_offset=119), now)) == []
    assert keys(alerts.kiosk_alerts(facts(devices={"camera": "ok", "thermometer": "disconnected"}), now)) == [
        ("warning", "alert.device")]
    assert keys(alerts.fever_alerts("Joy City", [("13:00", 2), ("14:00", 3)])) == [("alarm", "alert.fever")]


def test_the_chart_stacks_each_hours_verdicts_to_scale() -> None:
    drawn = chart([Hour(0, "00", 6, 3, 1, 0), Hour(3600, "01", 0, 0, 0, 2), Hour(7200, "02", 0, 0, 0, 0)],
                  {"pass": "pass", "deny": "deny", "retry": "retry", "fever": "fever"})
    assert drawn.top == 10  # a round top at or above the busiest hour
    bars = {r.kind: r for r in drawn.rects if r.x == drawn.rects[0].x}
    assert bars["pass"].height == pytest.approx(2 * bars["deny"].height) == pytest.approx(6 * bars["retry"].height)
    assert bars["pass"].y + bars["pass"].height == pytest.approx(drawn.baseline)  # pass at the bottom
    assert bars["deny"].y + bars["deny"].height == pytest.approx(bars["pass"].y)  # deny on top of it
    assert [r.kind for r in drawn.rects if r.x != drawn.rects[0].x] == ["fever"]  # an hour of fevers only
