"""What a registration by hand may hold: a readable temperature, the site's fields; and when it is a fever. Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from kiosk.policy import Policy


def temperature_text(celsius: float) -> str:
    return f"{celsius:.1f} °C"


def temperature_problem(celsius: float | None, policy: Policy) -> tuple[str, str] | None:
    """(Chinese, English) words when `celsius` cannot be a body's temperature (365 typed for 36.5); else None."""
    if celsius is None:
        return None
    low, high = policy.plausible_min, policy.plausible_max
    if math.isfinite(celsius) and low <= celsius <= high:
        return None
    shown = temperature_text(celsius) if math.isfinite(celsius) else str(celsius)
    return (f"体温 {shown} 不合理：应在 {low:.1f}–{high:.1f} °C 之间，请再测一次",
            f"temperature {shown} is implausible: it must be {low:.1f}-{high:.1f} °C; measure again")


def is_fever(celsius: float | None, policy: Policy) -> bool:
    return celsius is not None and celsius >= policy.fever_threshold


def fever_words(celsius: float, policy: Policy) -> tuple[str, str]:
    shown, threshold = temperature_text(celsius), f"{policy.fever_threshold:.1f} °C"
    return (f"体温 {shown}：发热（≥ {threshold}），请到留观区复测",
            f"temperature {shown}: fever (at or above {threshold}), take them to the staff for a second reading")


def unknown_fields(keys: Iterable[str], allowed: Iterable[str]) -> str | None:
    """The refusal of fields the site does not record, or None."""
    known = tuple(allowed)
    unknown = sorted(set(keys) - set(known))
    if not unknown:
        return None
    return f"unknown field(s) {', '.join(unknown)}; this site records {', '.join(known) or 'no fields'}"


def cleaned(fields: Mapping[str, str]) -> dict[str, object]:
    """The fields as kept: trimmed, blank ones dropped."""
    return {key: value.strip() for key, value in fields.items() if value and value.strip()}
