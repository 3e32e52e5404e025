"""The trust bundle and the trust store (spec section 4). Pure: bytes in, values out.

Reading the files from a directory lives in `kiosk.trustdir`; this module only
checks what the bytes say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kiosk import cose
from kiosk.cbor import is_int, is_map, is_uint, loads_one
from kiosk.dsc import MAX_DER, Dsc, DscIndex, dsc_of_der
from kiosk.errors import MalformedCode, TrustFileError
from kiosk.healthcode import HealthCode
from kiosk.status_list import StatusList

PUBLIC_KEY_LENGTH = 32
MAX_DSCS = 10_000  # DSCs in one bundle: a bound checked before any is read (4 MiB holds ~3,000 real ones)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class IssuerKey:
    """An issuer's public key as the bundle lists it, with its validity window."""

    kid: bytes
    pub: bytes
    iss: str
    nbf: int
    exp: int

    def covers(self, moment: int) -> bool:
        """True when `moment` lies inside [nbf, exp], both ends included."""
        return self.nbf <= moment <= self.exp


@dataclass(frozen=True)
class TrustBundle:
    seq: int
    iat: int
    signer: bytes  # kid of the root that signed it
    keys: Mapping[bytes, IssuerKey]
    revoked: frozenset[bytes]
    # HC1 document signer certificates by kid; a kid may name more than one (8 bytes of a hash can collide).
    dscs: Mapping[bytes, tuple[Dsc, ...]] = field(default_factory=dict)


def parse_root(text: str) -> bytes:
    """A pinned root file: one line of 64 hex digits. Raises ValueError."""
    digits = text.strip()
    if len(digits) != 2 * PUBLIC_KEY_LENGTH:
        raise ValueError(f"expected one line of 64 hex digits, found {len(digits)} characters")
    if not _HEX64.fullmatch(digits):  # bytes.fromhex alone would skip inner spaces
        raise ValueError("expected one line of 64 hex digits, found other characters")
    return bytes.fromhex(digits)


def open_envelope(data: bytes, signers: Mapping[bytes, bytes], who: str) -> cose.Sign1:
    """Decode a signed trust file and check it is signed by one of `signers` (kid -> public key)."""
    try:
        sign1 = cose.decode_sign1(data)
    except MalformedCode as err:
        raise TrustFileError(f"not a valid COSE_Sign1 file ({err})") from None
    key = signers.get(sign1.kid)
    if key is None:
        raise TrustFileError(f"signed by kid {sign1.kid.hex()}, which is not {who}")
    if not cose.verify(sign1, key):
        raise TrustFileError(f"the signature does not verify (kid {sign1.kid.hex()}): tampered or corrupt")
    return sign1


def _issuer_key(entry: object, position: int) -> IssuerKey:
    if not is_map(entry):
        raise TrustFileError(f"keys[{position}] is not a map")
    kid, pub, iss = entry.get("kid"), entry.get("pub"), entry.get("iss")
    nbf, exp = entry.get("nbf"), entry.get("exp")
    if type(kid) is not bytes or len(kid) != cose.KID_LENGTH:
        raise TrustFileError(f"keys[{position}].kid is not 8 bytes")
    if type(pub) is not bytes or len(pub) != PUBLIC_KEY_LENGTH:
        raise TrustFileError(f"keys[{position}].pub is not 32 bytes")
    if type(iss) is not str or not is_int(nbf) or not is_int(exp):
        raise TrustFileError(f"keys[{position}] needs iss (text), nbf and exp (integers)")
    if cose.kid_of(pub) != kid:
        raise TrustFileError(f"keys[{position}].kid {kid.hex()} does not match its public key")
    return IssuerKey(kid, pub, iss, nbf, exp)


