"""CBOR written byte by byte, and Hypothesis strategies for arbitrary CBOR items.

Hand-written on purpose: cbor2 would never produce a float map key, a bignum
label, a non-minimal head or an invalid simple value, and a test that asks the
library under test to build its own hostile input proves little (RFC 8949 is
the reference for every byte here).
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st


def head(major: int, arg: int, width: int | None = None) -> bytes:
    """A CBOR head: major type and argument, in the shortest form unless `width` (0, 1, 2, 4 or 8 bytes) says."""
    if width is None:
        width = 0 if arg < 24 else 1 if arg < 1 << 8 else 2 if arg < 1 << 16 else 4 if arg < 1 << 32 else 8
    if width == 0:
        return bytes([major << 5 | arg])
    info = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | info]) + arg.to_bytes(width, "big")


def uint(n: int) -> bytes:
    return head(0, n)


def nint(n: int) -> bytes:
    """The negative integer n (< 0)."""
    return head(1, -1 - n)


def integer(n: int) -> bytes:
    return uint(n) if n >= 0 else nint(n)


def bstr(data: bytes) -> bytes:
    return head(2, len(data)) + data


def tstr(text: str) -> bytes:
    data = text.encode("utf-8")
    return head(3, len(data)) + data


def array(*items: bytes) -> bytes:
    return head(4, len(items)) + b"".join(items)


def cmap(*pairs: tuple[bytes, bytes]) -> bytes:
    return head(5, len(pairs)) + b"".join(k + v for k, v in pairs)


def tag(number: int, item: bytes) -> bytes:
    return head(6, number) + item


def bignum(n: int) -> bytes:
    """Tag 2 (n >= 0) or 3 (n < 0) around the magnitude's bytes (RFC 8949 section 3.4.3)."""
    magnitude = n if n >= 0 else -1 - n
    return tag(2 if n >= 0 else 3, bstr(magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "big")))


def half(value: float) -> bytes:
    return b"\xf9" + struct.pack(">e", value)


TRUE, FALSE, NULL, UNDEFINED = b"\xf5", b"\xf4", b"\xf6", b"\xf7"


# -- strategies: each draws the encoded bytes of one item --------------------------------------------------------

_widths = st.sampled_from([None, 1, 2, 4, 8])


@st.composite
def _int_item(draw: st.DrawFn) -> bytes:
    major = draw(st.sampled_from([0, 1]))
    arg = draw(st.one_of(st.integers(0, 30), st.integers(0, 2**64 - 1),
                         st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 7, 23, 24, 255, 256])))
    width = draw(_widths)
    if width is not None and arg >= 1 << (8 * width):
        width = None
    return head(major, arg, width)


@st.composite
def _bignum_item(draw: st.DrawFn) -> bytes:
    magnitude = draw(st.one_of(st.binary(max_size=16), st.binary(min_size=1700, max_size=3072)))
    return tag(draw(st.sampled_from([2, 3])), bstr(magnitude))


_floats = st.one_of(
    st.floats(width=16).map(lambda f: b"\xf9" + struct.pack(">e", f)),
    st.floats(width=32).map(lambda f: b"\xfa" + struct.pack(">f", f)),
    st.floats().map(lambda f: b"\xfb" + struct.pack(">d", f)),
    st.sampled_from([half(1.0), half(4.0), half(-8.0), b"\xf9\x7e\x00", b"\xf9\x7c\x00"]),
)
_simple = st.one_of(st.integers(0, 23).map(lambda v: bytes([0xE0 | v])),
                    st.integers(0, 255).map(lambda v: bytes([0xF8, v])))
_strings = st.one_of(
    st.binary(max_size=40).map(bstr),
    st.text(max_size=20).map(tstr),
    st.binary(max_size=20).map(lambda b: head(3, len(b)) + b),  # text that may not be UTF-8
    st.lists(st.binary(max_size=8), max_size=3).map(lambda cs: b"\x5f" + b"".join(map(bstr, cs)) + b"\xff"),
)
# Tags the decoder knows (dates, bignums, decimal fractions, shared references, regex, sets, ...) and any other.
_tag_numbers = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 5, 18, 21, 24, 25, 28, 29, 30, 32, 35, 36, 37, 61, 256,
                                          258, 260, 261, 55799]),
                         st.integers(0, 2**64 - 1))
_leaves = st.one_of(_int_item(), _bignum_item(), _floats, _simple, _strings)


def _containers(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    lists = st.lists(children, max_size=4)
    pairs = st.lists(st.tuples(children, children), max_size=3)
    return st.one_of(
        lists.map(lambda xs: array(*xs)),
        lists.map(lambda xs: b"\x9f" + b"".join(xs) + b"\xff"),
        pairs.map(lambda ps: cmap(*ps)),
        pairs.map(lambda ps: b"\xbf" + b"".join(k + v for k, v in ps) + b"\xff"),
        st.tuples(_tag_numbers, children).map(lambda t: tag(*t)),
    )


def _deep(depth: int, kind: str) -> bytes:
    opener = {"array": b"\x81", "map": b"\xa1\x01", "tag": b"\xd8\x18"}[kind]
    return opener * depth + b"\x00"


deep_items = st.builds(_deep, st.integers(300, 5000), st.sampled_from(["array", "map", "tag"]))

# Any one CBOR item (and sometimes a truncated one or stray bytes: the decoder must cope with those too).
items = st.one_of(
    st.recursive(_leaves, _containers, max_leaves=12),
    deep_items,
    st.binary(max_size=12),
)


def read_simple(data: bytes) -> tuple[str, object] | None:
    """("int", n) for a lone CBOR integer, ("bytes"|"text", value) for a string; else None.

    The test's own reader, so the properties can say which values the spec accepts
    without asking the module under test. A string may be indefinite-length (RFC 8949
    3.2.3: definite chunks of its own type, then a break): it is still a bstr or tstr.
    """
    if not data:
        return None
    major, info = data[0] >> 5, data[0] & 0x1F
    if major in (2, 3) and info == 31:
        return _indefinite(data, major)
    if info < 24:
        arg, pos = info, 1
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        if len(data) < 1 + size:
            return None
        arg, pos = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
    else:
        return None
    if major in (0, 1):
        return ("int", arg if major == 0 else -1 - arg) if pos == len(data) else None
    if major in (2, 3) and pos + arg == len(data):
        raw = data[pos:]
        if major == 2:
            return "bytes", raw
        try:
            return "text", raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _indefinite(data: bytes, major: int) -> tuple[str, object] | None:
    """An indefinite-length string: its chunks (each a definite string of `major`) joined, if a break ends it."""
    pos, raw = 1, b""
    while pos < len(data) and data[pos] != 0xFF:
        head = data[pos]
        if head >> 5 != major or head & 0x1F > 27:
            return None
        info = head & 0x1F
        size = 0 if info < 24 else 1 << (info - 24)
        length = info if info < 24 else int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
        start = pos + 1 + size
        if start + length > len(data):
            return None
        chunk = data[start : start + length]
        if major == 3:
            try:
                chunk.decode("utf-8")  # each chunk is whole UTF-8 on its own (RFC 8949 3.2.3)
            except UnicodeDecodeError:
                return None
        raw, pos = raw + chunk, start + length
    if pos != len(data) - 1:  # no break, or something after it
        return None
    return ("bytes", raw) if major == 2 else ("text", raw.decode("utf-8"))
