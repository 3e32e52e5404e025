"""The console's words in Chinese and English; verdicts, reasons and devices in the words of kiosk/terms.py.

Every page is in both languages: Chinese unless the person chose English (?lang=en, kept in a cookie). A key
is a pair (Chinese, English), so a word cannot exist in one language only. A page module of the console may
add its own keys (its WORDS); see kiosk/console/web.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request

from kiosk.audit.zones import zone_name
from kiosk.sync.health import age_text
from kiosk.terms import DEVICE_STATES, DEVICES, EVENT_KINDS, REASON_RECORDS, VERDICTS, Words, word

Language = Literal["zh", "en"]

WORDS: dict[str, Words] = {
    "app.title": ("检查站管理控制台", "Checkpoint console"),
    "app.language": ("English", "中文"),  # the link to the other language, in that language
    "app.signed_in": ("当前用户", "Signed in as"),
    "app.zone": ("时区", "Time zone"),
    "nav.overview": ("概览", "Overview"),
    "nav.events": ("记录", "Events"),
    "nav.menu": ("菜单", "Menu"),
    "logout": ("退出", "Sign out"),
    "role.viewer": ("查看员", "viewer"), "role.manager": ("场所管理员", "manager"),
    "role.tracer": ("流调人员", "tracer"), "role.admin": ("系统管理员", "admin"),
    # login
    "login.title": ("登录", "Sign in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.code": ("动态验证码", "One-time code"),
    "login.code_hint": ("管理员和流调人员填写验证器应用中的6位数字", "admin and tracer accounts: the 6 digits of "
                                                                      "the authenticator app"),
    "login.submit": ("登录", "Sign in"),
    "login.refused.credentials": ("用户名或密码错误", "Wrong username or password"),
    "login.refused.wait": ("尝试次数过多，请{seconds}秒后再试", "Too many attempts: try again in {seconds} s"),
    "login.refused.code": ("请填写正确的动态验证码", "A valid one-time code is needed"),
    "login.stale": ("登录表单已过期，请重新登录", "The sign-in form expired: please sign in again"),
    "login.signed_out": ("已退出", "Signed out"),
    # overview
    "overview.title": ("概览", "Overview"),
    "overview.today": ("今日", "Today"),
    "overview.kiosks": ("检查终端", "Kiosks"),
    "overview.kiosk": ("终端", "Kiosk"),
    "overview.state": ("状态", "State"),
    "overview.online": ("在线", "online"),
    "overview.offline": ("离线", "offline"),
    "overview.revoked": ("已吊销", "revoked"),
    "overview.never": ("从未", "never"),
    "overview.last_sync": ("最近同步", "Last sync"),
    "overview.backlog": ("待同步", "Backlog"),
    "overview.trust_age": ("信任数据", "Trust age"),
    "overview.clock": ("时钟偏差", "Clock offset"),
    "overview.faults": ("链故障", "Chain faults"),
    "overview.outages": ("设备中断", "Outages"),
    "overview.devices": ("设备", "Devices"),
    "overview.people": ("人数", "People"),
    "overview.scans": ("扫码", "Scans"),
    "overview.fevers": (REASON_RECORDS["fever"][0], "Fevers"),
    "overview.per_hour": ("每小时扫码", "Scans per hour"),
    "overview.alerts": ("警报", "Alerts"),
    "overview.no_alerts": ("无警报", "No alerts"),
    "overview.no_sites": ("还没有任何终端的数据", "No kiosk has sent anything yet"),
    "overview.no_site": ("（无场所）", "(no site)"),
    "overview.updated": ("更新于", "Updated"),
    "overview.unknown": ("未知", "unknown"),
    "alert.silent": ("{kiosk}已{age}未同步", "{kiosk} has not synced for {age}"),
    "alert.never": ("{kiosk}从未同步", "{kiosk} has never synced"),
    "alert.chain": ("{kiosk}：链故障{count}个", "{kiosk}: {count} chain faults"),
    "alert.trust": ("{kiosk}：信任数据已{age}未更新", "{kiosk}: trust data {age} old"),
    "alert.clock": ("{kiosk}：时钟偏差{seconds}秒", "{kiosk}: clock off by {seconds} s"),
    "alert.fever": ("{site}：{hour}起一小时内{count}人发热", "{site}: {count} fevers in the hour from {hour}"),
    "alert.device": ("{kiosk}：{state}", "{kiosk}: {state}"),
    # events
    "events.title": ("通行记录", "Events"),
    "events.site": ("场所", "Site"),
    "events.device": ("终端", "Kiosk"),
    "events.since": ("开始", "From"),
    "events.until": ("结束", "Until"),
    "events.verdict": ("结果", "Verdict"),
    "events.reason": ("原因", "Reason"),
    "events.subject": ("人员标识", "Subject"),
    "events.subject_hint_ref": ("32位十六进制人员标识码", "a subject reference, 32 hex digits"),
    "events.subject_hint": ("32位十六进制人员标识码，或健康码上的人员编号", "a 32-hex subject reference, or the id "
                                                                                "on a code"),
    "events.any": ("全部", "any"),
    "events.apply": ("筛选", "Filter"),
    "events.reset": ("清除", "Clear"),
    "events.time": ("时间", "Time"),
    "events.lane": ("通道", "Lane"),
    "events.kind": ("类型", "Kind"),
    "events.temperature": ("体温", "Temperature"),
    "events.details": ("登记信息", "Registration"),
    "events.corrected": ("已更正：{at}，{by}", "corrected {at} by {by}"),
    "events.was": ("原为", "was"),
    "events.next": ("更早的记录", "Older events"),
    "events.first": ("最新的记录", "Newest events"),
    "events.none": ("没有符合条件的记录", "No events match"),
    "events.shown": ("本页{count}条，最新在前", "{count} on this page, newest first"),
    "events.by_id": ("按人员编号查找", "Find by the id on a code"),
    **{f"kind.{kind}": pair for kind, pair in EVENT_KINDS.items()},
    # problems
    "problem.forbidden": ("无权访问", "Not allowed"),
    "problem.not_found": ("未找到", "Not found"),
    "problem.bad_request": ("请求有误", "Bad request"),
    "problem.store": ("数据库暂时无法访问，请稍后再试", "The database cannot be reached now: try again later"),
    "problem.internal": ("内部错误，已记录", "Internal error (logged)"),
    "problem.back": ("返回概览", "Back to the overview"),
}


class Translator:
    """`t("key", name=value)` in templates: the key's words in one language, with {name} filled in."""

    def __init__(self, table: Mapping[str, Words], language: Language) -> None:
        self.table, self.language, self.index = table, language, 0 if language == "zh" else 1

    def __call__(self, key: str, **values: Any) -> str:
        pair = self.table.get(key)
        if pair is None:
            return key  # a missing word shows as its key, visibly; tests check every key used exists
        text = pair[self.index]
        return text.format(**values) if values else text


def verdict_word(verdict: str | None, language: Language) -> str:
    """terms.py's word for a verdict; capitalised in English ("Pass"), as the console's labels and column values
    beside it are (terms.py keeps it lower case for sentences and the wire)."""
    text = word(VERDICTS, verdict, language) if verdict else ""
    return text[:1].upper() + text[1:] if language == "en" else text


def reason_word(reason: str | None, language: Language) -> str:
    return word(REASON_RECORDS, reason, language) if reason else ""


def device_word(device: str, language: Language) -> str:
    return word(DEVICES, device, language)


def state_word(state: str, language: Language) -> str:
    return word(DEVICE_STATES, state, language)


def age(seconds: float | None, language: Language) -> str:
    """"3 h" / "3小时"; "" for none."""
    if seconds is None:
        return ""
    en, zh = age_text(seconds)
    return zh if language == "zh" else en


def zone_label(zone: tzinfo, at: float) -> str:
    return zone_name(zone, at)


def other_language_url(request: Request, language: Language) -> str:
    """This page in the other language: its path and query, with lang= set (a GET link; nothing secret)."""
    other = "en" if language == "zh" else "zh"
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] if request.method == "GET" else []
    return f"{request.url.path}?{urlencode([*kept, ('lang', other)])}"
