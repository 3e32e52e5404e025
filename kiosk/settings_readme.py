"""The README's settings table, made from kiosk/settings_table.py: `python -m kiosk.settings_readme`.

tests/test_owner_settings.py fails when the table between the README's two
markers (BEGIN, END) is not what this prints, so the README cannot drift from
the settings the parsers apply.
"""

from __future__ import annotations

import json
import sys

from kiosk.settings_model import Section, Setting
from kiosk.settings_table import SECTIONS

BEGIN = "<!-- settings table: made by `python -m kiosk.settings_readme`; tests/test_owner_settings.py checks it -->"
END = "<!-- end of the settings table -->"
TYPES = {str: "text", int: "whole number", float: "number", bool: "true or false", list: "list of text",
         dict: "table"}


def number(value: float) -> str:
    """120.0 as 120; 0.1 as 0.1."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else str(value)


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number(value)
    return json.dumps(value, ensure_ascii=False)  # text, a list, a table: as TOML writes them


def type_text(setting: Setting) -> str:
    if set(setting.types) == {int, float}:
        return "number"
    return " or ".join(TYPES[t] for t in setting.types)


def default_text(setting: Setting) -> str:
    if setting.required:
        return "required"
    if setting.default_text or setting.default is None:
        return setting.default_text or "none"
    text = f"`{toml(setting.default)}`"
    return text + (f" (bus: `{toml(setting.bus_default)}`)" if setting.bus_default is not None else "")


def range_text(setting: Setting) -> str:
    if setting.choices:
        return " or ".join(f'`"{option}"`' for option in setting.options())
    if setting.nonempty:
        return "not empty"
    low, high = setting.low, setting.top()
    ends = []
    if low is not None:
        ends.append(f"above {number(low)}" if setting.above else f"{number(low)} or more")
    if high is not None:
        ends.append(f"below {number(high)}" if setting.below else f"at most {number(high)}")
    if low is not None and high is not None and not (setting.above or setting.below):
        ends = [f"{number(low)} to {number(high)}"]
    words = " and ".join(ends) or ("any" if setting.expected else "")
    if words and str in setting.types:
        words = f"text, or a number {words}"
    admin = setting.admin
    if admin is not None and admin.step is not None:
        words += (f"; on the admin screen {admin.shown(admin.low)} to {admin.shown(admin.high)} {admin.unit}, "
                  f"in steps of {number(admin.step)}")
    elif admin is not None:
        words += "on the admin screen too"
    return words


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def rows(section: Section) -> list[str]:
    lines = [row(f"**`[{section.name}]`**", "", f"absent: {section.absent}" if section.absent else "", "",
                 section.about)]
    for setting in section.settings.values():
        lines.append(row(f"`{setting.key}`", type_text(setting), default_text(setting), range_text(setting),
                         setting.about))
        lines += [row(f"`{setting.key}.{inner.key}`", type_text(inner), default_text(inner), range_text(inner),
                      inner.about) for inner in setting.within]
    return lines


def markdown() -> str:
    """The table, between its markers, as the README holds it."""
    lines = [BEGIN, "", "| setting | type | default | allowed | what it is |", "|---|---|---|---|---|"]
    for section in SECTIONS.values():
        lines += rows(section)
    return "\n".join([*lines, "", END]) + "\n"


def in_readme(text: str) -> str | None:
    """The table as a README holds it (markers included); None: it holds none."""
    start, end = text.find(BEGIN), text.find(END)
    return text[start:end + len(END)] + "\n" if 0 <= start < end else None


if __name__ == "__main__":  # pragma: no cover - the test calls markdown()
    sys.stdout.write(markdown())
