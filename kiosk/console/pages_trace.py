"""Trace (/trace, tracers and admins): where one person was, and who else was at the same site within a window of
each visit (kiosk/collector/tracing.py), for the health authority's question "who was at the east entrance
between 14:00 and 16:00 on the 5th?".

    POST /trace      subject, since, until, window (minutes), case: the visits and the others, on the page
    POST /trace/csv  the same fields: the same answer as a CSV file (a row per visit and other person)

The subject is the id on a code (32 hex digits), turned into the deployment's subject reference with the
collector's subject key (--subject-key: the kiosks' own [log] secret_file, kiosk.audit.events.subject_reference),
or a subject reference itself; with a key both are looked for (a kiosk that stores raw ids keeps the id as it
is). The query goes in a POST body, never in a URL (a person's id has no place in logs or browser history), and
every trace is in the console's trail with its case reference, the references the subject was found under and
the range.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kiosk.audit.localtime import LocalTime
from kiosk.collector.readmodel import MAX_WINDOW, Trace, Visit
from kiosk.console.downloads import Download, Tally, csv_chunks, defused
from kiosk.console.filters import input_value, moment, subjects
from kiosk.console.forms import actor, field
from kiosk.console.page import sites_for
from kiosk.console.web import ConsoleParts, Page, call, needs, render, translator
from kiosk.terms import PERSON_FIELDS, Language, word

MAX_CASE = 64  # characters of a case reference
DEFAULT_WINDOW = 15  # minutes either side of a visit
DEFAULT_DAYS = 28  # days back a trace looks when no start is given (the kiosks' retention)
WORDS = {
    "trace.title": ("流调查询", "Trace"),
    "trace.subject": ("人员编号或人员标识", "Subject"),
    "trace.subject_hint": ("健康码上的人员编号（32位十六进制，按本部署的密钥换算为人员标识），或人员标识本身",
                           "the id on a code (32 hex digits, turned into the deployment's subject reference with its "
                           "key), or a subject reference"),
    "trace.since": ("开始", "From"), "trace.until": ("结束", "Until"),
    "trace.window": ("时间窗（分钟）", "Window (minutes)"),
    "trace.window_hint": ("每次到访前后多少分钟内在同一场所的人", "others at the same site this many minutes either "
                                                                  "side of each visit"),
    "trace.case": ("案件编号", "Case reference"),
    "trace.case_hint": ("必填，记入审计日志", "required; recorded in the audit trail"),
    "trace.run": ("查询", "Trace"), "trace.csv": ("导出CSV", "Export as CSV"),
    "trace.visits": ("到访{count}次", "{count} visits"),
    "trace.none": ("该时段内没有此人的到访记录", "No visit of this subject in that time"),
    "trace.truncated": ("结果过多，仅显示前{count}条", "Too many: the first {count} are shown"),
    "trace.others": ("同场所{count}人", "{count} others at the site"),
    "trace.no_others": ("时间窗内同场所无其他人", "Nobody else at the site within the window"),
    "trace.registration": ("手工登记", "registered by hand"),
    "trace.reference": ("人员标识", "Subject reference"),
    "trace.time": ("时间", "Time"), "trace.site": ("场所", "Site"), "trace.lane": ("通道", "Lane"),
    "trace.kiosk": ("终端", "Kiosk"), "trace.verdict": ("结果", "Verdict"),
    "trace.temperature": ("体温", "Temperature"),
    "trace.who": ("人员", "Who"),
}
CSV_COLUMNS = {
    "zh": ("案件编号", "到访时间", "场所", "通道", "终端", "结果", "体温(°C)", "同场所人员时间", "同场所人员标识",
           "类型", "同场所人员结果", "同场所人员体温(°C)", "同场所人员通道", "登记信息"),
    "en": ("case", "visit time", "site", "lane", "kiosk", "verdict", "temperature (°C)", "other's time",
           "other's subject ref", "kind", "other's verdict", "other's temperature (°C)", "other's lane",
           "registration"),
}


@dataclass(frozen=True)
class TraceQuery:
    typed: dict[str, str]  # the form's values as given, to show them again (never the subject in a URL)
    references: tuple[str, ...]  # the subject references to look for
    since: float
    until: float
    window: float  # seconds
    case: str


def _query(request: Request, parts: ConsoleParts) -> TraceQuery:
    t = translator(request)
    typed = {name: field(request, name, limit, label=t(f"trace.{name}")) for name, limit in (
        ("subject", 32), ("since", 32), ("until", 32), ("window", 8))}
    typed["case"] = field(request, "case", MAX_CASE, required=True, label=t("trace.case"))
    if not typed["subject"]:
        raise ValueError(f"{t('trace.subject')}: required")
    references = subjects(typed["subject"], parts.subject_key)
    now = request.state.now
    until = moment(typed["until"], parts.tz, end=True, name="until") or now
    since = moment(typed["since"], parts.tz, end=False, name="since") or until - DEFAULT_DAYS * 86400
    if until <= since:
        raise ValueError("until: must be after since")
    minutes = typed["window"] or str(DEFAULT_WINDOW)
    if not minutes.isdigit() or int(minutes) * 60 > MAX_WINDOW:
        raise ValueError(f"window: whole minutes from 0 to {MAX_WINDOW / 60:.0f}")
    return TraceQuery(typed, tuple(dict.fromkeys(r.lower() for r in references)), since, until, int(minutes) * 60.0,
                      typed["case"])


def _traced(parts: ConsoleParts, asked: TraceQuery, sites: frozenset[str] | None) -> tuple[Trace, list[str]]:
    """The visits of every reference the subject may be stored under, in time order (the subject is nobody's
    "other": a kiosk storing raw ids beside one storing references), and the references it was found under."""
    found = [parts.store.trace(ref, asked.since, asked.until, asked.window, sites) for ref in asked.references]
    mine = set(asked.references)
    visits = sorted((replace(v, others=[o for o in v.others if o.subject_ref not in mine])
                     for trace in found for v in trace.visits), key=lambda v: (v.at, v.event_id))
    matched = [ref for ref, trace in zip(asked.references, found) if trace.visits]
    return (Trace(asked.references[-1], asked.since, asked.until, asked.window, visits,
                  any(trace.truncated for trace in found)), matched)


async def _run(request: Request, parts: ConsoleParts, csv: bool) -> tuple[TraceQuery, Trace]:
    """The trace asked for, recorded in the trail: the case, the references the subject was found under (else
    the reference of what was typed: never the id itself, unless a kiosk stored it as it is), the range."""
    asked = _query(request, parts)
    sites = await call(sites_for, request.state.account, None, parts.store)
    trace, matched = await call(_traced, parts, asked, sites)
    who, address, now = actor(request)
    await call(parts.trail.append, who, "trace", {
        "case": asked.case, "subject_refs": matched or [asked.references[-1]], "since": asked.since,
        "until": asked.until, "window": asked.window, "visits": len(trace.visits),
        "others": sum(len(v.others) for v in trace.visits), "csv": csv}, address, now)
    return asked, trace


def _form(request: Request, parts: ConsoleParts, asked: TraceQuery | None = None, trace: Trace | None = None,
          status: int = 200) -> Response:
    typed = asked.typed if asked else {"window": str(DEFAULT_WINDOW)}
    return render(request, "trace.html", status=status, typed=typed, trace=trace, asked=asked,
                  fields=_fields(request), has_key=parts.subject_key is not None,
                  since_value=input_value(asked.since, parts.tz) if asked else "",
                  until_value=input_value(asked.until, parts.tz) if asked else "")


def _fields(request: Request) -> Any:
    language = request.state.language
    return lambda values: "; ".join(f"{word(PERSON_FIELDS, str(k), language)}: {v}" for k, v in sorted(values.items()))


@needs("trace")
async def trace_form(request: Request, parts: ConsoleParts) -> Response:
    return _form(request, parts)


@needs("trace")
async def trace_run(request: Request, parts: ConsoleParts) -> Response:
    asked, trace = await _run(request, parts, csv=False)
    return _form(request, parts, asked, trace)


def _rows(asked: TraceQuery, visits: list[Visit], clock: LocalTime,
          language: Language) -> Iterator[list[tuple[Any, ...]]]:
    for v in visits:
        head = (defused(asked.case), clock.text(v.at), defused(v.site), defused(v.lane), defused(v.device_name),
                v.verdict, v.temperature)
        if not v.others:
            yield [(*head, *(None,) * 7)]
            continue
        yield [(*head, clock.text(o.at), o.subject_ref, o.kind, o.verdict, o.temperature, defused(o.lane),
                defused("; ".join(f"{word(PERSON_FIELDS, str(k), language)}: {val}"
                                  for k, val in sorted(o.fields.items()))) or None)
               for o in v.others]


@needs("trace")
async def trace_csv(request: Request, parts: ConsoleParts) -> Response:
    asked, trace = await _run(request, parts, csv=True)
    language = request.state.language
    clock = LocalTime(parts.tz)

    def chunks(tally: Tally) -> Iterator[bytes]:
        return csv_chunks(CSV_COLUMNS[language], _rows(asked, trace.visits, clock, language), tally)

    stamp = datetime.fromtimestamp(request.state.now, parts.tz).strftime("%Y%m%d-%H%M%S")
    return Download(chunks, f"trace-{stamp}.csv", "text/csv; charset=utf-8", lambda tally: None)


PAGES = [
    Page("/trace", trace_form, nav=("流调", "Trace"), order=40),
    Page("/trace", trace_run, methods=("POST",)),
    Page("/trace/csv", trace_csv, methods=("POST",), kind="download"),
]
