"""The status list payload and its lookup index (spec section 4).

A city-wide list holds a million entries, so it is read in two ways that give
the same index (a property test holds them to it):
- a fast path for the layout every encoder writes (definite lengths, each entry
  `83 50 <16 bytes> <status 0..2> <uint since of one width>`), which checks and
  slices the entries column by column at C speed: 1,000,000 entries in ~0.4 s;
- the general path, cbor2 over the whole payload, for anything else.
The index is a dict subject -> since * 4 + status, one int per entry, about
130 MB for a million entries; a list of per-entry objects would be twice that.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cbor2 import CBORDecoder

from kiosk.cbor import is_int, is_map, is_uint, loads_one

SUBJECT_LENGTH = 16
# Width of the since field by its CBOR head byte (unsigned integers only).
_UINT_WIDTH = {0x18: 2, 0x19: 3, 0x1A: 5, 0x1B: 9}


@dataclass(frozen=True)
class StatusList:
    seq: int
    iat: int
    iss: str
    index: dict[bytes, int]

    def lookup(self, subject: bytes) -> tuple[int, int] | None:
        """(status, since) of the newest entry for `subject`, or None."""
        packed = self.index.get(subject)
        if packed is None:
            return None
        return packed & 3, packed >> 2

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def from_payload(cls, payload: bytes) -> StatusList:
        """Read a status list payload; raise ValueError when it breaks the spec."""
        fields = _read_fast(payload)
        if fields is None:
            body = loads_one(payload)
            if not is_map(body):
                raise ValueError("not a map")
            entries = body.get("entries")
            if not isinstance(entries, (list, tuple)):
                raise ValueError("entries is missing or not an array")
            fields = {str(k): v for k, v in body.items()}
            fields["entries"] = build_index(entries)
        if fields.get("type") == "trust":
            raise ValueError('a trust bundle ("type": "trust") not signed by a pinned root')
        if fields.get("type") != "status":
            raise ValueError('"type" is not "status"')
        seq, iat, iss = fields.get("seq"), fields.get("iat"), fields.get("iss")
        if not is_uint(seq) or not is_int(iat) or type(iss) is not str:
            raise ValueError("seq (unsigned), iat (integer) or iss (text) is missing or ill-typed")
        if "entries" not in fields:  # the fast path reads a map without one: a ValueError, not a KeyError
            raise ValueError("entries is missing or not an array")
        return cls(seq, iat, iss, fields["entries"])  # type: ignore[arg-type]


def build_index(entries: Iterable[object]) -> dict[bytes, int]:
    """The general path: check each [subject, status, since] and keep the newest per subject."""
    index: dict[bytes, int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, (list, tuple)) or len(entry) != 3:
            raise ValueError(f"entries[{i}] is not [subject, status, since]")
        subject, status, since = entry
        if type(subject) is not bytes or len(subject) != SUBJECT_LENGTH:
            raise ValueError(f"entries[{i}] subject is not 16 bytes")
        if not is_uint(status) or status > 2:
            raise ValueError(f"entries[{i}] status is not 0, 1 or 2")
        if not is_int(since):
            raise ValueError(f"entries[{i}] since is not an integer")
        _keep_newest(index, subject, since * 4 + status)
    return index


def _keep_newest(index: dict[bytes, int], subject: bytes, packed: int) -> None:
    # Equal `since`: the later entry in the list wins.
    old = index.get(subject)
    if old is None or packed >> 2 >= old >> 2:
        index[subject] = packed


def _head(buf: bytes, pos: int) -> tuple[int, int | None, int]:
    """(major type, argument or None if indefinite, next position) of a CBOR head."""
    first = buf[pos]
    major, info = first >> 5, first & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info == 31:
        return major, None, pos + 1
    size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
    if size is None or pos + 1 + size > len(buf):
        raise ValueError("bad CBOR head")
    return major, int.from_bytes(buf[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _read_fast(payload: bytes) -> dict[str, object] | None:
    """The top-level map with "entries" already indexed, or None to take the general path."""
    try:
        major, count, pos = _head(payload, 0)
        if major != 5 or count is None:
            return None
        stream = io.BytesIO(payload)
        decoder = CBORDecoder(stream, allow_duplicate_keys=False)
        fields: dict[str, object] = {}
        for _ in range(count):
            stream.seek(pos)
            key = decoder.decode()
            pos = stream.tell()
            if type(key) is not str or key in fields:
                return None
            if key == "entries":
                found = _entries_fast(payload, pos)
                if found is None:
                    return None
                fields[key], pos = found
            else:
                fields[key] = decoder.decode()
                pos = stream.tell()
    except Exception:  # anything odd: the general path decides, with a proper message
        return None
    return fields if pos == len(payload) else None


def _entries_fast(buf: bytes, pos: int) -> tuple[dict[bytes, int], int] | None:
    major, count, pos = _head(buf, pos)
    if major != 4 or count is None:
        return None
    if count == 0:
        return {}, pos
    if pos + 20 > len(buf):
        return None
    since_head = buf[pos + 19]
    width = 19 + (1 if since_head < 24 else _UINT_WIDTH.get(since_head, 0))
    end = pos + count * width
    if width == 19 or end > len(buf):
        return None

    def column(offset: int) -> bytes:
        return buf[pos + offset : end : width]

    if column(0) != b"\x83" * count or column(1) != b"\x50" * count or max(column(18)) > 2:
        return None
    status = column(18)
    if since_head < 24:
        if max(column(19)) >= 24:
            return None
    # A since past 64 signed bits (8-byte head, top bit set) goes to the general path, which refuses it.
    elif column(19) != bytes((since_head,)) * count or (since_head == 0x1B and max(column(20)) >= 0x80):
        return None

    # Generators, not lists: a million-entry list of each would add 16 MB to the peak.
    def packed() -> Iterator[int]:
        if since_head < 24:
            return (since * 4 + st for since, st in zip(column(19), status))
        return (int.from_bytes(buf[i + 20 : i + width], "big") * 4 + st
                for i, st in zip(range(pos, end, width), status))

    def subjects() -> Iterator[bytes]:
        return (buf[i + 2 : i + 18] for i in range(pos, end, width))

    index = dict(zip(subjects(), packed()))
    if len(index) != count:  # a subject listed twice: the newest entry must win, not the last
        index = {}
        for subject, value in zip(subjects(), packed()):
            _keep_newest(index, subject, value)
    return index, end
