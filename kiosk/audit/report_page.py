"""The day's report as one self-contained HTML page: totals, charts, fevers, the rush, corrections, device outages.

Every word is in the page's language (Chinese or English), device outages too;
charts are matplotlib SVG inlined into the page (Chinese labels only with a CJK
font, else English): no files beside it, nothing fetched.
"""

from __future__ import annotations

import functools
import html
import io
import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from kiosk.audit.day import DaySummary
from kiosk.audit.words import Language, field_header
from kiosk.audit.zones import zone_name
from kiosk.terms import (
    DEVICE_STATES,
    DEVICES,
    EVENT_KINDS,
    REASON_RECORDS,
    VERDICT_TITLES,
    VERDICTS,
    in_language,
    word,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LISTED = 200  # fevers and corrections shown; the rest are counted
CJK_FAMILIES = ("CJK", "WenQuanYi", "Source Han", "Droid Sans Fallback", "AR PL", "SimHei", "YaHei", "PingFang",
                "Hiragino", "Heiti", "Noto Sans SC", "Noto Sans TC")


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """An installed font matplotlib can draw Chinese with (fonts-noto-cjk, WenQuanYi, ...), if any."""
    from matplotlib import font_manager

    names = sorted({f.name for f in font_manager.fontManager.ttflist})
    return next((n for n in names if any(family in n for family in CJK_FAMILIES)), None)


TEXT = {
    "zh": {"title": "检查点日报", "totals": "总数", "people": "人数", "scans": "扫码次数", "visits": "人次",
           **in_language(VERDICTS, "zh"), "manual": "人工登记", "corrections": "更正", "hourly": "每小时人次",
           "verdicts": f"结果与{VERDICT_TITLES['deny'][0]}原因", "reason": "原因", "code": "原因代码", "count": "次数",
           "share": "占比", "fevers": REASON_RECORDS["fever"][0], "temperature": "体温", "time": "时间",
           "lane": "通道", "kind": "方式",
           "corrected": "已更正", "busiest": "最忙的15分钟", "devices": "设备问题", "device": "设备",
           "problem": "问题", "from": "开始", "to": "结束", "duration": "时长", "hour": "时", "outages": "中断次数",
           "down_total": "中断总时长", "still_down": "至日终未恢复", "before": "当日之前", "none": "无",
           "zone": "时区", "generated": "生成时间", "events": "设备事件", "more": "另有 {} 条",
           "registration": "登记", "fields": "更正项", "operator": "操作员", "by": "{} 由 {}",
           "people_note": "人数：不同的健康码持有人加人工登记人数；人次：扫码（不含重试）加人工登记"},
    "en": {"title": "Checkpoint day report", "totals": "Totals", "people": "people", "scans": "scans",
           "visits": "check-ins", **in_language(VERDICTS, "en"), "manual": "registrations by hand",
           "corrections": "corrections", "hourly": "Check-ins per hour", "verdicts": "Verdicts and deny reasons",
           "reason": "reason", "code": "reason code", "count": "count", "share": "share", "fevers": "Fevers",
           "temperature": "temperature", "time": "time", "lane": "lane", "kind": "how", "corrected": "corrected",
           "busiest": "Busiest 15 minutes", "devices": "Device problems", "device": "device", "problem": "problem",
           "from": "from", "to": "to", "duration": "duration", "outages": "outages", "down_total": "total downtime",
           "still_down": "not back by the end of the day", "before": "before the day", "none": "none",
           "zone": "time zone", "generated": "generated", "events": "device events", "more": "and {} more",
           "hour": "hour", "registration": "registration", "fields": "corrected", "operator": "operator",
           "by": "{} by {}", "people_note": "people: distinct code holders plus registrations by hand; "
                                           "check-ins: scans (retries not counted) plus registrations by hand"},
}
CSS = """body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:60em;
color:#222;padding:0 1em}h1{margin-bottom:.2em}.sub{color:#666;margin-top:0}section{margin:1.5em 0}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.25em .8em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.none{color:#777;font-style:italic}.note{color:#666}
svg{max-width:100%;height:auto}.big{font-size:1.6em;font-weight:bold}footer{color:#888;font-size:.85em}"""


def render(s: DaySummary, zone: tzinfo, language: Language, site_name: str | None, now: float) -> str:
    """The HTML page of a summary, made at `now`."""
    t, e = TEXT[language], html.escape
    reason_names = in_language(REASON_RECORDS, language)
    kind_names = in_language(EVENT_KINDS, language)

    def clock(at: float) -> str:
        return datetime.fromtimestamp(at, zone).strftime("%H:%M:%S")

    def none() -> str:
        return f'<p class="none">{t["none"]}</p>'

    def table(head: list[str], rows: list[list[object]]) -> str:
        cells = "".join(f"<tr>{''.join(_cell(v) for v in row)}</tr>" for row in rows)
        return f"<table><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr>{cells}</table>"

    def more(total: int) -> str:
        return f"<p>{t['more'].format(total - LISTED)}</p>" if total > LISTED else ""

    def celsius(value: float | None) -> str:
        return "?" if value is None else f"{value:.1f} °C"

    def outage_name(device: str, where: str) -> str:
        name = word(DEVICES, device, language)
        return f"{name} ({where})" if where else name

    def state_name(state: str) -> str:
        return word(DEVICE_STATES, state, language)

    verdict_names = in_language(VERDICTS, language)
    totals = [[t["people"], s.people], [t["scans"], s.scans],
              *[[verdict_names[v], s.verdicts.get(v, 0)] for v in ("pass", "deny", "retry")],
              [t["manual"], s.manual], [t["corrections"], len(s.corrections)]]
    checked = sum(s.verdicts.values()) or 1
    reasons = sorted(s.reasons.items(), key=lambda kv: (kv[0][0] != "deny", -kv[1], kv[0][1]))
    reason_rows = [[verdict_names.get(v, v), reason_names.get(r, r), r, n, f"{100 * n / checked:.1f}%"]
                   for (v, r), n in reasons]
    fever_rows: list[list[object]] = [[clock(f.at), celsius(f.celsius), f.lane, kind_names.get(f.kind, f.kind),
                   t["by"].format(clock(f.fix.at), f.fix.operator) if f.fix else ""] for f in s.fevers[:LISTED]]
    comma = "、" if language == "zh" else ", "
    correction_rows: list[list[object]] = [
        [clock(c.at), f"{clock(c.registered_at) if c.registered_at is not None else '?'} {c.corrects}",
         comma.join(field_header(k, language) for k in c.fields),
         f"{celsius(c.temperature[0])} → {celsius(c.temperature[1])}" if c.temperature else "", c.operator]
        for c in s.corrections[:LISTED]]
    sections = [
        (t["totals"], "totals", table(["", t["count"]], totals) + f'<p class="note">{t["people_note"]}</p>'),
        (t["hourly"], "hourly", _hourly_svg(s, language) if s.visits else none()),
        (t["verdicts"], "verdicts", (_verdict_svg(s, language) + table(
            ["", t["reason"], t["code"], t["count"], t["share"]], reason_rows)) if reasons else
         (_verdict_svg(s, language) if s.verdicts else "") + none()),
        (t["fevers"], "fevers", (f'<p class="big">{len(s.fevers):,}</p>' + table(
            [t["time"], t["temperature"], t["lane"], t["kind"], t["corrected"]], fever_rows) + more(len(s.fevers)))
         if s.fevers else none()),
        (t["busiest"], "busiest", f'<p class="big">{clock(s.busiest[0])}–{clock(s.busiest[1])}: '
         f'{s.busiest[2]:,} {t["visits"]}</p>' if s.busiest else none()),
        (t["corrections"], "corrections", table(
            [t["time"], t["registration"], t["fields"], t["temperature"], t["operator"]], correction_rows)
         + more(len(s.corrections)) if s.corrections else none()),
        (t["devices"], "devices", _devices(s, t, clock, table, outage_name, state_name, now) if s.outages else none()),
    ]
    title = " · ".join(x for x in (site_name, t["title"], s.day.isoformat()) if x)
    made = f"{t['generated']}: {datetime.fromtimestamp(now, zone):%Y-%m-%d %H:%M:%S} {zone_name(zone, now)}"
    body = "".join(f'<section id="{key}"><h2>{e(head)}</h2>{content}</section>' for head, key, content in sections)
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if language == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{e(title)}</h1>"
            f'<p class="sub" id="zone">{t["zone"]}: {e(zone_name(zone, s.start))}</p>'
            f'{body}<footer id="generated">{e(made)}</footer></body></html>\n')


