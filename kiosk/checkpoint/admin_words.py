"""The admin screen's list of recent events, as rows of words in Chinese and English. Pure.

Short words, as in the exported log ("码已过期" / "code expired"), not the
verdict screen's advice to the person at the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from kiosk.audit.events import Event
from kiosk.audit.export import REASONS
from kiosk.checkpoint.wording import temperature_text


@dataclass(frozen=True)
class RecentRow:
    time: str  # local "HH:MM:SS"
    kind: str  # scan, manual, admin, device, purge
    verdict: str | None  # pass / deny / retry for a scan
    reason_zh: str
    reason_en: str
    temperature: str | None  # "36.6 °C"


ACTIONS = {
    "unlock": ("进入管理", "admin unlock"), "leave": ("退出管理", "admin left"),
    "export": ("导出到U盘", "export to USB"), "import": ("从U盘导入信任文件", "trust import from USB"),
    "sync": ("手动同步", "sync now"), "policy": ("修改设置", "policy changed"),
    "register": ("人工登记", "registered by hand"),
}
DEVICES = {"camera": "摄像头", "2D scanner": "扫码器", "thermometer": "测温"}
STATES = {"ok": "正常", "lost": "断开", "disconnected": "未连接", "no reading": "无读数", "ended": "已结束"}


def _words(event: Event) -> tuple[str, str]:
    details = event.details
    if event.kind == "scan":
        reason = event.reason or ""
        return REASONS.get(reason, (reason, reason))
    if event.kind == "manual":
        return "人工登记", "registered by hand"
    if event.kind == "admin":
        action = str(details.get("action", ""))
        zh, en = ACTIONS.get(action, (action, action))
        result = details.get("result")
        if action == "unlock" and result != "ok":  # a failed or refused PIN is what a manager looks for
            return f"{zh}失败（{result}）", f"{en} failed ({result})"
        if details.get("ok") is False:
            return f"{zh}失败", f"{en} failed"
        return zh, en
    if event.kind == "device":
        name, state = str(details.get("device", "")), str(details.get("state", ""))
        return f"{DEVICES.get(name, name)} {STATES.get(state, state)}", f"{name} {state}"
    if event.kind == "purge":
        deleted = details.get("deleted", "?")
        return f"清理 {deleted} 条旧记录", f"{deleted} old events purged"
    return event.kind, event.kind


def recent_row(event: Event, zone: tzinfo) -> RecentRow:
    zh, en = _words(event)
    return RecentRow(datetime.fromtimestamp(event.at, zone).strftime("%H:%M:%S"), event.kind, event.verdict, zh, en,
                     temperature_text(event.temperature))
