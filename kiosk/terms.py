"""The project's terms and their words, in Chinese and English: one table per kind of term. Pure, standard library only.

Every screen, export, day report and admin list says a term with the words
here, so a verdict, a reason, a device or a state reads the same wherever it
appears: "pass" is 通行 on the verdict screen, in the admin's list of recent
events, in a spreadsheet and in the day report. Each table maps the value the
code and the audit log use (the spec's reason code, an event's kind, a
device's name) to (Chinese, English); a value no table knows is said as itself,
never hidden. The modules that build sentences from these words
(kiosk/checkpoint/wording.py for the verdict screen, kiosk/audit/words.py for
the log, kiosk/ui/texts.py for the other screens) keep no words of their own
for these terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

Language = Literal["zh", "en"]
Words = tuple[str, str]  # (Chinese, English)

# One word per verdict, everywhere. 禁止 rather than 拒绝: the admin screen says 拒绝 for a trust file it refuses,
# and the verdict screen's title is built on 禁止 (禁止通行, no entry).
VERDICTS: dict[str, Words] = {"pass": ("通行", "pass"), "deny": ("禁止", "deny"), "retry": ("重试", "retry")}
# The verdict screen's big title: a phrase built on the verdict's word, in capitals in English.
VERDICT_TITLES: dict[str, Words] = {
    "pass": (VERDICTS["pass"][0], "PASS"),
    "deny": (VERDICTS["deny"][0] + "通行", "DENY"),
    "retry": ("请" + VERDICTS["retry"][0], "RETRY"),
}


class ReasonWords(NamedTuple):
    # For the person at the door and the volunteer beside them: what happened, then what to do, read at arm's
    # length ("code expired: refresh it"), never an error code. {t} is the temperature.
    screen: Words
    # Short, as a site manager reads it in a spreadsheet, the day report or the admin's list ("code expired").
    record: Words


# reason -> its words, for every reason of kiosk.verdict.REASONS (spec section 5, then this project's own).
REASON_WORDS: dict[str, ReasonWords] = {
    "not_health_code": ReasonWords(("这不是健康码：请出示健康码", "not a health code: show your health code"),
                                   ("不是健康码", "not a health code")),
    "malformed": ReasonWords(("无法识别此码：请刷新后重试", "code unreadable: refresh it and try again"),
                             ("码无法识别", "unreadable code")),
    "unknown_key": ReasonWords(("签发机构未知：请人工核验", "unknown issuer: ask the staff"),
                               ("未知签发密钥", "unknown key")),
    "bad_signature": ReasonWords(("码无效（签名不符）：请人工核验", "invalid code (bad signature): ask the staff"),
                                 ("签名无效", "bad signature")),
    "key_revoked": ReasonWords(("签发密钥已吊销：请人工核验", "issuing key revoked: ask the staff"),
                               ("密钥已吊销", "key revoked")),
    "key_expired": ReasonWords(("签发密钥已过期：请人工核验", "issuing key expired: ask the staff"),
                               ("密钥已过期", "key expired")),
    "wrong_key_usage": ReasonWords(("证书无权签发此类证明：请人工核验", "signer may not sign this type: ask the staff"),
                                   ("证书用途不符", "wrong key usage")),
    "issuer_mismatch": ReasonWords(("签发机构不符：请人工核验", "issuer mismatch: ask the staff"),
                                   ("签发机构不符", "issuer mismatch")),
    "not_yet_valid": ReasonWords(("码尚未生效：请检查手机时间", "code not valid yet: check your phone's clock"),
                                 ("码尚未生效", "code not yet valid")),
    "expired": ReasonWords(("码已过期：请刷新", "code expired: refresh it"), ("码已过期", "code expired")),
    "too_old": ReasonWords(("截图过旧：请打开健康码实时页面", "screenshot too old: open the live code"),
                           ("码已超时", "code too old")),
    "printed_not_accepted": ReasonWords(("此处不接受纸质码：请出示手机健康码",
                                         "printed codes not accepted here: show it on your phone"),
                                        ("不接受纸质码", "printed code not accepted")),
    "status_red": ReasonWords(("红码：禁止通行，请联系工作人员", "red code: no entry, see the staff"),
                              ("红码", "red status")),
    "status_amber": ReasonWords(("黄码：禁止通行，请联系工作人员", "amber code: no entry, see the staff"),
                                ("黄码", "amber status")),
    "vaccination_incomplete": ReasonWords(("疫苗接种未完成：请人工核验", "vaccination incomplete: ask the staff"),
                                          ("接种未完成", "vaccination incomplete")),
    "vaccination_too_recent": ReasonWords(("末剂接种未满期限：请人工核验", "last dose too recent: ask the staff"),
                                          ("接种未满期限", "vaccination too recent")),
    "vaccination_too_old": ReasonWords(("接种已过有效期：请出示加强针证明", "vaccination too old: show your booster"),
                                       ("接种已过期", "vaccination too old")),
    "test_positive": ReasonWords(("检测结果非阴性：请联系工作人员", "test not negative: see the staff"),
                                 ("检测非阴性", "test not negative")),
    "test_too_old": ReasonWords(("检测已过期：请出示新的检测证明", "test too old: show a newer test"),
                                ("检测已过期", "test too old")),
    "recovery_not_valid": ReasonWords(("康复证明不在有效期内：请人工核验", "recovery not valid today: ask the staff"),
                                      ("康复证明无效", "recovery not valid")),
    "temperature_missing": ReasonWords(("请靠近测温仪", "step closer to the thermometer"),
                                       ("未测体温", "no temperature")),
    "temperature_implausible": ReasonWords(("测温异常：请摘帽，再测一次",
                                            "reading unclear: remove your hat, measure again"),
                                           ("体温读数异常", "implausible temperature")),
    "fever": ReasonWords(("体温 {t}：请到留观区复测", "temperature {t}: please see the staff"), ("发热", "fever")),
    "ok": ReasonWords(("绿码：请通行", "green code: go ahead"), ("正常", "ok")),
    "log_unavailable": ReasonWords(("记录系统故障：请联系工作人员", "logging is down: see the staff"),
                                   ("记录系统故障", "log unavailable")),
}
# An HC1 certificate that passes is no "green code": the verdict screen says this instead of ok's screen words.
CERTIFICATE_OK: Words = ("证明有效：请通行", "certificate valid: go ahead")
REASON_SCREENS: dict[str, Words] = {reason: words.screen for reason, words in REASON_WORDS.items()}
REASON_RECORDS: dict[str, Words] = {reason: words.record for reason, words in REASON_WORDS.items()}

# What an audit-log event is (its `kind`).
EVENT_KINDS: dict[str, Words] = {
    "scan": ("扫码", "scan"), "manual": ("人工登记", "registration by hand"), "correction": ("更正", "correction"),
    "device": ("设备", "device"), "admin": ("管理", "admin"), "purge": ("清理", "purge"),
}
# An HC1 certificate's type (spec section 9): what the verdict screen says beside the name.
HC1_CERTIFICATES: dict[str, Words] = {"vaccination": ("疫苗接种", "vaccination"), "test": ("检测", "test"),
                                      "recovery": ("康复", "recovery")}
# A health code's kind (spec section 2) and its status (green, amber, red). The audit log's code_kind holds an
# HC1 certificate's type instead, so exports and reports say those too.
CODE_KINDS: dict[str, Words] = {"dynamic": ("动态码", "dynamic"), "printed": ("纸质码", "printed"),
                                **HC1_CERTIFICATES}
CODE_STATUSES: dict[str, Words] = {"green": ("绿码", "green"), "amber": ("黄码", "amber"), "red": ("红码", "red")}
# The signed files of a trust directory (spec section 4), as kiosk.trustdir names them.
TRUST_FILE_KINDS: dict[str, Words] = {"trust bundle": ("信任包", "trust bundle"),
                                      "status list": ("状态列表", "status list")}

# The devices a kiosk watches, by the name its device events carry, and the states they report.
DEVICES: dict[str, Words] = {"camera": ("摄像头", "camera"), "2D scanner": ("扫码器", "2D scanner"),
                             "thermometer": ("测温仪", "thermometer")}
DEVICE_STATES: dict[str, Words] = {
    "ok": ("正常", "ok"), "starting": ("启动中", "starting"), "ended": ("已结束", "ended"),
    "lost": ("断开", "lost"), "disconnected": ("未连接", "disconnected"), "no reading": ("无读数", "no reading"),
    "cannot open": ("无法打开", "cannot be opened"), "back": ("恢复", "back"), "restored": ("恢复", "restored"),
    "reconnected": ("重新连接", "reconnected"), "connected": ("已连接", "connected"), "online": ("在线", "online"),
}

# What the admin did at the kiosk (an admin event's `action`).
ADMIN_ACTIONS: dict[str, Words] = {
    "unlock": ("进入管理", "admin unlock"), "leave": ("退出管理", "admin left"),
    "export": ("导出到U盘", "export to USB"), "import": ("从U盘导入信任文件", "trust import from USB"),
    "sync": ("手动同步", "sync now"), "policy": ("修改设置", "policy changed"),
    "register": ("人工登记", "registered by hand"), "correct": ("更正登记", "registration corrected"),
}
# The fields a site may record for a person without a code ([log] manual_fields).
PERSON_FIELDS: dict[str, Words] = {
    "name": ("姓名", "name"), "phone": ("电话", "phone"), "id_last4": ("证件后四位", "ID last 4"),
    "id_number": ("证件号", "ID number"), "address": ("住址", "address"), "company": ("单位", "company"),
    "note": ("备注", "note"), "plate": ("车牌", "plate"), "seat": ("座位", "seat"),
}


def words(table: Mapping[str, Words], value: str) -> Words:
    """The (Chinese, English) of `value` in `table`; a value the table does not know is said as itself."""
    return table.get(value, (value, value))


def word(table: Mapping[str, Words], value: str, language: Language) -> str:
    zh, en = words(table, value)
    return zh if language == "zh" else en


def in_language(table: Mapping[str, Words], language: Language) -> dict[str, str]:
    """The table in one language: value -> word."""
    return {value: zh if language == "zh" else en for value, (zh, en) in table.items()}


def device_state(device: object, state: object) -> Words:
    """("测温仪未连接", "thermometer disconnected"): unknown devices and states keep their own names."""
    device_zh, device_en = words(DEVICES, str(device or "device"))
    state_zh, state_en = words(DEVICE_STATES, str(state or "?"))
    return f"{device_zh}{state_zh}", f"{device_en} {state_en}"
