"""What the screen says for each verdict and reason, in Chinese and English. Pure.

Written for the person at the door and the volunteer beside them: what happened
and what to do next, in a few words that read at arm's length ("code expired:
refresh it"), never an error code. Colour is never the only signal: each
verdict has its own words and icon.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# verdict -> (Chinese title, English title, icon, RGBA background, RGBA text)
VERDICTS: dict[str, tuple[str, str, str, tuple[float, float, float, float], tuple[float, float, float, float]]] = {
    "pass": ("通行", "PASS", "tick", (0.05, 0.55, 0.20, 1.0), (1.0, 1.0, 1.0, 1.0)),
    "deny": ("禁止通行", "DENY", "cross", (0.78, 0.08, 0.10, 1.0), (1.0, 1.0, 1.0, 1.0)),
    "retry": ("请重试", "RETRY", "again", (1.00, 0.70, 0.00, 1.0), (0.08, 0.08, 0.08, 1.0)),  # dark text on amber
}

# reason -> (Chinese, English): what happened, then what to do. {t} is the temperature.
REASONS: dict[str, tuple[str, str]] = {
    "ok": ("绿码：请通行", "green code: go ahead"),
    "not_health_code": ("这不是健康码：请出示健康码", "not a health code: show your health code"),
    "malformed": ("无法识别此码：请刷新后重试", "code unreadable: refresh it and try again"),
    "unknown_key": ("签发机构未知：请人工核验", "unknown issuer: ask the staff"),
    "bad_signature": ("码无效（签名不符）：请人工核验", "invalid code (bad signature): ask the staff"),
    "key_revoked": ("签发密钥已吊销：请人工核验", "issuing key revoked: ask the staff"),
    "key_expired": ("签发密钥已过期：请人工核验", "issuing key expired: ask the staff"),
    "issuer_mismatch": ("签发机构不符：请人工核验", "issuer mismatch: ask the staff"),
    "not_yet_valid": ("码尚未生效：请检查手机时间", "code not valid yet: check your phone's clock"),
    "expired": ("码已过期：请刷新", "code expired: refresh it"),
    "too_old": ("截图过旧：请打开健康码实时页面", "screenshot too old: open the live code"),
    "printed_not_accepted": ("此处不接受纸质码：请出示手机健康码",
                             "printed codes not accepted here: show it on your phone"),
    "status_red": ("红码：禁止通行，请联系工作人员", "red code: no entry, see the staff"),
    "status_amber": ("黄码：禁止通行，请联系工作人员", "amber code: no entry, see the staff"),
    "temperature_missing": ("请靠近测温仪", "step closer to the thermometer"),
    "temperature_implausible": ("测温异常：请摘帽，再测一次", "reading unclear: remove your hat, measure again"),
    "fever": ("体温 {t}：请到留观区复测", "temperature {t}: please see the staff"),
    "log_unavailable": ("记录系统故障：请联系工作人员", "logging is down: see the staff"),
}

PROMPT = ("请出示健康码", "Show your health code")
BUS_PROMPT = ("请扫码乘车", "Scan your code to board")
# A code was read before the thermometer had a confirmed reading: the checkpoint waits a moment for one.
MEASURING = ("正在测温…", "measuring...")


@dataclass(frozen=True)
class Words:
    title_zh: str
    title_en: str
    reason_zh: str
    reason_en: str
    icon: str
    background: tuple[float, float, float, float]
    foreground: tuple[float, float, float, float]


def temperature_text(celsius: float | None) -> str | None:
    return None if celsius is None else f"{celsius:.1f} °C"


def words_for(verdict: str, reason: str, celsius: float | None) -> Words:
    """The words of one verdict; an unknown reason is shown by its code rather than hidden."""
    title_zh, title_en, icon, background, foreground = VERDICTS.get(verdict, VERDICTS["deny"])
    zh, en = REASONS.get(reason, (reason, reason))
    shown = temperature_text(celsius) or "?"
    return Words(title_zh, title_en, zh.format(t=shown), en.format(t=shown), icon, background, foreground)


def unopened_line(device: str, why: str, retry_every: float) -> str:
    """The one line said at start for a device that cannot be opened: which, why, and that it is retried."""
    return f"{device}: cannot be opened ({why}); retrying every {retry_every:g} s"


def open_failure(error: str | None) -> str | None:
    """Why a serial port cannot be opened, from its device's last error ("cannot open ...: [Errno 2] could not open
    port ...: [Errno 2] No such file or directory: '...'" is "no such file or directory"); None: not that."""
    if error is None or not error.startswith("cannot open"):
        return None
    numbers = re.findall(r"\[Errno (\d+)\]", error)
    if numbers:
        return os.strerror(int(numbers[-1])).lower()
    return error.split(": ", 1)[-1].strip()[:120] or "unknown error"
