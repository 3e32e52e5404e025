"""Strict CBOR decoding on top of cbor2: one item, nothing after it, no duplicate keys."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, TypeGuard

from cbor2 import CBORDecoder


def loads_one(data: bytes) -> object:
    """Decode exactly one CBOR item from `data`; raise ValueError otherwise.

    cbor2.loads ignores trailing bytes, which would let a flipped bit in a
    code's first byte turn the rest into unsigned garbage that still passes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError("not a byte string")
    stream = io.BytesIO(data)
    try:
        item = CBORDecoder(stream, allow_duplicate_keys=False).decode()
    except Exception as err:  # cbor2 raises several types on bad input; all mean the same here
        raise ValueError(f"bad CBOR: {err}") from None
    if stream.tell() != len(data):
        raise ValueError(f"{len(data) - stream.tell()} bytes after the CBOR item")
    return item


def is_map(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """True for a decoded CBOR map (cbor2 gives a frozendict for maps inside a tag)."""
    return type(value) is dict or isinstance(value, Mapping)  # the ABC check costs 1 us; most maps are dicts


def is_int(value: object) -> TypeGuard[int]:
    """True for a CBOR integer; Python's bool is an int, CBOR's true/false are not."""
    return type(value) is int


def is_uint(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 0
