"""Strict CBOR decoding on top of cbor2: one item, nothing after it, no duplicate keys.

Three rules close the gaps between "what cbor2 returns" and "what the bytes say"
(spec amendments, docs/health-code.md section 7):
- A tagged item stays a CBORTag: a bignum (tags 2 and 3) is never a Python int,
  so it can pass neither as an integer field nor as an integer map label.
- An integer fits a signed 64-bit integer (`is_int`), so no field the verifier
  reads can be too large to compare, store or format.
- A map label is an integer only if it was one on the wire: Python's dict makes
  `true`, `1.0` and `1` the same key, so `labels()` keeps only keys whose type is
  exactly int (a float or bool key is an unknown label).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, TypeGuard

from cbor2 import CBORDecoder, CBORTag

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_MESSAGE = 160  # characters of a decoder's own message kept: it may quote the hostile input


# Every tag cbor2 would turn into a Python value (dates, bignums, decimals, shared and string references,
# sets, the self-describe tag 55799, ...): kept as an opaque CBORTag instead, so that no tagged item can
# stand in for an integer, a text or a map the spec asks for, as it could for a decoder that unwraps it.
_NATIVE_TAGS = (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261, 1004, 55799)


def _opaque(number: int) -> Any:
    def decode(value: object, *_: object) -> CBORTag:
        return CBORTag(number, value)

    return decode


_SEMANTIC = {number: _opaque(number) for number in _NATIVE_TAGS}


def loads_one(data: bytes) -> object:
    """Decode exactly one CBOR item from `data`; raise ValueError otherwise.

    cbor2.loads ignores trailing bytes, which would let a flipped bit in a
    code's first byte turn the rest into unsigned garbage that still passes.
    Nesting is bounded by cbor2's max_depth (400), far below Python's recursion limit.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError("not a byte string")
    stream = io.BytesIO(data)
    try:
        item = CBORDecoder(stream, allow_duplicate_keys=False, semantic_decoders=_SEMANTIC).decode()
    except Exception as err:  # cbor2 raises several types on bad input; all mean the same here
        raise ValueError(f"bad CBOR: {bounded(err)}") from None
    if stream.tell() != len(data):
        raise ValueError(f"{len(data) - stream.tell()} bytes after the CBOR item")
    return item


def bounded(err: BaseException) -> str:
    """An exception's message cut to MAX_MESSAGE characters (str() of a huge int raises: never reached here)."""
    try:
        text = str(err)
    except Exception:  # a message that cannot even be formatted says only its type
        return type(err).__name__
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def is_map(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """True for a decoded CBOR map (cbor2 gives a frozendict for maps inside a tag)."""
    return type(value) is dict or isinstance(value, Mapping)  # the ABC check costs 1 us; most maps are dicts


def labels(value: Mapping[Any, Any]) -> dict[int, Any]:
    """The entries of a map whose key is an integer on the wire (major type 0 or 1), by that integer."""
    return {key: item for key, item in value.items() if type(key) is int}


def is_int(value: object) -> TypeGuard[int]:
    """True for a CBOR integer that fits 64 signed bits; Python's bool is an int, CBOR's true/false are not."""
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def is_uint(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= INT64_MAX
