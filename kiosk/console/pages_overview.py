"""The overview (/): today's figures per site, its kiosks and a chart per hour, and the alerts of
kiosk/console/alerts.py. /overview/fragment is the same without the page around it: console.js fetches it every
REFRESH seconds and swaps it in, so the page refreshes itself without a full reload.

An account that sees more than SUMMARY_ABOVE sites (a city's manager, the health authority) gets the summary:
one row per site (its figures, kiosks online, problems), one chart of every site's hours, and the first
MAX_ALERTS alerts, most severe first. A page of a thousand kiosks is nobody's to read (and 1.5 MB to make every
30 s); each site's row links to its detail, `?site=`. The alerts are still found for every kiosk: each row counts
its site's, and the list says how many it leaves out. A few sites (the demo's three) get the detail directly.

`?site=` narrows it to one site (a site outside the account's is 403). "Today" is the collector's day, in its
zone (--timezone), from the store's roll-ups: no scan of the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from kiosk.collector.readmodel import Figures, KioskState, Overview, SiteOverview
from kiosk.console import alerts as rules
from kiosk.console.chart import Chart, Hour, chart
from kiosk.console.filters import MAX_SITE, hour_label, today
from kiosk.console.page import sites_for
from kiosk.console.web import ConsoleParts, Page, call, needs, render, translator
from kiosk.console.words import Language, Translator, age, device_word, state_word, verdict_word
from kiosk.device_names import label

REFRESH = 30  # seconds between the overview's refreshes (console.js; at least 5)
SUMMARY_ABOVE = 8  # sites: an account that sees more gets one row per site, each a link to its detail
_COUNTED = ("scans", "passes", "denies", "retries", "fevers", "registrations")  # Figures' fields added up
MAX_ALERTS = 6  # alerts the summary lists (a screen's worth beside the day's figures); each row counts all its own

WORDS = {
    "overview.all_sites": ("全部场所", "All sites"),
    "overview.site": ("场所", "Site"),
    "overview.sites_shown": ("{count}个场所，点击场所名称查看其终端和每小时图表",
                             "{count} sites: open one for its kiosks and its chart per hour"),
    "overview.kiosks_online": ("终端在线", "Kiosks online"),
    "overview.problems": ("问题", "Problems"),
    "overview.alarm_count": ("{count}项警报", "alarms: {count}"),
    "overview.warning_count": ("{count}项提醒", "warnings: {count}"),
    "overview.none": ("无", "none"),
    "overview.more_alerts": ("另有{count}条警报未列出，见各场所的“问题”栏",
                             "{count} more alerts not listed: see each site's Problems"),
    "overview.at_site": ("{site}：{alert}", "{site}: {alert}"),
}


@dataclass(frozen=True)
class KioskView:
    id: str
    label: str
    state: str  # "online", "offline", "revoked"
    last_sync: float | None
    backlog: int | None
    trust_age: float | None
    clock_offset: float | None
    faults: int
    outages: int
    devices: list[tuple[str, str, bool]]  # (device, state, fine) in words


@dataclass(frozen=True)
class SiteView:
    site: str
    name: str  # the site, or "(no site)"
    figures: Figures
    chart: Chart
    kiosks: list[KioskView]


@dataclass(frozen=True)
class SiteRow:
    """A site in the summary: its figures, its kiosks in service and online, and its alerts counted."""

    site: str
    name: str
    link: str | None  # its detail (/?site=...); None for "(no site)", which no ?site= names
    figures: Figures
    online: int
    in_service: int  # kiosks not revoked
    alarms: int
    warnings: int


@dataclass(frozen=True)
class Found:
    """One site the account sees: its kiosks' facts and every alert of the site."""

    site: SiteOverview
    name: str
    facts: list[rules.KioskFacts]
    alerts: list[rules.Alert]


def _kiosk(state: KioskState, facts: rules.KioskFacts, now: float, language: Language) -> KioskView:
    device = state.device
    status = "revoked" if device.revoked_at is not None else "online" if rules.online(facts, now) else "offline"
    devices = [(device_word(name, language), state_word(value, language), value in rules.FINE_STATES)
               for name, value in sorted(state.devices.items())]
    return KioskView(device.id, facts.label, status, device.last_seen, state.backlog,
                     None if facts.trust_at is None else max(0.0, now - facts.trust_at),
                     state.clock_offset, device.faults, state.outages, devices)


def _facts(state: KioskState) -> rules.KioskFacts:
    device = state.device
    # Trust age as the kiosk's own status bar counts it: since its trust files were last confirmed current
    # (a pull that found nothing newer counts), else since its bundle was issued.
    trusted = state.trust_refreshed if state.trust_refreshed is not None else state.trust_issued_at
    return rules.KioskFacts(label(device.name, device.id), device.last_seen, device.revoked_at is not None,
                            trusted, state.clock_offset, device.faults, state.devices)


def _alert_text(alert: rules.Alert, t: Translator) -> str:
    values = dict(alert.values)
    language = t.language
    if "age" in values:
        values["age"] = age(float(values["age"]), language)  # type: ignore[arg-type]
    if alert.key == "alert.device":
        values["state"] = f"{device_word(str(values['device']), language)} {state_word(str(values['state']), language)}"
    return t(alert.key, **values)


