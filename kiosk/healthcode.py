"""The PHC1 health code: QR text <-> COSE_Sign1 <-> CWT claims (spec sections 1 and 3)."""

from __future__ import annotations

from dataclasses import dataclass

import cbor2

from kiosk.base45 import b45decode, b45encode
from kiosk.cbor import is_int, is_map, is_uint, labels, loads_one
from kiosk.cose import Sign1, decode_sign1
from kiosk.errors import MalformedCode

PREFIX = "PHC1:"

GREEN, AMBER, RED = 0, 1, 2
STATUS_NAMES = ("green", "amber", "red")
DYNAMIC, PRINTED = 0, 1
KIND_NAMES = ("dynamic", "printed")

CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI, CLAIM_PHC = 1, 4, 6, 7, -65537
PHC_STATUS, PHC_SUBJECT, PHC_KIND, PHC_NAME = 1, 2, 3, 4
SUBJECT_LENGTH = 16


@dataclass(frozen=True)
class HealthCode:
    """The claims of a health code; a value, with no say on whether it is genuine."""

    iss: str
    exp: int
    iat: int
    cti: bytes
    status: int
    subject: bytes
    kind: int
    name: str | None = None


@dataclass(frozen=True)
class ScannedCode:
    """A well-formed code as scanned: its envelope (for the signature check) and claims."""

    sign1: Sign1
    code: HealthCode


def parse_claims(payload: bytes) -> HealthCode:
    """Read the CWT claims map; raise MalformedCode for a missing or ill-typed field."""
    try:
        claims = loads_one(payload)
    except ValueError as err:
        raise MalformedCode(f"payload: {err}") from None
    if not is_map(claims):
        raise MalformedCode("payload is not a map")
    claims = labels(claims)  # a claim under a non-integer key (1.0, true, a bignum) is an unknown label
    iss = claims.get(CLAIM_ISS)
    exp = claims.get(CLAIM_EXP)
    iat = claims.get(CLAIM_IAT)
    cti = claims.get(CLAIM_CTI)
    phc = claims.get(CLAIM_PHC)
    if type(iss) is not str:
        raise MalformedCode("iss (1) is missing or not text")
    if not is_int(exp):
        raise MalformedCode("exp (4) is missing or not an integer")
    if not is_int(iat):
        raise MalformedCode("iat (6) is missing or not an integer")
    if type(cti) is not bytes or not 8 <= len(cti) <= 16:
        raise MalformedCode("cti (7) is missing or not 8 to 16 bytes")
    if not is_map(phc):
        raise MalformedCode("phc (-65537) is missing or not a map")
    phc = labels(phc)
    status = phc.get(PHC_STATUS)
    subject = phc.get(PHC_SUBJECT)
    kind = phc.get(PHC_KIND)
    name = phc.get(PHC_NAME)
    if not is_uint(status) or status > RED:
        raise MalformedCode("phc status (1) is missing or not 0, 1 or 2")
    if type(subject) is not bytes or len(subject) != SUBJECT_LENGTH:
        raise MalformedCode("phc subject (2) is missing or not 16 bytes")
    if not is_uint(kind) or kind > PRINTED:
        raise MalformedCode("phc kind (3) is missing or not 0 or 1")
    if PHC_NAME in phc and type(name) is not str:
        raise MalformedCode("phc name (4) is not text")
    return HealthCode(iss, exp, iat, cti, status, subject, kind, name)


def decode_text(text: str) -> ScannedCode:
    """Decode `PHC1:<base45>` text down to claims; raise MalformedCode on any fault.

    The caller has checked the prefix: a text without it is not a health code at all.
    """
    try:
        raw = b45decode(text[len(PREFIX):])
    except ValueError as err:
        raise MalformedCode(f"Base45: {err}") from None
    sign1 = decode_sign1(raw)
    return ScannedCode(sign1, parse_claims(sign1.payload))


def encode_claims(code: HealthCode) -> bytes:
    """The CWT claims payload of a code, as an issuer writes it."""
    phc: dict[int, object] = {PHC_STATUS: code.status, PHC_SUBJECT: code.subject, PHC_KIND: code.kind}
    if code.name is not None:
        phc[PHC_NAME] = code.name
    return cbor2.dumps(
        {CLAIM_ISS: code.iss, CLAIM_EXP: code.exp, CLAIM_IAT: code.iat, CLAIM_CTI: code.cti, CLAIM_PHC: phc}
    )


def encode_text(cose_bytes: bytes) -> str:
    """The QR text of signed COSE bytes."""
    return PREFIX + b45encode(cose_bytes)
