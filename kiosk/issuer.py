"""The issuing side, for pilots, demos and tests: sign codes, trust bundles and status lists.

Pure: keys, times and contents are arguments; nothing is read from the clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cbor2
from nacl.signing import SigningKey

from kiosk import cose
from kiosk.healthcode import SUBJECT_LENGTH, HealthCode, encode_claims, encode_text


@dataclass(frozen=True)
class KeyGrant:
    """One issuer key as a trust bundle lists it."""

    pub: bytes
    iss: str
    nbf: int
    exp: int


def issue_code(
    key: SigningKey,
    *,
    iss: str,
    status: int,
    iat: int,
    exp: int,
    kind: int = 0,
    subject: bytes | None = None,
    name: str | None = None,
    cti: bytes | None = None,
) -> tuple[str, HealthCode]:
    """Sign a health code; returns its QR text and its claims. Subject and cti default to random."""
    code = HealthCode(
        iss=iss,
        exp=exp,
        iat=iat,
        cti=cti if cti is not None else os.urandom(12),
        status=status,
        subject=subject if subject is not None else os.urandom(SUBJECT_LENGTH),
        kind=kind,
        name=name,
    )
    return encode_text(cose.sign(encode_claims(code), key)), code


def sign_bundle(root: SigningKey, *, seq: int, iat: int, keys: Sequence[KeyGrant],
                revoked: Iterable[bytes] = (), dscs: Sequence[bytes] = ()) -> bytes:
    """trust.cose bytes: the bundle payload of spec section 4, signed by a root key.

    `dscs` are HC1 document signer certificates (DER); without any, the payload has no "dsc" entry, so a
    bundle of issuer keys alone is byte for byte what it was before HC1.
    """
    payload: dict[str, object] = {
        "type": "trust",
        "seq": seq,
        "iat": iat,
        "keys": [
            {"kid": cose.kid_of(k.pub), "pub": k.pub, "iss": k.iss, "nbf": k.nbf, "exp": k.exp} for k in keys
        ],
        "revoked": list(revoked),
    }
    if dscs:
        payload["dsc"] = [bytes(der) for der in dscs]
    return cose.sign(cbor2.dumps(payload), root)


def sign_status_list(key: SigningKey, *, seq: int, iat: int, iss: str,
                     entries: Iterable[tuple[bytes, int, int]]) -> bytes:
    """status.cose bytes: [subject, status, since] entries, signed by an issuer key."""
    payload = {"type": "status", "seq": seq, "iat": iat, "iss": iss, "entries": [list(e) for e in entries]}
    return cose.sign(cbor2.dumps(payload), key)