def _cell(value: object) -> str:
    return f'<td class="n">{value:,}</td>' if isinstance(value, int) else f"<td>{html.escape(str(value))}</td>"


def _devices(s: DaySummary, t: dict[str, str], clock: Callable[[float], str],
             table: Callable[[list[str], list[list[object]]], str], outage_name: Callable[[str, str], str],
             state_name: Callable[[str], str], now: float) -> str:
    until_now = min(now, s.end)
    rows: list[list[object]] = []
    per_device: dict[str, tuple[int, float]] = {}
    for o in s.outages:
        until = o.end if o.end is not None else max(until_now, o.start)
        name = outage_name(o.device, o.where)
        rows.append([name, state_name(o.state), t["before"] if o.from_before else clock(o.start),
                     t["still_down"] if o.end is None else clock(o.end), _span(until - o.start)])
        count, down = per_device.get(name, (0, 0.0))
        per_device[name] = (count + 1, down + until - o.start)
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
        ax.set_ylabel(t["visits"])
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
            names_of = in_language(REASON_RECORDS, labels)
            bars = axes[1].barh([names_of.get(r, r) for r, _ in denies], [n for _, n in denies], color="#d83b3b")
            axes[1].bar_label(bars, labels=[f"{n:,}" for _, n in denies], fontsize=8, padding=2)
            axes[1].set_title(t["deny"])
            axes[1].xaxis.set_major_formatter("{x:,.0f}")

    return _svg(draw, language, (9, max(2.8, 0.28 * len(denies) + 0.8)))
