"""Reading what people send to the pages of part E: every value bounded and checked, each problem one line.

The guard (kiosk/console/security.py) has read and capped the POST and checked its CSRF token before a handler
runs; what is left is each field's own rule. A ValueError's message is shown to the person (400), so it names
the field and says what is expected, never echoing more than a few characters of what was sent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from kiosk.console.security import client_address

_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format (bidi overrides), unassigned, line breaks


def field(request: Request, name: str, limit: int, *, required: bool = False, label: str | None = None,
          lines: bool = False) -> str:
    """A text field of the POSTed form, stripped; ValueError when it is longer than `limit` or hides characters
    (control, format; line breaks and tabs too unless `lines`: a pasted block), or is missing when `required`."""
    return checked(request.state.form, name, limit, required=required, label=label, lines=lines)


def query(request: Request, name: str, limit: int, *, label: str | None = None) -> str:
    """The same rules for a value of the URL's query."""
    return checked(request.query_params, name, limit, label=label)


def checked(values: Mapping[str, Any], name: str, limit: int, *, required: bool = False,
            label: str | None = None, lines: bool = False) -> str:
    value = values.get(name)
    text = value.strip() if isinstance(value, str) else ""
    said = label or name
    if len(text) > limit:
        raise ValueError(f"{said}: at most {limit} characters, not {len(text)}")
    if any(unicodedata.category(c) in _HIDDEN and not (lines and c in "\r\n\t") for c in text):
        raise ValueError(f"{said}: no control or invisible characters")
    if required and not text:
        raise ValueError(f"{said}: required")
    return text


def raw(request: Request, name: str, limit: int) -> str:
    """A field as typed (a password: kept whole, spaces and all); ValueError when longer than `limit`."""
    value = request.state.form.get(name)
    text = value if isinstance(value, str) else ""
    if len(text) > limit:
        raise ValueError(f"{name}: at most {limit} characters")
    return text


def actor(request: Request) -> tuple[str, str, float]:
    """(the signed-in account's name, the client's address, now): who did it, for the console's trail."""
    return request.state.account.name, client_address(request), request.state.now