def _found(overview: Overview, request: Request, parts: ConsoleParts, t: Translator) -> list[Found]:
    """Every site the account sees, with each kiosk's facts and the site's alerts (every kiosk's, every hour's)."""
    account, now = request.state.account, request.state.now
    labels = [f"{hour_label(start, parts.tz)}:00" for start in overview.hour_starts]
    found = []
    for site in overview.sites:
        if not account.sees(site.site):  # "": events with no site, kiosks that sent nothing (admins see them)
            continue
        name = site.site or t("overview.no_site")
        facts = [_facts(k) for k in site.kiosks]
        alerts = [a for f in facts for a in rules.kiosk_alerts(f, now)]
        alerts += rules.fever_alerts(name, [(hour, h.fevers) for hour, h in zip(labels, site.hours, strict=True)])
        found.append(Found(site, name, facts, alerts))
    return found


def _hours(overview: Overview, parts: ConsoleParts, hours: list[Figures]) -> list[Hour]:
    return [Hour(start, hour_label(start, parts.tz), f.passes, f.denies, f.retries, f.fevers)
            for start, f in zip(overview.hour_starts, hours, strict=True)]


def _titles(request: Request, t: Translator) -> dict[str, str]:
    language = request.state.language
    return {"pass": verdict_word("pass", language), "deny": verdict_word("deny", language),
            "retry": verdict_word("retry", language), "fever": t("overview.fevers")}


def _detail(request: Request, parts: ConsoleParts, overview: Overview, found: list[Found],
            t: Translator) -> dict[str, Any]:
    now, language, titles = request.state.now, request.state.language, _titles(request, t)
    sites = [SiteView(f.site.site, f.name, f.site.figures, chart(_hours(overview, parts, f.site.hours), titles),
                      [_kiosk(k, facts, now, language) for k, facts in zip(f.site.kiosks, f.facts, strict=True)])
             for f in found]
    alerts = [(a.level, _alert_text(a, t), None) for a in rules.ordered([a for f in found for a in f.alerts])]
    return {"summary": False, "sites": sites, "alerts": alerts, "more_alerts": 0}


def _summary(request: Request, parts: ConsoleParts, overview: Overview, found: list[Found],
             t: Translator) -> dict[str, Any]:
    now = request.state.now
    rows: list[SiteRow] = []
    for f in found:
        levels = [a.level for a in f.alerts]
        in_service = [facts for facts in f.facts if not facts.revoked]
        rows.append(SiteRow(f.site.site, f.name, "/?" + urlencode({"site": f.site.site}) if f.site.site else None,
                            f.site.figures, sum(rules.online(facts, now) for facts in in_service), len(in_service),
                            levels.count("alarm"), len(levels) - levels.count("alarm")))
    # Only the alerts listed are put into words: a city's hundreds of silent kiosks at night cost a count each.
    ranked = sorted([(a, f) for f in found for a in f.alerts], key=lambda pair: rules.severity(pair[0]))
    alerts = [(a.level, _alert_text(a, t) if a.key == "alert.fever"
               else t("overview.at_site", site=f.name, alert=_alert_text(a, t)),
               "/?" + urlencode({"site": f.site.site}) if f.site.site else None) for a, f in ranked[:MAX_ALERTS]]
    every_hour = [Figures(None, *(sum(getattr(f.site.hours[i], name) for f in found) for name in _COUNTED))
                  for i in range(len(overview.hour_starts))]
    total = Figures(*(sum(getattr(f.site.figures, name) or 0 for f in found) for name in ("people", *_COUNTED)))
    return {"summary": True, "rows": rows, "total": total, "alerts": alerts,
            "more_alerts": max(0, len(ranked) - MAX_ALERTS),
            "online": sum(r.online for r in rows), "in_service": sum(r.in_service for r in rows),
            "chart": chart(_hours(overview, parts, every_hour), _titles(request, t))}


def _view(request: Request, parts: ConsoleParts, overview: Overview) -> dict[str, Any]:
    t = translator(request)
    found = _found(overview, request, parts, t)
    shown = (_summary if len(found) > SUMMARY_ABOVE else _detail)(request, parts, overview, found, t)
    return {**shown, "updated": request.state.now, "refresh": REFRESH, "site": request.query_params.get("site", "")}


async def _overview(request: Request, parts: ConsoleParts) -> Overview:
    asked = request.query_params.get("site") or None
    if asked is not None and len(asked) > MAX_SITE:
        raise ValueError(f"site: at most {MAX_SITE} characters")
    sites = await call(sites_for, request.state.account, asked, parts.store)
    start, end, hour_starts = today(request.state.now, parts.tz)
    return await call(parts.store.overview, sites, start, end, hour_starts)


@needs("overview")
async def overview_page(request: Request, parts: ConsoleParts) -> Response:
    return render(request, "overview.html", **_view(request, parts, await _overview(request, parts)))


@needs("overview")
async def overview_fragment(request: Request, parts: ConsoleParts) -> Response:
    return render(request, "overview_fragment.html", **_view(request, parts, await _overview(request, parts)))


PAGES = [
    Page("/", overview_page, nav=("概览", "Overview"), order=10),
    Page("/overview/fragment", overview_fragment, kind="fragment"),
]
