"""A kiosk's name as people see it: shown beside its short device id, made safe to print, fitted to a column.

The rule (README "Sync: the collector"): a kiosk's name is its `[log] device`,
written into every event it logs and given to the collector once, when it is
enrolled (`kiosk device show` prints the enroll line with it). Wherever kiosks
are shown together (the collector's devices, faults, exports and reports) the
name is the one the collector enrolled, never the text a kiosk puts in its own
events, and it always comes with the short device id: "Gate 2 (3f2a9c1b)".
A name is text an operator typed: it is checked when it is enrolled, and made
printable again wherever it is shown (a name stored by an older version, or
written into the database by hand, may hold anything).
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 64  # characters: "Joy City, north gate, lane 2 (left)" is 35
SHORT_ID = 8  # hex digits of the device id shown beside a name: what a site manager reads and types
# "..." and not "…": an ellipsis is East Asian ambiguous, two columns wide in many Chinese terminals.
CUT = "..."
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format (bidi overrides), unassigned, line breaks


def short_id(device_id: str) -> str:
    return device_id[:SHORT_ID]


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a kiosk's name (None: it can): one line, at most MAX_NAME characters, printable."""
    if len(name) > MAX_NAME:
        return f"a kiosk's name is at most {MAX_NAME} characters, not {len(name)}"
    if name != name.strip():
        return "a kiosk's name does not start or end with spaces"
    bad = next((c for c in name if unicodedata.category(c) in _HIDDEN), None)
    if bad is not None:
        return f"a kiosk's name holds no control or invisible characters (U+{ord(bad):04X})"
    return None


def printable(name: str) -> str:
    """`name` safe for a terminal or a report: hidden characters become "?", at most MAX_NAME characters."""
    clean = "".join("?" if unicodedata.category(c) in _HIDDEN else c for c in name[:MAX_NAME + 1])
    return clean if len(clean) <= MAX_NAME else clean[:MAX_NAME - 3] + CUT


def label(name: str, device_id: str) -> str:
    """How a kiosk is named among others: "Gate 2 (3f2a9c1b)", or the short id alone when it has no name."""
    shown = printable(name)
    return f"{shown} ({short_id(device_id)})" if shown else short_id(device_id)


def char_width(c: str) -> int:
    """Terminal columns: East Asian wide and fullwidth characters take 2, combining marks none."""
    if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def width(text: str) -> int:
    return sum(char_width(c) for c in text)


def fit(text: str, columns: int) -> str:
    """`text` made printable, cut to `columns` display columns (ending in CUT when cut) and padded to them."""
    text = printable(text)
    if width(text) > columns:
        kept, used = [], 0
        for c in text:
            if used + char_width(c) > columns - len(CUT):
                break
            kept.append(c)
            used += char_width(c)
        text = "".join(kept) + CUT
    return text + " " * (columns - width(text))
