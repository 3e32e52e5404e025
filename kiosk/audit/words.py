"""The log's events said in words, Chinese and English: exports, the day report and the admin screen's list. Pure.

The words are the project's terms (kiosk/terms.py), short as a site manager
reads them in a spreadsheet ("码已过期" / "code expired"); this module only
builds the sentences of events that are more than one term (a device's state,
a failed unlock, a purge, a correction).
"""

from __future__ import annotations

from collections.abc import Mapping

from kiosk.terms import ADMIN_ACTIONS, PERSON_FIELDS, Language, device_state, word, words

__all__ = ["Language", "event_words", "field_header"]


def field_header(key: str, language: Language) -> str:
    """A registration field's column header: known fields in words, any other by its key."""
    return word(PERSON_FIELDS, key, language)


def event_words(kind: str, details: Mapping[str, object]) -> tuple[str, str] | None:
    """What a device, admin, purge or correction event says, in words; None for other kinds."""
    if kind == "device":
        return device_state(details.get("device"), details.get("state"))
    if kind == "admin":
        action = str(details.get("action", ""))
        zh, en = words(ADMIN_ACTIONS, action)
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
