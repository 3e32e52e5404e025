"""The log's values in words, Chinese and English: exports, the day report and the admin screen's list. Pure.

Short words, as a site manager reads them in a spreadsheet ("码已过期" / "code
expired"), not the verdict screen's advice to the person at the door.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Language = Literal["zh", "en"]

VERDICT_ZH = {"pass": "通过", "deny": "拒绝", "retry": "重试"}
KIND_ZH = {"scan": "扫码", "manual": "人工登记", "device": "设备", "purge": "清理", "admin": "管理",
           "correction": "更正"}
STATUS_ZH = {"green": "绿码", "amber": "黄码", "red": "红码"}
CODE_KIND_ZH = {"dynamic": "动态码", "printed": "纸质码"}
# reason -> (Chinese, English), for the reasons of spec section 5.
REASONS = {
    "not_health_code": ("不是健康码", "not a health code"), "malformed": ("码无法识别", "unreadable code"),
    "unknown_key": ("未知签发密钥", "unknown key"), "bad_signature": ("签名无效", "bad signature"),
    "key_revoked": ("密钥已吊销", "key revoked"), "key_expired": ("密钥已过期", "key expired"),
    "issuer_mismatch": ("签发机构不符", "issuer mismatch"), "not_yet_valid": ("码尚未生效", "code not yet valid"),
    "expired": ("码已过期", "code expired"), "too_old": ("码已超时", "code too old"),
    "printed_not_accepted": ("不接受纸质码", "printed code not accepted"), "status_red": ("红码", "red status"),
    "status_amber": ("黄码", "amber status"), "temperature_missing": ("未测体温", "no temperature"),
    "temperature_implausible": ("体温读数异常", "implausible temperature"), "fever": ("发热", "fever"),
    "ok": ("正常", "ok"),
}
REASON_ZH = {code: names[0] for code, names in REASONS.items()}
REASON_EN = {code: names[1] for code, names in REASONS.items()}

# The fields a site may record for a person without a code ([log] manual_fields); any other key is its own header.
FIELD_WORDS = {"name": ("姓名", "name"), "phone": ("电话", "phone"), "id_last4": ("证件后四位", "ID last 4"),
               "id_number": ("证件号", "ID number"), "address": ("住址", "address"), "company": ("单位", "company"),
               "note": ("备注", "note"), "plate": ("车牌", "plate"), "seat": ("座位", "seat")}
DEVICE_WORDS = {"camera": ("摄像头", "camera"), "2D scanner": ("扫码器", "2D scanner"),
                "thermometer": ("体温计", "thermometer")}
STATE_WORDS = {"ok": ("正常", "ok"), "lost": ("断开", "lost"), "disconnected": ("断开", "disconnected"),
               "no reading": ("无读数", "no reading"), "ended": ("已结束", "ended"), "starting": ("启动中", "starting"),
               "back": ("恢复", "back"), "reconnected": ("重新连接", "reconnected"), "restored": ("恢复", "restored"),
               "connected": ("已连接", "connected"), "online": ("在线", "online")}
ACTION_WORDS = {
    "unlock": ("进入管理", "admin unlock"), "leave": ("退出管理", "admin left"),
    "export": ("导出到U盘", "export to USB"), "import": ("从U盘导入信任文件", "trust import from USB"),
    "sync": ("手动同步", "sync now"), "policy": ("修改设置", "policy changed"),
    "register": ("人工登记", "registered by hand"), "correct": ("更正登记", "registration corrected"),
}


def field_header(key: str, language: Language) -> str:
    """A registration field's column header: known fields in words, any other by its key."""
    zh, en = FIELD_WORDS.get(key, (key, key))
    return zh if language == "zh" else en


def device_words(device: object, state: object) -> tuple[str, str]:
    """("体温计断开", "thermometer disconnected"): unknown devices and states keep their own names."""
    name, what = str(device or "device"), str(state or "?")
    device_zh, device_en = DEVICE_WORDS.get(name, (name, name))
    state_zh, state_en = STATE_WORDS.get(what, (what, what))
    return f"{device_zh}{state_zh}", f"{device_en} {state_en}"


def event_words(kind: str, details: Mapping[str, object]) -> tuple[str, str] | None:
    """What a device, admin, purge or correction event says, in words; None for other kinds."""
    if kind == "device":
        return device_words(details.get("device"), details.get("state"))
    if kind == "admin":
        action = str(details.get("action", ""))
        zh, en = ACTION_WORDS.get(action, (action, action))
        result = details.get("result")
        if action == "unlock" and result not in (None, "ok"):  # a failed or refused PIN is what a manager looks for
            return f"{zh}失败（{result}）", f"{en} failed ({result})"
        if details.get("ok") is False:
            return f"{zh}失败", f"{en} failed"
        return zh, en
    if kind == "purge":
        deleted = details.get("deleted", "?")
        return f"清理 {deleted} 条旧记录", f"{deleted} old events purged"
    if kind == "correction":
        target = details.get("corrects", "?")
        return f"更正登记 {target}", f"corrects registration {target}"
    return None
