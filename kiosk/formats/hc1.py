"""The EU Digital COVID Certificate (`HC1:`): QR text -> zlib -> COSE_Sign1 -> CWT claims -> the DCC; pure.

    HC1:<Base45 of zlib(COSE_Sign1)>   COSE_Sign1 tagged 18, untagged, or tag 61 (CWT) around tag 18
    claims and the DCC: kiosk/formats/hc1_claims.py (Dcc, CERTIFICATES and parse_claims are re-exported here)

Every size an attacker controls is bounded before it is used: the text (a QR holds at most 4,296
alphanumeric characters), the inflated bytes (a zip bomb stops at MAX_INFLATED), CBOR depth (kiosk/cbor.py),
the kid and the signature. Messages never quote the code: it is untrusted and may be anything.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from cbor2 import CBORTag
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kiosk.base45 import b45decode
from kiosk.cbor import is_int, is_map, labels, loads_one
from kiosk.cose import SIGN1_TAG, sign1_items, to_be_signed
from kiosk.errors import MalformedCode
from kiosk.formats.hc1_claims import CERTIFICATES, Dcc, parse_claims

__all__ = ["ALG_ES256", "ALG_PS256", "CERTIFICATES", "PREFIX", "Dcc", "ScannedDcc", "decode_text", "inflate",
           "parse_claims", "verify"]

PREFIX = "HC1:"
ALG_ES256, ALG_PS256 = -7, -37
CWT_TAG = 61

MAX_TEXT = 4296  # characters: a version 40 QR code in alphanumeric mode holds no more
MAX_INFLATED = 64 * 1024  # bytes out of zlib; real DCCs inflate to under 1 KiB
MAX_KID = 64  # bytes; DCC kids are 8, the catalogue's CO21-CO23 also use 3
ES256_SIGNATURE = 64  # r || s, 32 bytes each
PS256_SIGNATURE = range(256, 513)  # RSA 2048 to 4096 bits, the sizes the DCC specification allows

_SHA256 = hashes.SHA256()
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
_PSS_SHA256 = padding.PSS(padding.MGF1(_SHA256), salt_length=32)  # RFC 8230: the salt is as long as the hash

HEADER_ALG, HEADER_CRIT, HEADER_KID = 1, 2, 4


@dataclass(frozen=True)
class ScannedDcc:
    """A well-formed HC1 code as scanned: what the signature covers, the header's choices, and the claims."""

    protected: bytes  # the protected header bstr as sent (for the Sig_structure)
    payload: bytes
    signature: bytes
    alg: int  # ALG_ES256 or ALG_PS256
    kid: bytes | None  # the protected header's kid, else the unprotected one's, else None
    dcc: Dcc


def decode_text(text: str) -> ScannedDcc:
    """Decode `HC1:<base45>` text down to the DCC; raise MalformedCode (one line) on any fault."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise MalformedCode("an HC1 code starts with HC1:")
    if len(text) > MAX_TEXT:
        raise MalformedCode(f"an HC1 code is longer than {MAX_TEXT} characters")
    try:
        compressed = b45decode(text[len(PREFIX):])
    except ValueError as err:  # b45decode's messages name the fault, never the text
        raise MalformedCode(f"Base45: {err}") from None
    protected, unprotected, payload, signature = _sign1(inflate(compressed))
    alg, kid = _header(protected, unprotected)
    if alg == ALG_ES256 and len(signature) != ES256_SIGNATURE:
        raise MalformedCode("an ES256 signature is not 64 bytes")
    if alg == ALG_PS256 and len(signature) not in PS256_SIGNATURE:
        raise MalformedCode("a PS256 signature is not 256 to 512 bytes")
    return ScannedDcc(protected, payload, signature, alg, kid, parse_claims(payload))


def inflate(data: bytes) -> bytes:
    """The zlib stream `data` inflated: whole, checksum right, nothing after it, at most MAX_INFLATED bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED)
    except zlib.error:  # a missing zlib header (an uncompressed code), a bad block, a wrong checksum, ...
        raise MalformedCode("zlib: not a zlib stream (compression absent or broken)") from None
    if inflater.unconsumed_tail or (not inflater.eof and len(out) >= MAX_INFLATED):
        raise MalformedCode(f"zlib: the code inflates to more than {MAX_INFLATED} bytes")
    if not inflater.eof:
        raise MalformedCode("zlib: the compressed stream is cut short")
    if inflater.unused_data:
        raise MalformedCode("zlib: bytes after the compressed stream")
    return out


