"""The console's own audit trail (/trail, admins): who did what, when and from where, newest first, filtered by
time, account and action, a page at a time (by sequence number, never an offset); whether its hash chain holds
(kiosk/console/trail.py verify: the first entry that does not, and why), and its export as CSV
(/trail/csv?since=&until=, streamed), which is itself recorded in the trail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from kiosk.audit.localtime import LocalTime
from kiosk.console.console_schema import TrailEntry
from kiosk.console.downloads import Download, Tally, csv_chunks, defused
from kiosk.console.filters import input_value, moment
from kiosk.console.forms import actor, query
from kiosk.console.web import ConsoleParts, Page, call, needs, render, when

PAGE_SIZE = 50  # entries a page
SCAN_LIMIT = 20  # pages of the store's (1000 entries each) one request reads looking for matches
_ACTION = re.compile(r"[a-z][a-z_]{0,31}")
ACTIONS = {
    "login": ("登录", "sign-in"), "login_failed": ("登录失败", "failed sign-in"), "logout": ("退出", "sign-out"),
    "sessions_ended": ("结束会话", "sessions ended"), "export": ("导出", "export"), "report": ("日报", "report"),
    "trace": ("流调查询", "trace"), "enrol": ("登记终端", "enrolment"), "revoke": ("吊销终端", "revocation"),
    "rename": ("终端改名", "rename"), "upload": ("上传信任文件", "trust upload"), "purge": ("过期清理", "purge"),
    "user_add": ("添加用户", "account added"), "user_passwd": ("重设密码", "password set"),
    "user_disable": ("停用用户", "account disabled"), "user_enable": ("启用用户", "account enabled"),
    "user_totp": ("重置动态验证码", "second factor reset"), "user_change": ("更改用户", "account changed"),
    "correct": ("更正登记", "correction"),
}
WORDS = {
    "trail.title": ("审计日志", "Audit trail"),
    "trail.holds": ("哈希链完整：共{count}条，无篡改、无缺失", "The hash chain holds: {count} entries, none edited, "
                                                               "removed or reordered"),
    "trail.holds_one": ("哈希链完整：共1条，无篡改、无缺失", "The hash chain holds: 1 entry, not edited or removed"),
    "trail.broken": ("哈希链在第{seq}条断开：{problem}", "The hash chain breaks at entry {seq}: {problem}"),
    "trail.seq": ("序号", "No."), "trail.time": ("时间", "Time"), "trail.actor": ("用户", "Account"),
    "trail.action": ("操作", "Action"), "trail.detail": ("详情", "Detail"), "trail.address": ("来源地址", "Address"),
    "trail.since": ("开始", "From"), "trail.until": ("结束", "Until"), "trail.any": ("全部", "any"),
    "trail.apply": ("筛选", "Filter"), "trail.export": ("导出CSV", "Export as CSV"),
    "trail.next": ("更早的记录", "Older entries"), "trail.first": ("最新的记录", "Newest entries"),
    "trail.none": ("没有符合条件的记录", "No entries match"),
    **{f"trail.action.{name}": pair for name, pair in ACTIONS.items()},
}
TIMES = frozenset({"since", "until", "before", "at"})  # detail values that are times: shown as dates
SPANS = frozenset({"window"})  # detail values that are seconds: shown in minutes
YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}
MINUTES = {"zh": "{n}分钟", "en": "{n} min"}
CSV_HEADER = {"zh": ("序号", "时间", "用户", "操作", "详情", "来源地址", "哈希"),
              "en": ("seq", "time", "account", "action", "detail", "address", "hash")}


@dataclass(frozen=True)
class TrailQuery:
    since: float | None
    until: float | None
    actor: str
    action: str
    after: int | None
    typed: dict[str, str]

    def wanted(self, who: object, action: object) -> bool:
        return (not self.actor or who == self.actor) and (not self.action or action == self.action)

    def link(self, path: str, after: int | None = None) -> str:
        items = [(k, v) for k, v in self.typed.items() if v] + ([("after", str(after))] if after else [])
        return path + (f"?{urlencode(items)}" if items else "")


def _query(request: Request, parts: ConsoleParts) -> TrailQuery:
    typed = {name: query(request, name, 64) for name in ("since", "until", "actor", "action")}
    since = moment(typed["since"], parts.tz, end=False, name="since")
    until = moment(typed["until"], parts.tz, end=True, name="until")
    if typed["action"] and not _ACTION.fullmatch(typed["action"]):
        raise ValueError("action: a word of the trail (login, export, ...)")
    after_text = query(request, "after", 20)
    if after_text and not after_text.isdigit():
        raise ValueError("after: not a page of this list")
    return TrailQuery(since, until, typed["actor"], typed["action"], int(after_text) if after_text else None, typed)


def _page_of(parts: ConsoleParts, asked: TrailQuery) -> tuple[list[TrailEntry], int | None]:
    """Up to PAGE_SIZE matching entries, newest first, and the cursor of the next page (None: no more)."""
    found: list[TrailEntry] = []
    before = asked.after
    for _ in range(SCAN_LIMIT):
        entries = parts.trail.entries(asked.since, asked.until, before, 1000)
        for entry in entries:
            if asked.wanted(entry.actor, entry.action):
                found.append(entry)
                if len(found) == PAGE_SIZE:
                    return found, entry.seq
        if len(entries) < 1000:
            return found, None
        before = entries[-1].seq
    return found, before  # the scan limit: the next page goes on from where this one stopped looking


def _said(value: object, language: str) -> str:
    if isinstance(value, bool):  # before numbers: a bool is an int to Python, "False" to nobody else
        return YES_NO[language][0 if value else 1]
    if isinstance(value, list):
        return ", ".join(_said(item, language) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def _detail(key: str, value: object, zone: tzinfo, language: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if key in TIMES:
            return when(value, zone)
        if key in SPANS:
            return MINUTES[language].format(n=f"{value / 60:g}")
    return _said(value, language)


def detail_pairs(entry: TrailEntry, zone: tzinfo, language: str = "zh") -> list[tuple[str, str]]:
    """An entry's detail as (key, value) to read: times as dates in the console's zone, spans in minutes, yes/no
    for booleans, in the page's language (the CSV keeps the JSON)."""
    return [(key, _detail(key, value, zone, language)) for key, value in entry.details().items()]


