"""Single-bit flips of the member states' valid vectors: every one is caught, in process through decide_strict.

A valid vector here has every EXPECTEDRESULTS step true (tests/data/dgc-testdata). Its COSE bytes are flipped one
bit at a time, compressed again and Base45-encoded again, and its QR text is flipped one bit at a time; each
result goes through kiosk.verdict.decide_strict with the vector's DSC trusted, at the vector's clock. The
signature covers the protected header and the payload and the decoder owns the envelope, so a flip must be caught
there: `malformed`, `not_health_code`, `unknown_key` or `bad_signature`, never a pass and never a later reason.
Two flips change nothing signed and may keep the vector's own verdict: one in the unprotected header, which
nobody signs (the catalogue's CO21 carries a wrong kid there that the protected kid overrides), and one of the
text that still inflates to the very same COSE (zlib ignores the padding bits after its last block).

Every bit of every valid vector is 1.5 million decisions (600,000 COSE bits, 900,000 text bits), too many for
every test run. So: every bit of the COSE and of the text of the shortest vector of each kind of envelope
(tags, the labels in each header, signature size: EVERY_BIT, 7 vectors); every bit of the envelope (all but the
payload's and the signature's contents) of every valid vector, the headers once for each distinct pair of
headers; and 32 seeded flips of the payload and signature contents and 32 of the text of every valid vector.
DCC_BITFLIPS=all flips every bit of every valid vector (a long run by hand).
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import zlib
from collections.abc import Iterator, Sequence
from functools import cache

import cbor2
import pytest
from nacl.signing import SigningKey

from kiosk import cose
from kiosk.base45 import b45decode, b45encode
from kiosk.issuer import sign_bundle
from kiosk.policy import Policy
from kiosk.trust import TrustStore, parse_bundle
from kiosk.verdict import decide_strict
from tests.test_dcc_conformance import VECTORS, Vector, cose_of, epoch

pytestmark = pytest.mark.slow

CAUGHT = frozenset({"malformed", "not_health_code", "unknown_key", "bad_signature"})
VALID = [v for v in VECTORS if v.expected and all(v.expected.values()) and v.expected.get("VERIFY")]
EVERYTHING = os.environ.get("DCC_BITFLIPS") == "all"
SAMPLED = 32
ROOT = SigningKey(hashlib.sha256(b"dcc-bitflips root").digest())


@cache
def store_of(dsc: bytes) -> TrustStore:
    """A trust store whose bundle holds this DSC alone."""
    root = bytes(ROOT.verify_key)
    return TrustStore(parse_bundle(sign_bundle(ROOT, seq=1, iat=0, keys=[], dscs=[dsc]), {cose.kid_of(root): root}))


def reason(vector: Vector, text: str) -> str:
    return decide_strict(text, store_of(vector.dsc), Policy(), None, epoch(vector.clock)).reason


def layout(data: bytes) -> tuple[range, range, range, range]:
    """Where, in a COSE_Sign1, its headers, the unprotected header, the payload's and the signature's contents lie.

    The test's own walk (cbor2 reads one item at a time), not the decoder under test.
    """
    stream = io.BytesIO(data)
    while data[stream.tell()] >> 5 == 6:  # tag 61, tag 18: heads of 1 + 0/1/2/4/8 bytes
        stream.seek(stream.tell() + 1 + {24: 1, 25: 2, 26: 4, 27: 8}.get(data[stream.tell()] & 0x1F, 0))
    stream.seek(stream.tell() + 1)  # the array head
    headers = stream.tell()
    cbor2.CBORDecoder(stream).decode()  # protected
    start = stream.tell()
    cbor2.CBORDecoder(stream).decode()  # unprotected
    unprotected = range(start, stream.tell())
    contents = []
    for _ in range(2):  # the payload, then the signature
        size = len(cbor2.CBORDecoder(stream).decode())
        contents.append(range(stream.tell() - size, stream.tell()))
    return range(headers, unprotected.stop), unprotected, contents[0], contents[1]


def kind_of(vector: Vector) -> tuple[object, ...]:
    """Its tags, the labels in each header and the signature's size."""
    data = cose_of(vector)
    signature = layout(data)[3]
    item = cbor2.loads(data)
    tags = []
    while isinstance(item, cbor2.CBORTag):
        tags.append(item.tag)
        item = item.value
    header = cbor2.loads(item[0]) if item[0] else {}
    return tuple(tags), tuple(sorted(header)), tuple(sorted(item[1])), len(signature)


