"""The content rules of an EU DCC (spec section 9): does this vaccination, test or recovery count now? Pure.

They run once the code's signature, key and times have held, each rule a reason of its own; the numbers are
the site's ([hc1], kiosk.policy.Hc1Rules). Dates are the DCC's ISO 8601 texts; a day is a calendar day in
UTC (the verifier has no time zone), so "14 days after the dose" starts at 00:00 UTC of the 14th day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from kiosk.cbor import is_uint
from kiosk.policy import Hc1Rules

NAAT = "LP6464-4"  # tt: nucleic acid amplification (PCR), LOINC
RAT = "LP217198-3"  # tt: rapid antigen test, LOINC
NOT_DETECTED = "260415000"  # tr: the one negative result (SNOMED CT); every other value is not negative
BOOSTER_DOSE = 3  # dn: a third dose or later is a booster whatever the series says (3/3 is written for one)
MAX_DATE_TEXT = 64  # characters: an ISO 8601 date-time is at most 35; longer is not a date


def content_reason(certificate: str, entry: Mapping[str, object], rules: Hc1Rules, now: float) -> str | None:
    """The first content rule the certificate's entry breaks at `now`, or None when it counts.

    "malformed" for a field a rule needs that cannot be read (the decoder has checked the fields' types).
    """
    if certificate == "vaccination":
        return reason_for_vaccination(entry, rules, now)
    if certificate == "test":
        return reason_for_test(entry, rules, now)
    if certificate == "recovery":
        return reason_for_recovery(entry, now)
    return "malformed"


def is_booster(dose: int, doses: int) -> bool:
    """A dose past the series (2/1: after a one-dose vaccine or a recovery) or a third dose or later (3/3)."""
    return dose > doses or dose >= BOOSTER_DOSE


def reason_for_vaccination(entry: Mapping[str, object], rules: Hc1Rules, now: float) -> str | None:
    dose, doses = entry.get("dn"), entry.get("sd")
    if not is_uint(dose) or not is_uint(doses):
        return "malformed"
    if dose < doses or dose == 0:
        return "vaccination_incomplete"
    given = day_of(entry.get("dt"))
    if given is None:
        return "malformed"
    days = (today(now) - given).days
    if days < rules.vaccination_min_days:  # a booster too: the issue counts from the last dose, whichever it is
        return "vaccination_too_recent"
    if days > rules.vaccination_max_days and not is_booster(dose, doses):
        return "vaccination_too_old"
    return None


def reason_for_test(entry: Mapping[str, object], rules: Hc1Rules, now: float) -> str | None:
    if entry.get("tr") != NOT_DETECTED:  # "detected", empty, or a code this verifier does not know
        return "test_positive"
    sampled = moment_of(entry.get("sc"))
    if sampled is None:
        return "malformed"
    kind = entry.get("tt")
    hours = rules.test_max_hours_naat if kind == NAAT else rules.test_max_hours_rat if kind == RAT \
        else min(rules.test_max_hours_naat, rules.test_max_hours_rat)  # a type not known here: the stricter
    if now - sampled > hours * 3600:
        return "test_too_old"
    return None


def reason_for_recovery(entry: Mapping[str, object], now: float) -> str | None:
    start, end = day_of(entry.get("df")), day_of(entry.get("du"))
    if start is None or end is None:
        return "malformed"
    if not start <= today(now) <= end:  # both days included
        return "recovery_not_valid"
    return None


def today(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


def day_of(value: object) -> date | None:
    """The day an ISO 8601 date ("2021-05-29") or date-time names, as written; None: not one."""
    if not isinstance(value, str) or len(value) > MAX_DATE_TEXT:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value).date()
    except ValueError:
        return None


def moment_of(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 date-time ("2021-05-29T19:21:13+02:00"; no zone: UTC); None: not one."""
    if not isinstance(value, str) or len(value) > MAX_DATE_TEXT:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        return None
