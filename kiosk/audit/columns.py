"""The columns of a CSV or XLSX export, and each event as a row of them.

A registration's fields get a column each, in the site's order ([log]
manual_fields, then any other field the exported events hold), headed in the
export's language; device, admin and purge events are said in words in the
reason column; whatever is left of an event's details sits in one JSON cell.
A registration shows its corrections applied, with when and by whom.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo
from typing import Any, NamedTuple

from kiosk.audit.corrections import Fix
from kiosk.audit.localtime import LocalTime
from kiosk.audit.words import Language, event_words, field_header
from kiosk.terms import CODE_KINDS, CODE_STATUSES, EVENT_KINDS, REASON_RECORDS, VERDICTS, in_language

Column = tuple[str, str, str, int]  # key, Chinese header, English header, XLSX width
FIELD = "field:"  # the key of a registration field's column: "field:name"

BEFORE: list[Column] = [
    ("time", "时间", "time", 20), ("utc_offset", "时区", "UTC offset", 8), ("kind", "类型", "kind", 10),
    ("verdict", "结果", "verdict", 8), ("reason", "原因", "reason", 22), ("reason_code", "原因代码", "reason code", 20),
    ("status", "状态", "status", 8), ("temperature", "体温(°C)", "temperature (°C)", 10),
    ("site", "场所", "site", 16), ("lane", "通道", "lane", 10), ("device", "设备", "device", 12),
    ("code_kind", "码类型", "code kind", 10), ("issuer", "签发机构", "issuer", 12), ("kid", "密钥编号", "key id", 18),
    ("code_issued", "码生成时间", "code issued", 20), ("subject_ref", "人员标识", "subject ref", 34),
    ("operator", "操作员", "operator", 10),
]
AFTER: list[Column] = [
    ("corrected_at", "更正时间", "corrected at", 20), ("corrected_by", "更正人", "corrected by", 10),
    ("details", "其他信息", "other details", 30), ("id", "编号", "id", 28),
]
TIMES = ("time", "code_issued", "corrected_at")  # Excel dates in an XLSX
# Details said in words (device, admin) or in columns (fields) are not repeated in the JSON cell.
SAID = {"device": ("device", "state", "before"), "admin": ("action",), "correction": ("corrects", "fields")}


def columns(fields: Sequence[str]) -> list[Column]:
    return [*BEFORE, *[(FIELD + key, field_header(key, "zh"), field_header(key, "en"), 14) for key in fields],
            *AFTER]


def header(language: Language, fields: Sequence[str]) -> list[str]:
    return [zh if language == "zh" else en for _, zh, en, _ in columns(fields)]


class Vocabulary(NamedTuple):
    """The words a row says values in: value -> word; a value not in a table is said as itself."""

    kinds: dict[str, str]
    verdicts: dict[str, str]
    statuses: dict[str, str]
    code_kinds: dict[str, str]
    reasons: dict[str, str]


def vocabulary(language: Language) -> Vocabulary:
    reasons = in_language(REASON_RECORDS, language)
    if language == "zh":
        kinds, verdicts, statuses, code_kinds = (in_language(t, "zh") for t in (EVENT_KINDS, VERDICTS, CODE_STATUSES,
                                                                                CODE_KINDS))
        return Vocabulary(kinds, verdicts, statuses, code_kinds, reasons)
    return Vocabulary({}, {}, {}, {}, reasons)  # English keeps the raw values, which are English, but words the reason


def row_maker(language: Language, tz: tzinfo, excel: bool, fields: Sequence[str],
              fixes: Mapping[str, Fix]) -> Callable[[Any], tuple[Any, ...]]:
    """A function from a row of SOURCE to a row of `columns(fields)`: local times (text, or Excel day numbers),
    values in words, a registration's fields in their columns and its corrections applied.
    (kiosk/audit/csv_rows.py writes the common event's CSV line without it: a change here is one there too.)"""
    kinds, verdicts, statuses, code_kinds, reasons = vocabulary(language)
    clock, iat_clock, fix_clock = LocalTime(tz), LocalTime(tz), LocalTime(tz)
    stamp, iat_stamp, fix_stamp = (clock.serial, iat_clock.serial, fix_clock.serial) if excel else \
        (clock.text, iat_clock.text, fix_clock.text)
    typed: Callable[[Any], Any] = _as_is if excel else defused  # XLSX never evaluates text; a CSV in Excel does
    nobody = (None,) * len(fields)
    said_in = 0 if language == "zh" else 1

    def row(r: Any) -> tuple[Any, ...]:
        (id_, at, kind, site, lane, device, verdict, reason, status, code_kind, kid, iss, code_iat, subject_ref,
         temperature, operator, details) = r
        person, corrected_at, corrected_by, rest, said = nobody, None, None, None, None
        fix = fixes.get(id_) if kind == "manual" and fixes else None
        if details is not None or fix is not None:
            info = _parsed(details)
            if fix is not None:
                info = fix.details(info)
                temperature, reason = fix.values(temperature, reason)
                corrected_at, corrected_by = fix_stamp(fix.at), typed(fix.operator)
            values = info.get("fields") if kind == "correction" else info if kind == "manual" else None
            if isinstance(values, dict):
                person = tuple(typed(_cell(values.get(key))) for key in fields)
            words = event_words(kind, info)
            said = words[said_in] if words else None
            if said and kind == "correction" and reason:  # the new temperature is a fever
                said = f"{said}（{reasons.get(reason, reason)}）" if said_in == 0 else \
                    f"{said} ({reasons.get(reason, reason)})"
            said = typed(said)
            left = {k: v for k, v in info.items() if k not in SAID.get(kind, ()) and
                    not (kind == "manual" and k in fields)}
            rest = json.dumps(left, ensure_ascii=False, sort_keys=True) if left else None
        return (stamp(at), clock.offset, kinds.get(kind, kind), verdicts.get(verdict, verdict),
                said or reasons.get(reason, reason), reason, statuses.get(status, status), temperature, typed(site),
                typed(lane), typed(device), code_kinds.get(code_kind, code_kind), typed(iss), kid,
                None if code_iat is None else iat_stamp(code_iat), subject_ref, typed(operator), *person,
                corrected_at, corrected_by, rest, id_)

    return row


def _parsed(details: str | None) -> dict[str, Any]:
    if details is None:
        return {}
    try:
        value = json.loads(details)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"?": details}  # never written by a kiosk: shown as it is


def _cell(value: object) -> object:
    """A value a spreadsheet cell holds: text and numbers as they are, anything else as JSON text."""
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return value
    return json.dumps(value, ensure_ascii=False)


def _as_is(value: Any) -> Any:
    return value


def defused(value: Any) -> Any:
    """Text people typed, made inert in a spreadsheet: '=cmd|...' would otherwise run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
