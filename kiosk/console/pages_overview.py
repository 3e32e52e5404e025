"""The overview (/): each site the account sees, its kiosks and today's figures with a chart per hour, and the
alerts of kiosk/console/alerts.py. /overview/fragment is the same without the page around it: console.js fetches
it every REFRESH seconds and swaps it in, so the page refreshes itself without a full reload.

`?site=` narrows it to one site (a site outside the account's is 403). "Today" is the collector's day, in its
zone (--timezone), from the store's roll-ups: no scan of the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kiosk.collector.readmodel import KioskState, Overview
from kiosk.console import alerts as rules
from kiosk.console.chart import Chart, Hour, chart
from kiosk.console.filters import MAX_SITE, hour_label, today
from kiosk.console.page import sites_for
from kiosk.console.web import ConsoleParts, Page, call, needs, render, translator
from kiosk.console.words import Translator, age, device_word, state_word, verdict_word
from kiosk.device_names import label

REFRESH = 30  # seconds between the overview's refreshes (console.js; at least 5)


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
    figures: Any  # kiosk.collector.readmodel.Figures
    chart: Chart
    kiosks: list[KioskView]


def _kiosk(state: KioskState, now: float, t: Translator) -> KioskView:
    device = state.device
    facts = _facts(state)
    status = "revoked" if device.revoked_at is not None else "online" if rules.online(facts, now) else "offline"
    language = t.language
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


def _view(request: Request, parts: ConsoleParts, overview: Overview) -> dict[str, Any]:
    account, now, t = request.state.account, request.state.now, translator(request)
    language = request.state.language
    titles = {"pass": verdict_word("pass", language), "deny": verdict_word("deny", language),
              "retry": verdict_word("retry", language), "fever": t("overview.fevers")}
    sites: list[SiteView] = []
    found: list[rules.Alert] = []
    for site in overview.sites:
        if not account.sees(site.site):  # "": events with no site, kiosks that sent nothing (admins see them)
            continue
        hours = [Hour(start, hour_label(start, parts.tz), f.passes, f.denies, f.retries, f.fevers)
                 for start, f in zip(overview.hour_starts, site.hours, strict=True)]
        kiosks = [_kiosk(k, now, t) for k in site.kiosks]
        sites.append(SiteView(site.site, site.site or t("overview.no_site"), site.figures, chart(hours, titles),
                              kiosks))
        for k in site.kiosks:
            found.extend(rules.kiosk_alerts(_facts(k), now))
        found.extend(rules.fever_alerts(site.site or t("overview.no_site"),
                                        [(f"{h.label}:00", h.fevers) for h in hours]))
    alerts = [(a.level, _alert_text(a, t)) for a in rules.ordered(found)]
    return {"sites": sites, "alerts": alerts, "updated": now, "refresh": REFRESH,
            "site": request.query_params.get("site", "")}


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
