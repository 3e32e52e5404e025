"""Exports and day reports (managers, admins; a viewer is refused), the same files as `kiosk collector export` /
`kiosk collector report` make, of the account's sites only.

    /export?format=csv|jsonl|xlsx&site=&since=&until=&language=   the events (kiosk/console/exporting.py), streamed
    /export                                                        the form that makes such a link
    /report?day=YYYY-MM-DD&site=&language=                         the day's report page (one HTML file) of a site
    /report                                                        its form

`site` empty: all of the account's sites; another site is 403. since / until: a day or a time in the
collector's zone (as on /events). Every export and report is recorded in the console's trail with who asked,
the filters and how many rows went out.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from kiosk.collector.views import report_all
from kiosk.console.downloads import Download, Tally
from kiosk.console.exporting import MEDIA, raw_kiosks
from kiosk.console.exporting import Request as ExportRequest
from kiosk.console.exporting import chunks as export_chunks
from kiosk.console.filters import MAX_SITE, input_value, moment
from kiosk.console.forms import actor, query
from kiosk.console.page import sites_for
from kiosk.console.web import ConsoleParts, Page, call, needs, render
from kiosk.terms import Language

FORMATS = ("csv", "jsonl", "xlsx")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
REPORT_CHUNK = 256 * 1024
WORDS = {
    "export.title": ("导出记录", "Export events"),
    "export.hint": ("与 kiosk log export 相同的列；CSV 可直接用 Excel 打开", "The columns of `kiosk log export`; a CSV "
                                                                          "opens in Excel as it is"),
    "export.site": ("场所", "Site"), "export.all_sites": ("我的全部场所", "all my sites"),
    "export.since": ("开始", "From"), "export.until": ("结束", "Until"),
    "export.format": ("格式", "Format"), "export.language": ("表头语言", "Headers in"),
    "export.download": ("下载", "Download"),
    "export.subjects": ("人员标识为加密后的标识码", "Subjects are references, never raw ids"),
    "report.title": ("日报", "Day report"),
    "report.hint": ("与 kiosk log report 相同的页面：一个独立的HTML文件", "The page of `kiosk log report`: one "
                                                                         "self-contained HTML file"),
    "report.day": ("日期", "Day"),
}


def _language(request: Request) -> Language:
    asked = query(request, "language", 2)
    if asked and asked not in ("zh", "en"):
        raise ValueError("language: zh or en")
    chosen: Language = "en" if (asked or request.state.language) == "en" else "zh"
    return chosen


async def _site_choice(request: Request, parts: ConsoleParts) -> tuple[str, frozenset[str] | None, list[str]]:
    """(the site asked, the scope to read, the sites the form offers); Forbidden for a site not the account's."""
    site = query(request, "site", MAX_SITE)
    scope = await call(sites_for, request.state.account, site or None, parts.store)
    everything = await call(sites_for, request.state.account, None, parts.store)
    offered = sorted(everything) if everything is not None else sorted(s for s in await call(parts.store.sites) if s)
    return site, scope, offered


@needs("export")
async def export(request: Request, parts: ConsoleParts) -> Response:
    site, scope, offered = await _site_choice(request, parts)
    fmt = query(request, "format", 8)
    since = moment(query(request, "since", 32), parts.tz, end=False, name="since")
    until = moment(query(request, "until", 32), parts.tz, end=True, name="until")
    if since is not None and until is not None and until <= since:
        raise ValueError("until: must be after since")
    language = _language(request)
    if not fmt:
        return render(request, "export.html", sites=offered, site=site, formats=FORMATS, language=language,
                      since_value=input_value(since, parts.tz), until_value=input_value(until, parts.tz),
                      may_trace=request.state.account.may("trace"))
    if fmt not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    account = request.state.account
    raw = frozenset() if account.may("trace") else await call(raw_kiosks, parts.store, scope)
    asked = ExportRequest(fmt, scope, since, until, language, parts.tz, raw, parts.subject_key)  # type: ignore[arg-type]
    who, address, now = actor(request)

    def recorded(tally: Tally) -> None:
        parts.trail.append(who, "export", {"format": fmt, "site": site or None, "since": since, "until": until,
                                           "language": language, "rows": tally.rows, "complete": tally.complete},
                           address, now)

    stamp = datetime.fromtimestamp(now, parts.tz).strftime("%Y%m%d-%H%M%S")
    name = f"events-{site or 'all'}-{stamp}.{fmt}"
    return Download(lambda tally: export_chunks(parts.store, asked, tally), name, MEDIA[fmt], recorded)


def _report_file(parts: ConsoleParts, day: date, language: Language, site: str,
                 scope: frozenset[str] | None) -> Iterator[bytes]:
    """The report page, made into a private temporary file, read out in chunks, then deleted."""
    with tempfile.TemporaryDirectory(prefix="kiosk-console-report-") as folder:
        path = Path(folder) / "report.html"
        report_all(parts.store, day, path, language=language, tz=parts.tz, site_name=site or None, sites=scope)
        with open(path, "rb") as f:
            while chunk := f.read(REPORT_CHUNK):
                yield chunk


@needs("report")
async def report(request: Request, parts: ConsoleParts) -> Response:
    site, scope, offered = await _site_choice(request, parts)
    typed = query(request, "day", 10)
    language = _language(request)
    today = datetime.fromtimestamp(request.state.now, parts.tz).date()
    if not typed:
        return render(request, "report.html", sites=offered, site=site or (offered[0] if len(offered) == 1 else ""),
                      day=today.isoformat(), language=language)
    try:
        day = date.fromisoformat(typed) if _DAY.fullmatch(typed) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError("day: a day, YYYY-MM-DD")
    who, address, now = actor(request)

    title = site or (next(iter(scope)) if scope is not None and len(scope) == 1 else "")  # a manager's one site

    def made(tally: Tally) -> Iterator[bytes]:
        yield from _report_file(parts, day, language, title, scope)
        tally.rows = 1

    def recorded(tally: Tally) -> None:
        parts.trail.append(who, "report", {"day": day.isoformat(), "site": site or None, "language": language,
                                           "complete": tally.complete}, address, now)

    return Download(made, f"report-{site or 'all'}-{day.isoformat()}.html", "text/html; charset=utf-8", recorded)


PAGES = [
    Page("/export", export, nav=("导出", "Export"), order=30),
    Page("/report", report, nav=("日报", "Report"), order=35),
]
