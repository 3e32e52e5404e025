"""The one check of a configuration file's section against its declaration, and the one shape of its errors.

Every bad setting is one line that names it, shows the value as it was written
(cut when long: a config file is not a place for a megabyte of text) and says
what is expected:

    [kiosk] mode = "buss": expected "door" or "bus"
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kiosk.errors import ConfigError

if TYPE_CHECKING:
    from kiosk.settings_model import Section, Setting

SHOWN = 60  # characters of a bad value shown in a message
TYPE_WORDS = {str: "text in quotes", int: "a whole number", float: "a number", bool: "true or false",
              list: "a list", dict: "a table"}


def cut(text: str, limit: int = SHOWN) -> str:
    """`text` on one line and at most about `limit` characters: the head, then how much was left out."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)  # a control character never breaks a line
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def shown(value: object) -> str:
    """A value as TOML writes it (strings in double quotes, true/false), cut when long."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # a TOML date or time
        text = str(value)
    return cut(text)


def names(keys: Iterable[object]) -> str:
    """Setting or section names for a message: each cut, and at most ten of them."""
    listed = [cut(str(k), 30) for k in keys]
    return ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")


def bad(section: str, key: str, value: object, expected: str) -> ConfigError:
    """The error for one bad setting: `[section] key = value: expected ...`."""
    return ConfigError(f"[{section}] {key} = {shown(value)}: expected {expected}")


def type_words(types: tuple[type, ...]) -> str:
    if set(types) == {int, float}:
        return "a number"
    return " or ".join(TYPE_WORDS.get(t, t.__name__) for t in types)


def is_of(value: object, types: tuple[type, ...]) -> bool:
    """`value` is one of `types`; a TOML boolean is not taken for a number."""
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def check_section(section: Section, table: object, *, settings: Mapping[str, Setting] | None = None,
                  within: str = "") -> dict[str, Any]:
    """Every setting of `section` from `table`, as kiosk/settings_table.py declares them: the table's value, else
    the declared default. ConfigError naming the first thing wrong, in this order: not a table, unknown settings
    (a typo is an error, never silently a default), a wrong type (in the file's order), a required setting
    missing, a value out of range or not among the choices (in the declared order).

    `settings` and `within` (`compensation.`) read an inline table inside the section, for the messages.
    """
    name, declared = section.name, section.settings if settings is None else settings
    if not isinstance(table, Mapping):
        if within:
            raise ConfigError(f"[{name}] {within[:-1]} = {shown(table)}: expected a table, {{ ... }}")
        raise ConfigError(f"{name} = {shown(table)}: expected a [{name}] table")
    if unknown := sorted(set(table) - set(declared), key=str):
        raise ConfigError(f"[{name}] unknown setting(s): {names(within + str(k) for k in unknown)}; "
                          f"expected one of: {', '.join(within + k for k in declared)}")
    for key, value in table.items():
        setting = declared[key]
        if not is_of(value, setting.types):
            own = section.own_words and setting.expected
            raise bad(name, within + key, value, setting.words() if own else type_words(setting.types))
    if any(setting.required and key not in table for key, setting in declared.items()):
        raise ConfigError(f"[{name}] {section.needs}")
    values: dict[str, Any] = {}
    for key, setting in declared.items():
        value = table.get(key, setting.default)
        if key in table and (problem := setting.problem(value)) is not None:
            raise bad(name, within + key, value, problem)
        if isinstance(value, (list, dict)):
            value = value.copy()  # a declared default is never handed out to be changed
        if setting.within:
            value = check_section(section, {} if value is None else value,
                                  settings={s.key: s for s in setting.within}, within=f"{within}{key}.")
        values[key] = value
    return values