@needs("trail")
async def trail_page(request: Request, parts: ConsoleParts) -> Response:
    asked = _query(request, parts)
    entries, after = await call(_page_of, parts, asked)
    broken = await call(parts.trail.verify)
    newest = await call(parts.trail.entries, None, None, None, 1)
    language = request.state.language
    return render(request, "trail.html", entries=[(e, detail_pairs(e, parts.tz, language)) for e in entries],
                  broken=broken, count=newest[0].seq if newest else 0, asked=asked,
                  next_link=asked.link("/trail", after) if after else None,
                  first_link=asked.link("/trail") if asked.after else None, csv_link=asked.link("/trail/csv"),
                  actions=sorted(ACTIONS), since_value=input_value(asked.since, parts.tz),
                  until_value=input_value(asked.until, parts.tz))


@needs("trail")
async def trail_csv(request: Request, parts: ConsoleParts) -> Response:
    asked = _query(request, parts)
    who, address, now = actor(request)
    clock = LocalTime(parts.tz)

    def chunks(tally: Tally) -> Iterator[bytes]:
        pages = ([(seq, clock.text(float(at)), *map(defused, (who_, action, detail, address_)), digest)  # type: ignore[arg-type]
                  for seq, at, who_, action, detail, address_, digest in page
                  if asked.wanted(who_, action)]
                 for page in parts.trail.rows(asked.since, asked.until))
        return csv_chunks(CSV_HEADER[request.state.language], pages, tally)

    def recorded(tally: Tally) -> None:
        parts.trail.append(who, "export", {"what": "trail", "since": asked.since, "until": asked.until,
                                           "actor": asked.actor or None, "action": asked.action or None,
                                           "rows": tally.rows, "complete": tally.complete}, address, now)

    name = f"console-trail-{when(now, parts.tz, '%Y%m%d-%H%M%S')}.csv"
    return Download(chunks, name, "text/csv; charset=utf-8", recorded)


PAGES = [
    Page("/trail", trail_page, nav=("审计日志", "Audit trail"), order=90),
    Page("/trail/csv", trail_csv, kind="download"),
]
