"""The CWT claims of an HC1 code and the EU DCC inside them (claim -260 -> 1); pure.

    claims: 1 issuing country (text, optional), 4 exp, 6 iat, -260 {1: the DCC, a map with text keys}
    the DCC: exactly one of v (vaccination), t (test), r (recovery), holding exactly one entry

Only what the verdict reads is checked beyond the shape: the fields the content rules need are present and every
field the DCC schema types is of that type. Messages never quote the code: it is untrusted and may be anything.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass

from kiosk.cbor import is_int, is_map, is_uint, labels, loads_one
from kiosk.errors import MalformedCode

CERTIFICATES = {"v": "vaccination", "t": "test", "r": "recovery"}
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT, HCERT_DCC = 1, 4, 6, -260, 1
MAX_ISS = 64  # characters of claim 1 (an ISO 3166 code: 2)

# The fields of an entry the verdict reads, which must be present, by certificate key (DCC schema 1.3).
REQUIRED = {"v": ("dn", "sd", "dt"), "t": ("tt", "sc", "tr"), "r": ("fr", "df", "du")}
# Every field the DCC schema defines as an integer (dose numbers); every other known field is text.
INTEGER_FIELDS = frozenset({"dn", "sd"})
TEXT_FIELDS = frozenset({"tg", "vp", "mp", "ma", "dt", "co", "is", "ci", "tt", "nm", "sc", "dr", "tr", "tc",
                         "fr", "df", "du"})


@dataclass(frozen=True)
class Dcc:
    """The claims of a DCC; a value, with no say on whether it is genuine."""

    iss: str | None  # claim 1, the issuing country (ISO 3166 alpha-2), optional in the CWT
    iat: int  # claim 6
    exp: int  # claim 4
    certificate: str  # "vaccination" | "test" | "recovery": exactly one of v/t/r, with exactly one entry
    entry: Mapping[str, object]  # that one entry, read-only (known fields type-checked, see TEXT_FIELDS)
    family: str | None  # nam.fn (native script), else None
    family_latin: str | None  # nam.fnt
    given: str | None  # nam.gn
    dob: str | None  # never stored; the screen may need its year
    uvci: str | None  # the entry's `ci`


def parse_claims(payload: bytes) -> Dcc:
    """Read the CWT claims and the DCC in claim -260; raise MalformedCode for a missing or ill-typed field."""
    try:
        claims = loads_one(payload)
    except ValueError:
        raise MalformedCode("CWT: the payload is not one well-formed CBOR item") from None
    if not is_map(claims):
        raise MalformedCode("CWT: the payload is not a map")
    claims = labels(claims)  # a claim under a non-integer key (1.0, true, a bignum) is an unknown label
    iss, exp, iat = claims.get(CLAIM_ISS), claims.get(CLAIM_EXP), claims.get(CLAIM_IAT)
    if CLAIM_ISS in claims and (type(iss) is not str or not 0 < len(iss) <= MAX_ISS):
        raise MalformedCode(f"CWT: iss (1) is not text of 1 to {MAX_ISS} characters")
    if not is_int(exp):
        raise MalformedCode("CWT: exp (4) is missing or not an integer")
    if not is_int(iat):
        raise MalformedCode("CWT: iat (6) is missing or not an integer")
    hcert = claims.get(CLAIM_HCERT)
    if not is_map(hcert):
        raise MalformedCode("CWT: hcert (-260) is missing or not a map")
    dcc = labels(hcert).get(HCERT_DCC)
    if not is_map(dcc):
        raise MalformedCode("CWT: hcert (-260) has no DCC map under 1")
    return _dcc(_text_keyed(dcc), iss, exp, iat)


def _dcc(dcc: Mapping[str, object], iss: str | None, exp: int, iat: int) -> Dcc:
    present = [key for key in CERTIFICATES if key in dcc]
    if len(present) != 1:
        raise MalformedCode("DCC: not exactly one of v (vaccination), t (test), r (recovery)")
    key = present[0]
    entries = dcc[key]
    if not isinstance(entries, (list, tuple)) or len(entries) != 1 or not is_map(entries[0]):
        raise MalformedCode(f"DCC: {key} does not hold exactly one entry")
    entry = _entry(key, _text_keyed(entries[0]))
    nam = dcc.get("nam", {})
    if not is_map(nam):
        raise MalformedCode("DCC: nam is not a map")
    names = _text_keyed(nam)
    family, family_latin, given = (_optional_text(names, field, "nam.") for field in ("fn", "fnt", "gn"))
    dob = _optional_text(dcc, "dob", "")
    uvci = entry.get("ci")
    return Dcc(iss, iat, exp, CERTIFICATES[key], types.MappingProxyType(entry), family, family_latin, given,
               dob, uvci if isinstance(uvci, str) and uvci else None)


def _entry(key: str, entry: dict[str, object]) -> dict[str, object]:
    for field in REQUIRED[key]:
        if field not in entry:
            raise MalformedCode(f"DCC: the {CERTIFICATES[key]} entry has no {field}")
    for field, value in entry.items():
        if field in INTEGER_FIELDS and not is_uint(value):
            raise MalformedCode(f"DCC: {key}.{field} is not a non-negative integer")
        if field in TEXT_FIELDS and type(value) is not str:
            raise MalformedCode(f"DCC: {key}.{field} is not text")
    return entry


def _text_keyed(value: Mapping[object, object]) -> dict[str, object]:
    """The entries of a map whose key is text on the wire (the DCC's own maps use text keys)."""
    return {key: item for key, item in value.items() if type(key) is str}


def _optional_text(value: Mapping[str, object], field: str, where: str) -> str | None:
    """A text field, or None when it is absent or empty; any other type is malformed."""
    text = value.get(field)
    if text is not None and type(text) is not str:
        raise MalformedCode(f"DCC: {where}{field} is not text")
    return text or None
