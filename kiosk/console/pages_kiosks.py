"""The kiosks (/kiosks: managers for their sites, admins): the list; enrolment (admins: paste what `kiosk device
show` prints); a kiosk's page (/kiosks/{device}) with its days (events per day from the roll-ups), its device
events (camera lost, thermometer back: the outages) and the faults of its hash chain; renaming and revoking it.

    POST /kiosks/enrol            public_key (the pasted text), name
    POST /kiosks/{device}/rename  name
    POST /kiosks/{device}/revoke

A kiosk belongs to the site of its newest event: a manager sees, renames and revokes only the kiosks of their
sites; any other device id (or one that is not a device id) is 404, as if there were none. A kiosk that has
sent nothing yet belongs to no site: only admins see it. Every enrolment, rename and revocation is in the trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from kiosk.audit.day import day_bounds
from kiosk.audit.words import event_words
from kiosk.collector.readmodel import EventPage, EventQuery, Figures, KioskState
from kiosk.console import alerts as rules
from kiosk.console.enrolment import MAX_PASTE, kiosk_name, public_key
from kiosk.console.forms import actor, field, query
from kiosk.console.page import sites_for
from kiosk.console.web import ConsoleParts, Page, call, needs, render, translator
from kiosk.console.words import device_word, state_word
from kiosk.device_names import label
from kiosk.terms import REASON_RECORDS

DAYS = 14  # days a kiosk's page shows
OUTAGES = 50  # device events a page of its page shows
FAULTS = 100  # newest chain faults shown
_DEVICE = re.compile(r"[0-9a-f]{16}")
WORDS = {
    "kiosks.title": ("检查终端", "Kiosks"),
    "kiosks.name": ("名称", "Name"), "kiosks.id": ("设备编号", "Device id"), "kiosks.site": ("场所", "Site"),
    "kiosks.state": ("状态", "State"), "kiosks.last_sync": ("最近同步", "Last sync"),
    "kiosks.events": ("已存记录", "Events stored"), "kiosks.faults": ("链故障", "Chain faults"),
    "kiosks.backlog": ("待同步", "Backlog"), "kiosks.enrolled": ("登记时间", "Enrolled"),
    "kiosks.revoked_at": ("吊销时间", "Revoked"), "kiosks.devices": ("设备", "Devices"),
    "kiosks.none": ("没有可查看的终端", "No kiosk to show"), "kiosks.no_site": ("（尚无记录）", "(nothing sent yet)"),
    "kiosks.enrol": ("登记新终端", "Enrol a kiosk"),
    "kiosks.paste": ("公钥（粘贴 kiosk device show 的输出）", "Public key (paste what `kiosk device show` prints)"),
    "kiosks.enrol_name_hint": ("终端的 [log] device；留空则取粘贴内容中的 --name",
                               "its [log] device; empty: the --name of the pasted enroll line"),
    "kiosks.enrolled_ok": ("已登记{kiosk}", "Enrolled {kiosk}"),
    "kiosks.rename": ("改名", "Rename"), "kiosks.renamed": ("已改名为{kiosk}", "Renamed to {kiosk}"),
    "kiosks.revoke": ("吊销（拒绝其上传）", "Revoke (refuse its uploads)"),
    "kiosks.revoked_ok": ("已吊销{kiosk}", "Revoked {kiosk}"),
    "kiosks.revoke_confirm": ("确定吊销{kiosk}？此后它的上传都会被拒绝（重新登记才能恢复）",
                              "Revoke {kiosk}? Its uploads are refused from then on (enrolling it again undoes this)"),
    "kiosks.days": ("每日记录（近{days}天）", "Events per day (the last {days} days)"),
    "kiosks.day": ("日期", "Day"), "kiosks.scans": ("扫码", "Scans"), "kiosks.registrations": ("手工登记", "By hand"),
    "kiosks.fevers": (REASON_RECORDS["fever"][0], "Fevers"), "kiosks.outages": ("设备中断", "Outages"),
    "kiosks.device_events": ("设备事件", "Device events"), "kiosks.time": ("时间", "Time"),
    "kiosks.what": ("事件", "What"), "kiosks.older": ("更早的设备事件", "Older device events"),
    "kiosks.no_faults": ("哈希链完整，无故障", "No chain fault"), "kiosks.fault_kind": ("类型", "Kind"),
    "kiosks.no_device_events": ("无设备事件", "No device event"),
}


@dataclass(frozen=True)
class KioskView:
    id: str
    label: str
    name: str
    site: str | None
    state: str  # "online", "offline", "revoked"
    kiosk: KioskState


def _view(k: KioskState, now: float) -> KioskView:
    d = k.device
    facts = rules.KioskFacts(label(d.name, d.id), d.last_seen, d.revoked_at is not None)
    state = "revoked" if d.revoked_at is not None else "online" if rules.online(facts, now) else "offline"
    return KioskView(d.id, facts.label, d.name, k.site, state, k)


async def _visible(request: Request, parts: ConsoleParts) -> list[KioskState]:
    account = request.state.account
    sites = await call(sites_for, account, None, parts.store)
    return [k for k in await call(parts.store.kiosks, sites) if account.sees(k.site or "")]


async def _one(request: Request, parts: ConsoleParts) -> KioskState:
    """The kiosk of the path, if the account may see it; LookupError (404) for any other."""
    device_id = request.path_params["device"]
    found = next((k for k in await _visible(request, parts) if k.device.id == device_id), None) \
        if _DEVICE.fullmatch(device_id) else None
    if found is None:
        raise LookupError(device_id[:16])
    return found


@needs("kiosks")
async def kiosks_page(request: Request, parts: ConsoleParts, *, status: int = 200, message: str | None = None,
                      tone: str = "ok") -> Response:
    now = request.state.now
    views = [_view(k, now) for k in await _visible(request, parts)]
    return render(request, "kiosks.html", status=status, kiosks=views, message=message, tone=tone,
                  may_enrol=request.state.account.may("enrol"), paste_limit=MAX_PASTE)


@needs("enrol")
async def enrol(request: Request, parts: ConsoleParts) -> Response:
    t = translator(request)
    try:
        pasted = field(request, "public_key", MAX_PASTE, required=True, label="public key", lines=True)
        key, name = public_key(pasted), kiosk_name(field(request, "name", 200, label="name"), pasted)
    except ValueError as err:
        return await kiosks_page(request, parts, status=400, message=str(err), tone="alarm")
    who, address, now = actor(request)
    before = {d.id: d for d in await call(parts.store.devices)}
    device = await call(parts.store.enroll, key, name, now)
    known = before.get(device.id)
    await call(parts.trail.append, who, "enrol", {
        "device": device.id, "name": name, "again": known is not None,
        "was_revoked": known is not None and known.revoked_at is not None}, address, now)
    return await kiosks_page(request, parts, message=t("kiosks.enrolled_ok", kiosk=label(device.name, device.id)))


def _days(parts: ConsoleParts, device_id: str, now: float) -> list[tuple[date, Figures, int]]:
    """The kiosk's last DAYS days in the console's zone, newest first: their figures and outages."""
    today = datetime.fromtimestamp(now, parts.tz).date()
    days = [today - timedelta(days=n) for n in range(DAYS)]
    start, end = day_bounds(days[-1], parts.tz)[0], day_bounds(today, parts.tz)[1]
    sums: dict[date, list[int]] = {day: [0] * 7 for day in days}
    for hour, figures, outages in parts.store.device_hours(device_id, start, end):
        day = datetime.fromtimestamp(hour, parts.tz).date()
        if day in sums:
            for i, value in enumerate((figures.scans, figures.passes, figures.denies, figures.retries,
                                       figures.fevers, figures.registrations, outages)):
                sums[day][i] += value
    return [(day, Figures(None, *sums[day][:6]), sums[day][6]) for day in days]


@needs("kiosks")
async def kiosk_page(request: Request, parts: ConsoleParts, *, message: str | None = None) -> Response:
    kiosk = await _one(request, parts)
    language, now = request.state.language, request.state.now
    sites = await call(sites_for, request.state.account, None, parts.store)
    after = query(request, "after", 200) or None
    events: EventPage = await call(parts.store.events_page,
                                   EventQuery(sites, kiosk.device.id, kind="device"), after, OUTAGES)
    outages = [(row.event.at, (event_words(row.event.kind, row.event.details) or ("", ""))[language != "zh"])
               for row in events.rows]
    faults = (await call(parts.store.faults, kiosk.device.id))[-FAULTS:][::-1]
    states = [(device_word(name, language), state_word(value, language), value in rules.FINE_STATES)
              for name, value in sorted(kiosk.devices.items())]
    return render(request, "kiosk.html", k=_view(kiosk, now), days=await call(_days, parts, kiosk.device.id, now),
                  outages=outages, faults=faults, states=states, message=message, day_count=DAYS,
                  older=f"/kiosks/{kiosk.device.id}?after={events.next}" if events.next else None)


@needs("kiosks")
async def rename(request: Request, parts: ConsoleParts) -> Response:
    kiosk = await _one(request, parts)
    name = kiosk_name(field(request, "name", 200, required=True, label="name"), "")
    who, address, now = actor(request)
    device = await call(parts.store.rename, kiosk.device.id, name, now)
    await call(parts.trail.append, who, "rename", {"device": device.id, "from": kiosk.device.name, "to": name},
               address, now)
    return await kiosk_page(request, parts, message=translator(request)("kiosks.renamed",
                                                                        kiosk=label(device.name, device.id)))


@needs("kiosks")
async def revoke(request: Request, parts: ConsoleParts) -> Response:
    kiosk = await _one(request, parts)
    who, address, now = actor(request)
    device = await call(parts.store.revoke, kiosk.device.id, now)
    await call(parts.trail.append, who, "revoke", {"device": device.id, "name": device.name, "site": kiosk.site},
               address, now)
    return await kiosk_page(request, parts, message=translator(request)("kiosks.revoked_ok",
                                                                        kiosk=label(device.name, device.id)))


PAGES = [
    Page("/kiosks", kiosks_page, nav=("终端", "Kiosks"), order=50),
    Page("/kiosks/enrol", enrol, methods=("POST",)),
    Page("/kiosks/{device}", kiosk_page),
    Page("/kiosks/{device}/rename", rename, methods=("POST",)),
    Page("/kiosks/{device}/revoke", revoke, methods=("POST",)),
]
