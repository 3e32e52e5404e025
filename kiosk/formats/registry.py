"""The one registry of health-code formats: a text's prefix picks the format that checks it. Pure.

Every format shares the rest (kiosk/verdict.py: the temperature rules, the Verdict, its JSON; the audit log;
the screens). A third format (SMART Health Cards' `shc:/`, say) is one module with a Format (its prefix, its
checks: kiosk/formats/credential.py) and one line in FORMATS, plus words for any new reason (kiosk/terms.py).
"""

from __future__ import annotations

from kiosk.formats.credential import Checked, Credential, Format
from kiosk.formats.hc1_checks import HC1
from kiosk.formats.phc1 import PHC1

__all__ = ["FORMATS", "Checked", "Credential", "Format", "format_of"]

# No prefix may start another: a text belongs to one format at most (tests/test_formats_registry.py).
FORMATS: tuple[Format, ...] = (PHC1, HC1)


def format_of(text: object) -> Format | None:
    """The format whose prefix `text` starts with (case counts: "hc1:" is no code); None: not a health code."""
    if not isinstance(text, str):
        return None
    return next((found for found in FORMATS if text.startswith(found.prefix)), None)
