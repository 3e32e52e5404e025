"""A day at the checkpoint as one self-contained HTML page: totals, charts, fevers, rush, device outages.

The numbers come from GROUP BY queries over the day's range of `at` (the day's
bounds are local midnights), so a day of a million events takes seconds. Charts are
matplotlib SVG inlined into the page: no files beside it, nothing fetched.
"""

from __future__ import annotations

import functools
import html
import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.audit.export import REASON_EN, REASON_ZH, VERDICT_ZH, Language, local_zone, read_snapshot, write_atomically
from kiosk.audit.store import AuditLog

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WINDOW = 15 * 60  # the busiest stretch the report names
FEVER_AT = 37.3  # the spec's default threshold; a fever also counts when an earlier check gave the reason
FEVERS_LISTED = 200
PEOPLE = "(kind = 'manual' OR (kind = 'scan' AND coalesce(verdict, '') <> 'retry'))"  # a retry is the same person
UP = {"ok", "back", "connected", "reconnected", "online", "restored"}
RECOVERED = {"back", "reconnected", "restored"}  # these say it was down, even with no "before"
NEUTRAL = {"starting", "ended"}  # any other state is a problem: "lost", "disconnected", "no reading", ...
CJK_FAMILIES = ("CJK", "WenQuanYi", "Source Han", "Droid Sans Fallback", "AR PL", "SimHei", "YaHei", "PingFang",
                "Hiragino", "Heiti", "Noto Sans SC", "Noto Sans TC")


@dataclass(frozen=True)
class Outage:
    device: str  # "camera (kiosk-A1)"
    state: str  # what went wrong: "lost", "disconnected", ...
    start: float
    end: float | None  # None: not back by the end of the day
    from_before: bool = False  # back with no problem logged that day: down since before midnight (start)


@dataclass(frozen=True)
class DaySummary:
    day: date
    start: float  # local midnight, epoch seconds
    end: float  # the next local midnight
    people: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    manual: int = 0
    hourly: list[int] = field(default_factory=lambda: [0] * 24)  # people per local hour
    reasons: dict[tuple[str, str], int] = field(default_factory=dict)  # (verdict, reason) -> count, pass excluded
    fevers: list[tuple[float, float, str]] = field(default_factory=list)  # (at, celsius, lane)
    busiest: tuple[float, int] | None = None  # (start of the busiest 15 minutes, people in it)
    outages: list[Outage] = field(default_factory=list)
    device_events: int = 0