def parse_bundle(data: bytes, roots: Mapping[bytes, bytes], *, check_dscs: bool = True) -> TrustBundle:
    """Verify and read trust.cose against the pinned roots (kid -> public key).

    With `check_dscs` (an import, a published bundle) every DSC is read now and one that cannot be read refuses the
    bundle; without (loading the installed bundle, which its import checked) each is read when first used.
    """
    sign1 = open_envelope(data, roots, "a pinned root")
    try:
        body = loads_one(sign1.payload)
    except ValueError as err:
        raise TrustFileError(f"payload: {err}") from None
    if not is_map(body) or body.get("type") != "trust":
        raise TrustFileError('payload is not a map of "type": "trust"')
    seq, iat, keys, revoked = body.get("seq"), body.get("iat"), body.get("keys"), body.get("revoked")
    if not is_uint(seq) or not is_int(iat):
        raise TrustFileError("seq (unsigned) or iat (integer) is missing or ill-typed")
    if not isinstance(keys, (list, tuple)) or not isinstance(revoked, (list, tuple)):
        raise TrustFileError("keys or revoked is missing or not an array")
    parsed = [_issuer_key(entry, i) for i, entry in enumerate(keys)]
    for i, kid in enumerate(revoked):
        if type(kid) is not bytes or len(kid) != cose.KID_LENGTH:
            raise TrustFileError(f"revoked[{i}] is not an 8-byte kid")
    dscs = _dscs(body["dsc"], check_dscs) if "dsc" in body else {}  # optional: bundles made before HC1 have none
    return TrustBundle(seq, iat, sign1.kid, {k.kid: k for k in parsed}, frozenset(revoked), dscs)


def _dscs(entries: object, check: bool) -> DscIndex:
    """The bundle's "dsc" array (DER byte strings) by kid; with `check`, one that cannot be read refuses it."""
    if not isinstance(entries, (list, tuple)):
        raise TrustFileError("dsc is not an array")
    if len(entries) > MAX_DSCS:
        raise TrustFileError(f"dsc holds {len(entries):,} certificates, more than {MAX_DSCS:,}")
    for i, der in enumerate(entries):
        if type(der) is not bytes or len(der) > MAX_DER:
            raise TrustFileError(f"dsc[{i}] is not a byte string of at most {MAX_DER:,} bytes")
    if not check:
        return DscIndex(entries)
    read = []
    for i, der in enumerate(entries):
        try:
            read.append(dsc_of_der(der))
        except TrustFileError as err:
            raise TrustFileError(f"dsc[{i}]: {err.problem}") from None
    return DscIndex(entries, read)


def status_signers(bundle: TrustBundle) -> dict[bytes, bytes]:
    """Keys that may sign a status list: any key of the bundle that is not revoked."""
    return {kid: k.pub for kid, k in bundle.keys.items() if kid not in bundle.revoked}


def parse_status(data: bytes, bundle: TrustBundle) -> StatusList:
    """Verify and read status.cose: signed by a bundle key whose iss is the list's iss."""
    return read_status(open_status(data, bundle), bundle)


def open_status(data: bytes, bundle: TrustBundle) -> cose.Sign1:
    """The verified envelope of a status list (split out so a caller can drop the file bytes)."""
    return open_envelope(data, status_signers(bundle), "an unrevoked key of the trust bundle")


def read_status(sign1: cose.Sign1, bundle: TrustBundle) -> StatusList:
    """The status list in a verified envelope; its iss must be its signer's iss."""
    try:
        status = StatusList.from_payload(sign1.payload)
    except ValueError as err:
        raise TrustFileError(f"payload: {err}") from None
    signer = bundle.keys[sign1.kid]
    if signer.iss != status.iss:
        raise TrustFileError(f"list of issuer {status.iss!r} signed by a key of issuer {signer.iss!r}")
    return status


@dataclass(frozen=True)
class TrustStore:
    """Everything the verifier trusts at one moment; warnings say what was left out."""

    bundle: TrustBundle
    status: StatusList | None = None
    warnings: tuple[str, ...] = ()

    def effective_status(self, code: HealthCode) -> int:
        """The code's status, replaced by a status-list entry of its issuer newer than its iat."""
        if self.status is None or self.status.iss != code.iss:
            return code.status
        entry = self.status.lookup(code.subject)
        if entry is not None and entry[1] > code.iat:
            return entry[0]
        return code.status
