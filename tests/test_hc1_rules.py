"""HC1's content rules (issue 15, "Verdict"; spec section 9), each at its edges, and the [hc1] section that sets them.

The numbers are the issue's: a vaccination counts from 14 days after the last dose to 270 days (a booster
always), unless the series is incomplete (dn < sd); a test counts when its result is "not detected"
(260415000) and its sample is at most 72 h old (NAAT, LP6464-4) or 48 h (RAT, LP217198-3); a recovery
between its df and du. The rules are pure: an entry and a clock in, a reason out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk.config import parse_config
from kiosk.errors import ConfigError
from kiosk.formats.hc1_rules import content_reason
from kiosk.policy import Hc1Rules, Policy

NOW = 1_780_000_000  # 2026-05-28 20:26:40 UTC
TODAY = date(2026, 5, 28)
HOUR = 3600
DEFAULT = Hc1Rules()
NEGATIVE, POSITIVE = "260415000", "260373001"  # SNOMED CT: not detected, detected
NAAT, RAT = "LP6464-4", "LP217198-3"
BEIJING = timezone(timedelta(hours=8))


def test_the_clock_of_these_tables_is_the_day_they_say() -> None:
    assert datetime.fromtimestamp(NOW, UTC).date() == TODAY


def days_ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def hours_ago(hours: float) -> str:
    return datetime.fromtimestamp(NOW - hours * HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vaccination(days: int, dose: int = 2, doses: int = 2, dt: object = None) -> dict[str, object]:
    return {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": dose,
            "sd": doses, "dt": days_ago(days) if dt is None else dt, "co": "AT", "is": "BMSGPK Austria",
            "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B"}


def sampled(hours: float, kind: str = NAAT, result: str = NEGATIVE, sc: str | None = None) -> dict[str, object]:
    return {"tg": "840539006", "tt": kind, "nm": "Roche LightCycler qPCR", "sc": sc or hours_ago(hours),
            "tr": result, "tc": "Testzentrum Wien", "co": "AT", "is": "BMSGPK Austria", "ci": "URN:UVCI:01:AT:T1"}


def recovery(df: str, du: str) -> dict[str, object]:
    return {"tg": "840539006", "fr": "2026-01-02", "co": "AT", "is": "BMSGPK Austria", "df": df, "du": du,
            "ci": "URN:UVCI:01:AT:R1"}


# (id, certificate, entry, expected reason: None counts)
EDGES: list[tuple[str, str, dict[str, object], str | None]] = [
    ("vaccination day 13: too recent", "vaccination", vaccination(13), "vaccination_too_recent"),
    ("vaccination day 14: counts", "vaccination", vaccination(14), None),
    ("vaccination day 0: too recent", "vaccination", vaccination(0), "vaccination_too_recent"),
    ("vaccination day 270: counts", "vaccination", vaccination(270), None),
    ("vaccination day 271: too old", "vaccination", vaccination(271), "vaccination_too_old"),
    ("1/2 doses: incomplete", "vaccination", vaccination(60, 1, 2), "vaccination_incomplete"),
    ("2/3 doses: incomplete", "vaccination", vaccination(60, 2, 3), "vaccination_incomplete"),
    ("0/0 doses: incomplete (no dose at all)", "vaccination", vaccination(60, 0, 0), "vaccination_incomplete"),
    ("incomplete before too recent", "vaccination", vaccination(3, 1, 2), "vaccination_incomplete"),
    ("1/1 (one-dose vaccine) day 271: too old", "vaccination", vaccination(271, 1, 1), "vaccination_too_old"),
    ("booster 3/3 day 500: counts", "vaccination", vaccination(500, 3, 3), None),
    ("booster 2/1 day 500: counts", "vaccination", vaccination(500, 2, 1), None),
    ("booster 4/4 day 900: counts", "vaccination", vaccination(900, 4, 4), None),
    ("booster 3/3 day 13: too recent", "vaccination", vaccination(13, 3, 3), "vaccination_too_recent"),
    ("dt as a date-time: its day", "vaccination", vaccination(0, dt=days_ago(14) + "T23:59:00+02:00"), None),
    ("dt not a date: malformed", "vaccination", vaccination(0, dt="yesterday"), "malformed"),
    ("NAAT 72 h: counts", "test", sampled(72), None),
    ("NAAT 72 h 1 s: too old", "test", sampled(72 + 1 / HOUR), "test_too_old"),
    ("RAT 48 h: counts", "test", sampled(48, RAT), None),
    ("RAT 48 h 1 s: too old", "test", sampled(48 + 1 / HOUR, RAT), "test_too_old"),
    ("RAT 50 h: too old where a NAAT counts", "test", sampled(50, RAT), "test_too_old"),
    ("NAAT 50 h: counts", "test", sampled(50, NAAT), None),
    ("a type not known: the stricter 48 h", "test", sampled(50, "a test"), "test_too_old"),
    ("a type not known, 47 h: counts", "test", sampled(47, "a test"), None),
    ("detected: positive", "test", sampled(1, result=POSITIVE), "test_positive"),
    ("no result: not negative", "test", sampled(1, result=""), "test_positive"),
    ("an unknown result code: not negative", "test", sampled(1, result="1240591000000102"), "test_positive"),
    ("positive before too old", "test", sampled(100, result=POSITIVE), "test_positive"),
    ("sample time with an offset: 71 h", "test", sampled(0, sc=datetime.fromtimestamp(NOW - 71 * HOUR, BEIJING)
                                                         .isoformat()), None),
    ("sample time with an offset: 73 h", "test", sampled(0, sc=datetime.fromtimestamp(NOW - 73 * HOUR, BEIJING)
                                                         .isoformat()), "test_too_old"),
    ("sample time with milliseconds", "test", sampled(0, sc=hours_ago(73)[:-1] + ".000Z"), "test_too_old"),
    ("sample time not a time: malformed", "test", sampled(0, sc="soon"), "malformed"),
    ("recovery on df: counts", "recovery", recovery(TODAY.isoformat(), "2026-11-01"), None),
    ("recovery the day before df: not valid", "recovery", recovery("2026-05-29", "2026-11-01"),
     "recovery_not_valid"),
    ("recovery on du: counts", "recovery", recovery("2026-01-13", TODAY.isoformat()), None),
    ("recovery the day after du: not valid", "recovery", recovery("2026-01-13", "2026-05-27"), "recovery_not_valid"),
    ("recovery du not a date: malformed", "recovery", recovery("2026-01-13", "2026-02-30"), "malformed"),
]


@pytest.mark.parametrize(("certificate", "entry", "reason"), [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_each_rule_at_its_edges(certificate: str, entry: dict[str, object], reason: str | None) -> None:
    assert content_reason(certificate, entry, DEFAULT, NOW) == reason


def test_the_defaults_are_the_issues() -> None:
    assert (DEFAULT.vaccination_min_days, DEFAULT.vaccination_max_days, DEFAULT.test_max_hours_naat,
            DEFAULT.test_max_hours_rat) == (14, 270, 72, 48)
    assert Policy().hc1 == DEFAULT == parse_config("").policy.hc1


def test_the_site_sets_each_number() -> None:
    rules = Hc1Rules(vaccination_min_days=7, vaccination_max_days=180, test_max_hours_naat=24, test_max_hours_rat=12)
    assert content_reason("vaccination", vaccination(7), rules, NOW) is None
    assert content_reason("vaccination", vaccination(6), rules, NOW) == "vaccination_too_recent"
    assert content_reason("vaccination", vaccination(181), rules, NOW) == "vaccination_too_old"
    assert content_reason("test", sampled(25), rules, NOW) == "test_too_old"
    assert content_reason("test", sampled(13, RAT), rules, NOW) == "test_too_old"
    assert content_reason("test", sampled(11, RAT), rules, NOW) is None


def test_the_hc1_section_of_the_config_file_reaches_the_policy(tmp_path: Path) -> None:
    config = parse_config("[hc1]\nvaccination_min_days = 7\ntest_max_hours_rat = 24.5\n", tmp_path / "kiosk.toml")
    assert config.policy.hc1 == Hc1Rules(vaccination_min_days=7, test_max_hours_rat=24.5)
    assert config.policy.with_values({"skew": 30}).hc1 == config.policy.hc1  # the admin screen's change keeps it


@pytest.mark.parametrize(("text", "message"), [
    ("[hc1]\nvaccination_min_days = -1\n", "[hc1] vaccination_min_days = -1: expected a whole number of days, 0 to "
                                           "3650"),
    ("[hc1]\nvaccination_min_days = 14.5\n", "[hc1] vaccination_min_days = 14.5: expected a whole number of days, 0 to "
                                             "3650"),
    ("[hc1]\ntest_max_hours_naat = 0\n", "[hc1] test_max_hours_naat = 0: expected a number of hours above 0, at most "
                                         "8760"),
    ("[hc1]\nvaccination_max_days = 10\n", "[hc1] vaccination_max_days = 10: expected days at least "
                                           "vaccination_min_days (14)"),
    ("[hc1]\nbooster = true\n", "[hc1] unknown setting(s): booster; expected one of: vaccination_min_days, "
                                "vaccination_max_days, test_max_hours_naat, test_max_hours_rat"),
])
def test_a_bad_hc1_setting_is_one_line_naming_it(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert str(caught.value) == message