def summarize(log: AuditLog, day: date, *, tz: tzinfo | None = None, fever_at: float = FEVER_AT) -> DaySummary:
    """The day's numbers, aggregated by SQLite over [local midnight, next local midnight)."""
    zone = tz or local_zone()
    start = datetime.combine(day, datetime.min.time(), zone).timestamp()
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).timestamp()
    # Local hour of each quarter hour since midnight (a DST day has 23 or 25 hours).
    hour_of = [datetime.fromtimestamp(start + q * 900, zone).hour for q in range(int((end - start) // 900) + 1)]
    people = manual = 0
    verdicts: dict[str, int] = {}
    reasons: dict[tuple[str, str], int] = {}
    with read_snapshot(log) as db:
        for kind, verdict, reason, n in db.execute(
                "SELECT kind, verdict, reason, count(*) FROM events WHERE at >= ? AND at < ? "
                "AND kind IN ('scan', 'manual') GROUP BY 1, 2, 3", [start, end]):
            manual += n if kind == "manual" else 0
            people += n if kind == "manual" or verdict != "retry" else 0
            if verdict is not None:
                verdicts[verdict] = verdicts.get(verdict, 0) + n
                if verdict != "pass":
                    reasons[verdict, reason or "?"] = reasons.get((verdict, reason or "?"), 0) + n
        seconds = db.execute(f"SELECT CAST(at AS INTEGER), count(*) FROM events WHERE at >= ? AND at < ? "
                             f"AND {PEOPLE} GROUP BY 1", [start, end]).fetchall()
        notable = db.execute(
            "SELECT at, kind, lane, device, temperature, reason, details FROM events WHERE at >= ? AND at < ? AND "
            "(kind = 'device' OR reason = 'fever' OR (temperature >= ? AND kind IN ('scan', 'manual') "
            "AND coalesce(reason, '') <> 'temperature_implausible')) ORDER BY at, rowid", [start, end, fever_at]
        ).fetchall()
    hourly = [0] * 24
    for second, n in seconds:
        hourly[hour_of[int((second - start) // 900)]] += n
    devices = [row for row in notable if row[1] == "device"]
    return DaySummary(day, start, end, people, verdicts, manual, hourly, reasons,
                      fevers=[(at, temp, lane or device or "") for at, kind, lane, device, temp, *_ in notable
                              if kind != "device"],
                      busiest=_busiest(seconds), outages=_outages(devices, start), device_events=len(devices))


def _busiest(seconds: list[tuple[int, int]]) -> tuple[float, int] | None:
    """The 15 minutes, starting on a whole second, with the most people (sliding, not clock quarters)."""
    best: tuple[float, int] | None = None
    inside, j = 0, 0
    for second, n in seconds:
        while j < len(seconds) and seconds[j][0] < second + WINDOW:
            inside += seconds[j][1]
            j += 1
        if best is None or inside > best[1]:
            best = (float(second), inside)
        inside -= n
    return best


def _outages(rows: list[tuple[object, ...]], day_start: float) -> list[Outage]:
    """Intervals from a device's problem state to its next good state, per device."""
    opened: dict[str, tuple[str, float]] = {}
    seen: set[str] = set()
    found: list[Outage] = []
    for at, _, lane, device, _, _, details in rows:
        try:
            info = json.loads(str(details)) if details else {}
        except ValueError:
            info = None
        info = info if isinstance(info, dict) else {}
        where = str(device or lane or "")
        name = f"{info.get('device', 'device')} ({where})" if where else str(info.get("device", "device"))
        state, when = str(info.get("state", "?")), float(str(at))
        if state in UP:
            if name in opened:
                problem, since = opened.pop(name)
                found.append(Outage(name, problem, since, when))
            elif name not in seen and (state in RECOVERED or info.get("before") not in (None, *UP, *NEUTRAL)):
                found.append(Outage(name, str(info.get("before") or "?"), day_start, when, from_before=True))
        elif state not in NEUTRAL and name not in opened:
            opened[name] = (state, when)
        seen.add(name)
    found += [Outage(name, problem, since, None) for name, (problem, since) in opened.items()]
    return sorted(found, key=lambda o: (o.start, o.device))


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """An installed font matplotlib can draw Chinese with (fonts-noto-cjk, WenQuanYi, ...), if any."""
    from matplotlib import font_manager

    names = sorted({f.name for f in font_manager.fontManager.ttflist})
    return next((n for n in names if any(family in n for family in CJK_FAMILIES)), None)


TEXT = {
    "zh": {"title": "检查点日报", "totals": "总数", "people": "人数", "pass": "通过", "deny": "拒绝", "retry": "重试",
           "manual": "人工登记", "hourly": "每小时人数", "verdicts": "结果与拒绝原因", "reason": "原因",
           "code": "原因代码", "count": "次数", "share": "占比", "fevers": "发热", "temperature": "体温",
           "time": "时间", "lane": "通道", "busiest": "最忙的15分钟", "devices": "设备问题",
           "device": "设备", "problem": "问题", "from": "开始", "to": "结束", "duration": "时长", "hour": "时",
           "outages": "中断次数", "down_total": "中断总时长", "still_down": "至日终未恢复", "before": "当日之前",
           "none": "无", "zone": "时区", "generated": "生成时间", "events": "设备事件", "more": "另有 {} 条"},
    "en": {"title": "Checkpoint day report", "totals": "Totals", "people": "people", "pass": "pass", "deny": "deny",
           "retry": "retry", "manual": "manual registrations", "hourly": "People per hour",
           "verdicts": "Verdicts and deny reasons", "reason": "reason", "code": "reason code", "count": "count",
           "share": "share", "fevers": "Fevers", "temperature": "temperature", "time": "time", "lane": "lane",
           "busiest": "Busiest 15 minutes", "devices": "Device problems", "device": "device",
           "problem": "problem", "from": "from", "to": "to", "duration": "duration", "outages": "outages",
           "down_total": "total downtime", "still_down": "not back by the end of the day",
           "before": "before the day", "none": "none", "zone": "time zone", "generated": "generated",
           "events": "device events", "more": "and {} more", "hour": "hour"},
}
CSS = """body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:60em;
color:#222;padding:0 1em}h1{margin-bottom:.2em}.sub{color:#666;margin-top:0}section{margin:1.5em 0}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.25em .8em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.none{color:#777;font-style:italic}
svg{max-width:100%;height:auto}.big{font-size:1.6em;font-weight:bold}footer{color:#888;font-size:.85em}"""


def report(log: AuditLog, day: date, out: Path, *, tz: tzinfo | None = None, language: Language = "zh",
           site_name: str | None = None) -> None:
    """Write the page for `day` (a local day in `tz`, default the machine's zone) to `out`."""
    if language not in TEXT:
        raise ValueError(f"unknown language {language!r}: zh or en")
    zone = tz or local_zone()
    page = render(summarize(log, day, tz=zone), zone, language, site_name)
    with write_atomically(Path(out)) as temp:
        temp.write_text(page, encoding="utf-8")


def render(s: DaySummary, zone: tzinfo, language: Language, site_name: str | None = None) -> str:
    """The HTML page of a summary."""
    t, e = TEXT[language], html.escape
    reason_names = REASON_ZH if language == "zh" else REASON_EN

    def clock(at: float) -> str:
        return datetime.fromtimestamp(at, zone).strftime("%H:%M:%S")

    def none() -> str:
        return f'<p class="none">{t["none"]}</p>'

    def table(head: list[str], rows: list[list[object]]) -> str:
        cells = "".join(f"<tr>{''.join(_cell(v) for v in row)}</tr>" for row in rows)
        return f"<table><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr>{cells}</table>"

    verdict_names = {v: (VERDICT_ZH[v] if language == "zh" else v) for v in ("pass", "deny", "retry")}
    totals = [[t["people"], s.people], *[[verdict_names[v], s.verdicts.get(v, 0)] for v in ("pass", "deny", "retry")],
              [t["manual"], s.manual]]
    checked = sum(s.verdicts.values()) or 1
    reasons = sorted(s.reasons.items(), key=lambda kv: (kv[0][0] != "deny", -kv[1], kv[0][1]))
    reason_rows = [[verdict_names.get(v, v), reason_names.get(r, r), r, n, f"{100 * n / checked:.1f}%"]
                   for (v, r), n in reasons]
    sections = [
        (t["totals"], "totals", table(["", t["count"]], totals)),
        (t["hourly"], "hourly", _hourly_svg(s, language) if s.people else none()),
        (t["verdicts"], "verdicts", (_verdict_svg(s, language) + table(
            ["", t["reason"], t["code"], t["count"], t["share"]], reason_rows)) if reasons else
         (_verdict_svg(s, language) if s.verdicts else "") + none()),
        (t["fevers"], "fevers", (f'<p class="big">{len(s.fevers):,}</p>' + table(
            [t["time"], t["temperature"], t["lane"]],
            [[clock(at), f"{c:.1f} °C", lane] for at, c, lane in s.fevers[:FEVERS_LISTED]]) +
            (f"<p>{t['more'].format(len(s.fevers) - FEVERS_LISTED)}</p>" if len(s.fevers) > FEVERS_LISTED else ""))
         if s.fevers else none()),
        (t["busiest"], "busiest", f'<p class="big">{clock(s.busiest[0])}–{clock(s.busiest[0] + WINDOW)}: '
         f'{s.busiest[1]:,} {t["people"] if language == "en" else "人"}</p>' if s.busiest else none()),
        (t["devices"], "devices", _devices(s, t, clock, table) if s.outages else none()),
    ]
    title = " · ".join(x for x in (site_name, t["title"], s.day.isoformat()) if x)
    zone_name = getattr(zone, "key", None) or datetime.fromtimestamp(s.start, zone).strftime("%Z %z")
    body = "".join(f'<section id="{key}"><h2>{e(head)}</h2>{content}</section>' for head, key, content in sections)
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if language == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{e(title)}</h1><p class=\"sub\">{t['zone']}: {e(zone_name)}</p>"
            f"{body}<footer>{t['generated']}: {datetime.now(zone):%Y-%m-%d %H:%M:%S}</footer></body></html>\n")


def _cell(value: object) -> str:
    return f'<td class="n">{value:,}</td>' if isinstance(value, int) else f"<td>{html.escape(str(value))}</td>"


def _devices(s: DaySummary, t: dict[str, str], clock: Callable[[float], str],
             table: Callable[[list[str], list[list[object]]], str]) -> str:
    now = min(time.time(), s.end)
    rows: list[list[object]] = []
    per_device: dict[str, tuple[int, float]] = {}
    for o in s.outages:
        until = o.end if o.end is not None else max(now, o.start)
        rows.append([o.device, o.state, t["before"] if o.from_before else clock(o.start),
                     t["still_down"] if o.end is None else clock(o.end), _span(until - o.start)])
        count, down = per_device.get(o.device, (0, 0.0))
        per_device[o.device] = (count + 1, down + until - o.start)
    counts: list[list[object]] = [[name, n, _span(down)] for name, (n, down) in sorted(per_device.items())]
    return (table([t["device"], t["outages"], t["down_total"]], counts) + "<p></p>" +
            table([t["device"], t["problem"], t["from"], t["to"], t["duration"]], rows) +
            f"<p>{t['events']}: {s.device_events:,}</p>")


def _span(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _svg(draw: Callable[[Figure, dict[str, str], Language], None], language: Language,
         size: tuple[float, float]) -> str:
    from matplotlib import rc_context, rcParams
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Chinese chart labels only with a CJK font; else English (matplotlib would draw boxes, and warn).
    font = cjk_font() if language == "zh" else None
    labels: Language = "zh" if font else "en"
    with rc_context({"svg.fonttype": "path", "font.size": 9}):  # glyphs as paths: the page needs no font
        if font:
            rcParams["font.family"] = [font, "DejaVu Sans"]
        figure = Figure(figsize=size, layout="constrained")  # room for long reason names
        FigureCanvasAgg(figure)  # no pyplot: nothing global to close, no GUI backend
        draw(figure, TEXT[labels], labels)
        for ax in figure.axes:
            ax.spines[["top", "right"]].set_visible(False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)


def _hourly_svg(s: DaySummary, language: Language) -> str:
    def draw(figure: Figure, t: dict[str, str], labels: Language) -> None:
        ax = figure.add_subplot()
        ax.bar(range(24), s.hourly, color="#3b7dd8")
        ax.set_xticks(range(24))
        ax.set_xlabel(t["hour"])
        ax.set_ylabel(t["people"])
        ax.yaxis.set_major_formatter("{x:,.0f}")

    return _svg(draw, language, (8, 2.8))


def _verdict_svg(s: DaySummary, language: Language) -> str:
    denies = sorted(((r, n) for (v, r), n in s.reasons.items() if v == "deny"), key=lambda rn: rn[1])

    def draw(figure: Figure, t: dict[str, str], labels: Language) -> None:
        grid = {"width_ratios": [1, 2.2]} if denies else None
        axes = figure.subplots(1, 2 if denies else 1, gridspec_kw=grid, squeeze=False)[0]
        names = ["pass", "deny", "retry"]
        bars = axes[0].bar([t[v] for v in names], [s.verdicts.get(v, 0) for v in names],
                           color=["#2e9e44", "#d83b3b", "#e0a020"])
        axes[0].bar_label(bars, labels=[f"{s.verdicts.get(v, 0):,}" for v in names], fontsize=8)
        axes[0].yaxis.set_major_formatter("{x:,.0f}")
        if denies:
            names_of = REASON_ZH if labels == "zh" else REASON_EN
            bars = axes[1].barh([names_of.get(r, r) for r, _ in denies], [n for _, n in denies], color="#d83b3b")
            axes[1].bar_label(bars, labels=[f"{n:,}" for _, n in denies], fontsize=8, padding=2)
            axes[1].set_title(t["deny"])
            axes[1].xaxis.set_major_formatter("{x:,.0f}")

    return _svg(draw, language, (9, max(2.8, 0.28 * len(denies) + 0.8)))
