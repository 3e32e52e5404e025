"""COSE_Sign1 (RFC 9052) with EdDSA over Ed25519, as spec section 2 fixes it.

Used for health codes and for the trust files alike. Pure: bytes in, values out.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from nacl.bindings import crypto_sign_open
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey

from kiosk.cbor import is_int, is_map, labels, loads_one
from kiosk.errors import MalformedCode

ALG_EDDSA = -8
SIGN1_TAG = 18
KID_LENGTH = 8
SIGNATURE_LENGTH = 64


@dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1 whose shape is right; its signature is not yet checked."""

    protected: bytes
    payload: bytes
    signature: bytes
    kid: bytes


def kid_of(public_key: bytes) -> bytes:
    """The kid of an Ed25519 public key: the first 8 bytes of SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(public_key).digest()[:KID_LENGTH]


def decode_sign1(data: bytes) -> Sign1:
    """Decode COSE_Sign1 bytes, tagged 18 or untagged; raise MalformedCode on any deviation."""
    try:
        item = loads_one(data)
    except ValueError as err:
        raise MalformedCode(str(err)) from None
    protected, _, payload, signature = sign1_items(item)
    if len(signature) != SIGNATURE_LENGTH:
        raise MalformedCode("signature is not 64 bytes")
    return Sign1(protected, payload, signature, _kid_of_header(protected))


def sign1_items(item: object) -> tuple[bytes, Mapping[Any, Any], bytes, bytes]:
    """(protected, unprotected, payload, signature) of a decoded COSE_Sign1, tagged 18 or untagged (RFC 9052
    section 4.2); MalformedCode for any other shape. Every format's envelope is read here (PHC1, HC1)."""
    if isinstance(item, cbor2.CBORTag):
        if item.tag != SIGN1_TAG:
            raise MalformedCode(f"a CBOR tag other than {SIGN1_TAG} (COSE_Sign1)")  # never the code's own number
        item = item.value
    if not isinstance(item, (list, tuple)) or len(item) != 4:
        raise MalformedCode("not a COSE_Sign1 array of four items")
    protected, unprotected, payload, signature = item
    if type(protected) is not bytes:
        raise MalformedCode("protected header is not a byte string")
    if not is_map(unprotected):
        raise MalformedCode("unprotected header is not a map")
    if type(payload) is not bytes:
        raise MalformedCode("payload is not a byte string")
    if type(signature) is not bytes:
        raise MalformedCode("signature is not a byte string")
    return protected, unprotected, payload, signature


@functools.lru_cache(maxsize=256)
def _kid_of_header(protected: bytes) -> bytes:
    """The kid of a protected header, which must say alg EdDSA.

    Cached: an issuer writes the same header bytes into every code it signs,
    so a checkpoint sees a handful of distinct headers all day.
    """
    try:
        header = loads_one(protected)
    except ValueError as err:
        raise MalformedCode(f"protected header: {err}") from None
    if not is_map(header):
        raise MalformedCode("protected header is not a map")
    header = labels(header)  # labels are integers on the wire: {true: -8} or {1.0: -8} has no alg
    alg = header.get(1)
    if not is_int(alg) or alg != ALG_EDDSA:  # never format alg: it is untrusted and may be anything
        raise MalformedCode("alg (1) is missing or not -8 (EdDSA)")
    kid = header.get(4)
    if type(kid) is not bytes or len(kid) != KID_LENGTH:
        raise MalformedCode("kid in the protected header is not 8 bytes")
    return kid


def _bstr_head(length: int) -> bytes:
    if length < 24:
        return bytes((0x40 | length,))
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes((0x40 | info,)) + length.to_bytes(size, "big")
    raise ValueError("byte string too long for CBOR")


def to_be_signed(protected: bytes, payload: bytes) -> bytes:
    """The RFC 9052 Sig_structure ["Signature1", protected, h'', payload] as CBOR.

    Built by hand: it is on the hot path of every scan and its shape never varies.
    """
    return b"".join(
        (b"\x84\x6aSignature1", _bstr_head(len(protected)), protected, b"\x40",
         _bstr_head(len(payload)), payload)
    )


def verify(sign1: Sign1, public_key: bytes) -> bool:
    """True when the Ed25519 signature of `sign1` verifies under the 32-byte `public_key`."""
    # libsodium directly: VerifyKey.verify adds ~5 us of Python around the same call.
    try:
        crypto_sign_open(sign1.signature + to_be_signed(sign1.protected, sign1.payload), public_key)
    except (CryptoError, ValueError, TypeError):
        return False
    return True


def sign(payload: bytes, key: SigningKey) -> bytes:
    """COSE_Sign1 bytes (tagged 18) over `payload`, the kid taken from the key."""
    protected = cbor2.dumps({1: ALG_EDDSA, 4: kid_of(bytes(key.verify_key))})
    signature = key.sign(to_be_signed(protected, payload)).signature
    return cbor2.dumps(cbor2.CBORTag(SIGN1_TAG, [protected, {}, payload, signature]))
