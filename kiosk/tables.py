"""The check every section of the configuration file starts with, and the one shape of its errors.

Every bad setting is one line that names it, shows the value as it was written
(cut when long: a config file is not a place for a megabyte of text) and says
what is expected:

    [kiosk] mode = "buss": expected "door" or "bus"
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from kiosk.errors import ConfigError

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


def check_table(section: str, table: object, types: Mapping[str, tuple[type, ...]],
                within: str = "") -> Mapping[str, Any]:
    """`table` if it is a table of known settings of the right types; ConfigError naming the first that is not.

    A typo is an error, never silently a default; a TOML boolean is not taken for a number. `within`
    names an inline table inside the section (`compensation.`), for the messages.
    """
    if not isinstance(table, Mapping):
        if within:
            raise ConfigError(f"[{section}] {within[:-1]} = {shown(table)}: expected a table, {{ ... }}")
        raise ConfigError(f"{section} = {shown(table)}: expected a [{section}] table")
    if unknown := sorted(set(table) - set(types), key=str):
        raise ConfigError(f"[{section}] unknown setting(s): {names(within + str(k) for k in unknown)}; "
                          f"expected one of: {', '.join(within + k for k in types)}")
    for key, value in table.items():
        if not isinstance(value, types[key]) or (isinstance(value, bool) and bool not in types[key]):
            raise bad(section, within + key, value, type_words(types[key]))
    return table
