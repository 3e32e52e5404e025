"""Base45 (RFC 9285), strict.

Hand-written rather than the `base45` package: decoding a 170-byte code here
takes 11.5 us against the package's 39 us, a third of the whole verify budget.
"""

from __future__ import annotations

import struct

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# Each ASCII character to its value, and every character outside the alphabet to 255.
_TO_VALUES = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else 255 for c in range(256))


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(ALPHABET[c] + ALPHABET[d] + ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(ALPHABET[c] + ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raises ValueError on any character, length or value RFC 9285 forbids."""
    try:
        raw = text.encode("ascii").translate(_TO_VALUES)
    except UnicodeEncodeError:
        raw = b"\xff"
    if 255 in raw:
        raise ValueError("a character outside the Base45 alphabet")
    tail = len(raw) % 3
    if tail == 1:
        raise ValueError("a Base45 length of 3n+1 characters")
    full = len(raw) - tail
    # Columns of the 3-character groups, combined at C speed by zip.
    values = [c + d * 45 + e * 2025 for c, d, e in zip(raw[0:full:3], raw[1:full:3], raw[2:full:3])]
    try:
        out = struct.pack(f">{len(values)}H", *values)
    except struct.error:
        raise ValueError("a Base45 group above 65535") from None
    if tail:
        last = raw[-2] + raw[-1] * 45
        if last > 0xFF:
            raise ValueError("a Base45 final pair above 255")
        out += bytes((last,))
    return out