KINDS = {vector.name: kind_of(vector) for vector in VALID}
# Every bit of the shortest valid vector of each kind of envelope.
EVERY_BIT = {min((v for v in VALID if KINDS[v.name] == kind), key=lambda v: len(v.text)).name
             for kind in set(KINDS.values())}


def header_owners() -> set[str]:
    """One vector for each distinct pair of headers, whose header bits are all flipped (the EVERY_BIT ones first).

    The same header bytes flipped again over another payload prove nothing new, at a signature check a flip.
    """
    owners: dict[bytes, str] = {}
    for vector in sorted(VALID, key=lambda v: v.name not in EVERY_BIT):
        data = cose_of(vector)
        headers = layout(data)[0]
        owners.setdefault(data[headers.start : headers.stop], vector.name)
    return set(owners.values())


HEADER_BITS = header_owners()


def cose_flips(vector: Vector) -> Iterator[tuple[int, bytes]]:
    """(byte, the COSE with one bit of it flipped), for the bits the module's docstring says."""
    data = cose_of(vector)
    headers, _, payload, signature = layout(data)
    if EVERYTHING or vector.name in EVERY_BIT:
        bits = [(at, bit) for at in range(len(data)) for bit in range(8)]
    else:
        inside = [*payload, *signature]
        skip = set(inside) if vector.name in HEADER_BITS else set(inside) | set(headers)
        pick = random.Random(vector.name)  # the same flips on every run
        bits = [(at, bit) for at in range(len(data)) if at not in skip for bit in range(8)]
        bits += [(pick.choice(inside), pick.randrange(8)) for _ in range(SAMPLED)]
    for at, bit in bits:
        flipped = bytearray(data)
        flipped[at] ^= 1 << bit
        yield at, bytes(flipped)


def text_flips(vector: Vector) -> Iterator[tuple[int, str]]:
    """(character, the text with one bit of it flipped), for the bits the module's docstring says."""
    text = vector.text
    spots: Sequence[int] = range(len(text) * 8)
    if not (EVERYTHING or vector.name in EVERY_BIT):
        spots = random.Random(vector.name).sample(spots, SAMPLED)
    for spot in spots:
        at, bit = divmod(spot, 8)
        yield at, text[:at] + chr(ord(text[at]) ^ (1 << bit)) + text[at + 1 :]


def inflates_to(text: str, data: bytes) -> bool:
    """Whether a flipped text still reads to the very same COSE bytes: zlib ignores the padding bits after the last
    compressed block, so a flip there (in the fifth byte from the end) changes nothing that was signed."""
    try:
        return zlib.decompress(b45decode(text.removeprefix("HC1:"))) == data
    except (ValueError, zlib.error):
        return False


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.name)
def test_every_flip_is_caught(vector: Vector) -> None:
    own = reason(vector, vector.text)
    assert own not in CAUGHT, f"the vector itself is {own}: nothing to flip"  # the harness works
    _, unprotected, _, _ = layout(cose_of(vector))
    missed = []
    for at, flipped in cose_flips(vector):
        got = reason(vector, "HC1:" + b45encode(zlib.compress(flipped)))
        if got not in CAUGHT and not (at in unprotected and got == own):
            missed.append(f"COSE byte {at}: {got}")
    for at, text in text_flips(vector):
        got = reason(vector, text)
        if got not in CAUGHT and not (got == own and inflates_to(text, cose_of(vector))):
            missed.append(f"text character {at}: {got}")
    assert not missed, f"{len(missed)} flips not caught: {missed[:20]}"


def test_the_valid_vectors_and_their_kinds() -> None:
    # Guards the harness: 200 valid vectors in 7 kinds of envelope (ES256 with the kid protected, unprotected,
    # both, or neither; inside the CWT tag 61; PS256 with 2048- and 3072-bit keys).
    assert len(VALID) == 200
    assert len(EVERY_BIT) == 7, sorted(EVERY_BIT)