def _sign1(raw: bytes) -> tuple[bytes, Mapping[object, object], bytes, bytes]:
    try:
        item = loads_one(raw)
    except ValueError:  # cbor2's message may quote the bytes
        raise MalformedCode("COSE: not one well-formed CBOR item") from None
    if isinstance(item, CBORTag) and item.tag == CWT_TAG:
        item = item.value
        if not isinstance(item, CBORTag) or item.tag != SIGN1_TAG:
            raise MalformedCode("COSE: the CWT tag 61 does not hold a COSE_Sign1 tag 18")
    try:
        return sign1_items(item)  # the envelope's shape, as PHC1's (kiosk/cose.py owns it)
    except MalformedCode as err:
        raise MalformedCode(f"COSE: {err}") from None


def _header(protected: bytes, unprotected: Mapping[object, object]) -> tuple[int, bytes | None]:
    """alg and kid: each from the protected header, else from the unprotected one.

    The catalogue's CO18-CO23: a protected kid wins over an unprotected one, right or wrong (CO21 verifies,
    CO22 does not); an unprotected kid counts only when the protected header has none (CO19, CO23). CO20
    carries alg, too, only unprotected and must verify: an unprotected alg cannot downgrade anything,
    since only ES256 and PS256 are accepted and verify() demands the key type that goes with each.
    """
    alg, kid = _protected_header(protected)
    if alg is None or kid is None:
        loose = labels(unprotected)
        if alg is None:
            alg = _alg(loose)
        if kid is None:
            kid = _kid(loose)
    if alg is None:
        raise MalformedCode("COSE: no alg (1) in either header")
    return alg, kid


@functools.lru_cache(maxsize=256)
def _protected_header(protected: bytes) -> tuple[int | None, bytes | None]:
    """alg and kid of the protected header bytes (an empty bstr is the empty map, RFC 9052 section 3).

    Cached: a signer writes the same header bytes into every code, so a checkpoint sees few distinct ones.
    """
    if not protected:
        return None, None
    try:
        header = loads_one(protected)
    except ValueError:
        raise MalformedCode("COSE: the protected header is not one well-formed CBOR item") from None
    if not is_map(header):
        raise MalformedCode("COSE: the protected header is not a map")
    header = labels(header)
    if HEADER_CRIT in header:  # RFC 9052: labels the verifier must understand; the DCC defines none
        raise MalformedCode("COSE: the protected header has crit (2), which this verifier does not follow")
    return _alg(header), _kid(header)


def _alg(header: Mapping[int, object]) -> int | None:
    if HEADER_ALG not in header:
        return None
    alg = header[HEADER_ALG]
    if not is_int(alg) or alg not in (ALG_ES256, ALG_PS256):  # never format alg: it may be anything
        raise MalformedCode("COSE: alg (1) is not ES256 (-7) or PS256 (-37)")
    return alg


def _kid(header: Mapping[int, object]) -> bytes | None:
    if HEADER_KID not in header:
        return None
    kid = header[HEADER_KID]
    if type(kid) is not bytes or not 0 < len(kid) <= MAX_KID:
        raise MalformedCode(f"COSE: kid (4) is not a byte string of 1 to {MAX_KID} bytes")
    return kid


def verify(scanned: ScannedDcc, public_key: object) -> bool:
    """True when the signature verifies under `public_key` with the code's alg; False for any mismatch.

    ES256 needs a P-256 key and PS256 an RSA key (RSA-PSS, SHA-256, MGF1 SHA-256, salt 32 bytes as RFC 8230
    fixes it): the key's type, not the header alone, picks the algorithm.
    """
    signature = scanned.signature
    signed = to_be_signed(scanned.protected, scanned.payload)
    try:
        if scanned.alg == ALG_ES256:
            if (not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1)
                    or len(signature) != ES256_SIGNATURE):
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public_key.verify(der, signed, _ECDSA_SHA256)
            return True
        if scanned.alg == ALG_PS256:
            if not isinstance(public_key, rsa.RSAPublicKey):  # OpenSSL refuses a signature of the wrong size
                return False
            public_key.verify(signature, signed, _PSS_SHA256, _SHA256)
            return True
    except InvalidSignature:
        return False
    return False
