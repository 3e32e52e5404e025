"""Test material: deterministic keys, a trust store in memory, and codes made to order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cbor2
from nacl.signing import SigningKey

from kiosk import cose
from kiosk.base45 import b45encode
from kiosk.cose import kid_of
from kiosk.healthcode import GREEN, HealthCode, encode_claims, encode_text
from kiosk.issuer import KeyGrant, sign_bundle, sign_status_list
from kiosk.trust import TrustStore, parse_bundle, parse_status

NOW = 1_780_000_000  # 2026-05-28, the clock of every table test
ISS = "CN-120000"
SUBJECT = bytes(range(16))


def key(name: str) -> SigningKey:
    """The same key for the same name, run after run, so failures reproduce."""
    return SigningKey(hashlib.sha256(name.encode()).digest())


def pub(name: str) -> bytes:
    return bytes(key(name).verify_key)


def kid(name: str) -> bytes:
    return kid_of(pub(name))


@dataclass
class World:
    """A root, issuers (with validity windows), revocations and an optional status list."""

    grants: dict[str, tuple[str, int, int]] = field(default_factory=lambda: {
        "issuer": (ISS, NOW - 365 * 86400, NOW + 365 * 86400),
        "beijing": ("CN-110000", NOW - 365 * 86400, NOW + 365 * 86400),
        "revoked": (ISS, NOW - 365 * 86400, NOW + 365 * 86400),
        "retired": (ISS, NOW - 365 * 86400, NOW - 30 * 86400),
    })
    revoked: tuple[str, ...] = ("revoked",)
    status_entries: list[tuple[bytes, int, int]] | None = None
    status_signer: str = "issuer"
    status_iss: str = ISS

    def bundle_bytes(self, seq: int = 1) -> bytes:
        grants = [KeyGrant(pub(n), iss, nbf, exp) for n, (iss, nbf, exp) in self.grants.items()]
        return sign_bundle(key("root"), seq=seq, iat=NOW - 86400, keys=grants, revoked=[kid(n) for n in self.revoked])

    def status_bytes(self, seq: int = 1) -> bytes:
        return sign_status_list(key(self.status_signer), seq=seq, iat=NOW - 3600, iss=self.status_iss,
                                entries=self.status_entries or [])

    def store(self) -> TrustStore:
        bundle = parse_bundle(self.bundle_bytes(), {kid("root"): pub("root")})
        status = parse_status(self.status_bytes(), bundle) if self.status_entries is not None else None
        return TrustStore(bundle, status)


def claims(**overrides: object) -> HealthCode:
    values: dict[str, object] = dict(iss=ISS, exp=NOW + 86400, iat=NOW - 60, cti=b"\x01" * 12, status=GREEN,
                                     subject=SUBJECT, kind=0, name="张*明")
    values.update(overrides)
    return HealthCode(**values)  # type: ignore[arg-type]


def code(signer: str = "issuer", **overrides: object) -> str:
    """A correctly signed code text with the given claims."""
    return encode_text(cose.sign(encode_claims(claims(**overrides)), key(signer)))


def raw_cose(payload: object, *, protected: object = None, unprotected: object = None,
             signature: bytes | None = None, signer: str = "issuer", tag: int | None = 18) -> bytes:
    """COSE bytes built piece by piece, for codes that break one rule of the envelope."""
    if protected is None:
        protected = cbor2.dumps({1: -8, 4: kid(signer)})
    body = payload if isinstance(payload, bytes) else cbor2.dumps(payload)
    if signature is None:
        signature = key(signer).sign(cose.to_be_signed(protected, body)).signature  # type: ignore[arg-type]
    item: object = [protected, {} if unprotected is None else unprotected, body, signature]
    return cbor2.dumps(cbor2.CBORTag(tag, item) if tag is not None else item)


def text_of(cose_bytes: bytes) -> str:
    return "PHC1:" + b45encode(cose_bytes)


def claims_map(**overrides: object) -> dict[int, object]:
    """The CWT claims as a raw map, where a test may put anything in any field."""
    phc: dict[int, object] = {1: GREEN, 2: SUBJECT, 3: 0}
    top: dict[int, object] = {1: ISS, 4: NOW + 86400, 6: NOW - 60, 7: b"\x01" * 12, -65537: phc}
    for name, value in overrides.items():
        target, label = (phc, int(name[4:])) if name.startswith("phc_") else (top, int(name[1:].replace("m", "-")))
        if value is DROP:
            target.pop(label, None)
        else:
            target[label] = value
    return top


DROP = object()
