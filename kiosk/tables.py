"""The check every section of the configuration file starts with: a table, known keys, the right types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.errors import ConfigError


def check_table(section: str, table: object, types: Mapping[str, tuple[type, ...]]) -> Mapping[str, Any]:
    """`table` if it is a table of known settings of the right types; ConfigError naming the first that is not.

    A typo is an error, never silently a default; a TOML boolean is not taken for a number.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table")
    if unknown := sorted(set(table) - set(types)):
        raise ConfigError(f"[{section}] unknown setting(s): {', '.join(unknown)}; known: {', '.join(types)}")
    for key, value in table.items():
        if not isinstance(value, types[key]) or (isinstance(value, bool) and bool not in types[key]):
            raise ConfigError(f"[{section}] {key} has the wrong type: {value!r}")
    return table
