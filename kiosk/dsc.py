"""Document signer certificates (DSCs): the X.509 certificates whose keys sign EU DCC / WHO `HC1:` codes.

Pure: bytes in, values out (`cryptography` parses; no file, clock or network). DSCs travel in the signed
trust bundle (spec section 4.1); a DSC's kid is the first 8 bytes of the SHA-256 of its DER (the DCC's
rule), and its extended key usage says which certificate types it may sign.

The extended key usage is read from the certificate's bytes here rather than through `cryptography`,
which refuses every extension of a certificate whose EKU is an empty list (the catalogue's CO15, which
must verify as "no OID present"): one walk over the DER extensions, bounded by the certificate's size.
`cryptography` itself is imported only when a certificate is read (it costs ~50 ms to load), so a
kiosk that never meets an HC1 code never loads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from kiosk.errors import TrustFileError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

KID_LENGTH = 8
MAX_DER = 16 * 1024  # bytes of one DSC: real ones are 0.4-2 KB; a bundle refuses larger
RSA_BITS = (2048, 8192)  # the DCC's PS256 keys are 2048 to 4096 bits; shorter is weak, longer only slow

OID_TEST = "1.3.6.1.4.1.1847.2021.1.1"
OID_VACCINATION = "1.3.6.1.4.1.1847.2021.1.2"
OID_RECOVERY = "1.3.6.1.4.1.1847.2021.1.3"
# The same three under 1.3.6.1.4.1.0.1847...: found in national DSCs and in the member states' test vectors
# (the catalogue's CO6-CO14); verifiers read both spellings alike.
OID_TEST_ALT = "1.3.6.1.4.1.0.1847.2021.1.1"
OID_VACCINATION_ALT = "1.3.6.1.4.1.0.1847.2021.1.2"
OID_RECOVERY_ALT = "1.3.6.1.4.1.0.1847.2021.1.3"
USAGE_OIDS: dict[str, str] = {
    OID_TEST: "test", OID_VACCINATION: "vaccination", OID_RECOVERY: "recovery",
    OID_TEST_ALT: "test", OID_VACCINATION_ALT: "vaccination", OID_RECOVERY_ALT: "recovery",
}
CERTIFICATE_TYPES = ("vaccination", "test", "recovery")  # the order in which they are shown
ALL_TYPES = frozenset(CERTIFICATE_TYPES)

_EKU_OID = b"\x55\x1d\x25"  # 2.5.29.37, as its DER contents: compared as bytes, as most extensions are other
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
_SEQUENCE, _OID, _BOOLEAN, _OCTETS, _EXTENSIONS = 0x30, 0x06, 0x01, 0x04, 0xA3


@dataclass(frozen=True)
class Dsc:
    """One document signer certificate, read and checked once; a value, with no say on what it signed."""

    kid: bytes  # sha256(der)[:8]
    der: bytes = field(repr=False)
    country: str | None  # the subject's C=, as written (printable characters only)
    subject: str  # RFC 4514 text, for `kiosk trust show`
    not_before: int  # epoch seconds, both ends included
    not_after: int
    certificates: frozenset[str]  # the types its EKU allows; all three when no DCC OID is present
    public_key: PublicKey = field(repr=False, compare=False)  # EC P-256 or RSA, loaded once

    def covers(self, moment: float) -> bool:
        """True when `moment` lies inside [not_before, not_after], both ends included."""
        return self.not_before <= moment <= self.not_after

    def allows(self, certificate: str) -> bool:
        """True when this DSC may sign a certificate of that type ("vaccination", "test", "recovery")."""
        return certificate in self.certificates


class DscIndex(Mapping[bytes, tuple[Dsc, ...]]):
    """DSCs by kid, a kid's certificates read from their DER the first time it is looked up.

    A bundle lists thousands of DSCs and a kiosk meets a few countries' (reading one costs ~0.1 ms),
    so loading the bundle costs a hash a DSC. Given `read` (every DER read already, in the same order:
    an import checks each), nothing is read again. A DER that cannot be read gives no DSC: the kid then
    names none, as an unknown one does (only a bundle that was never imported can hold one).
    """

    def __init__(self, ders: Sequence[bytes], read: Sequence[Dsc] | None = None) -> None:
        by_kid: dict[bytes, list[bytes]] = {}
        for der in ders:
            same_kid = by_kid.setdefault(kid_of_der(der), [])
            if der not in same_kid:  # the same certificate twice counts once
                same_kid.append(der)
        self._ders = {kid: tuple(found) for kid, found in by_kid.items()}
        self._read: dict[bytes, tuple[Dsc, ...]] = {}
        if read is not None:
            by_der = {dsc.der: dsc for dsc in read}
            self._read = {kid: tuple(by_der[der] for der in found) for kid, found in self._ders.items()}

    def __getitem__(self, kid: bytes) -> tuple[Dsc, ...]:
        found = self._read.get(kid)
        if found is None:
            found = self._read[kid] = tuple(dsc for der in self._ders[kid] if (dsc := _readable(der)) is not None)
        return found

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._ders)

    def __len__(self) -> int:
        return len(self._ders)

    def __repr__(self) -> str:
        return f"DscIndex({len(self._ders)} kids)"

    def unreadable(self) -> int:
        """How many of the certificates cannot be read (reading every one): for `kiosk trust show`."""
        return sum(len(self._ders[kid]) - len(self[kid]) for kid in self._ders)


def _readable(der: bytes) -> Dsc | None:
    try:
        return dsc_of_der(der)
    except TrustFileError:
        return None


def kid_of_der(der: bytes) -> bytes:
    """A DSC's kid: the first 8 bytes of the SHA-256 of its DER (the DCC specification's rule)."""
    return hashlib.sha256(der).digest()[:KID_LENGTH]


def read_dsc(data: bytes) -> Dsc:
    """One DSC from PEM or DER bytes; TrustFileError (one line, never the bytes) otherwise."""
    found = read_dscs(data)
    if len(found) != 1:
        raise TrustFileError(f"{len(found)} certificates, expected one")
    return found[0]


def read_dscs(data: bytes, limit: int = 10_000) -> tuple[Dsc, ...]:
    """Every DSC of a file (read bounded by the caller): one DER certificate, or PEM with one or more."""
    if data[:1] == b"\x30":  # a DER certificate is a SEQUENCE; PEM is text
        return (dsc_of_der(data),)
    blocks = _PEM.findall(data)
    if not blocks:
        raise TrustFileError("neither a DER certificate nor PEM with a CERTIFICATE block")
    if len(blocks) > limit:
        raise TrustFileError(f"{len(blocks):,} certificates, more than the {limit:,} a trust bundle may hold")
    read = []
    for number, block in enumerate(blocks, 1):
        try:
            read.append(dsc_of_der(_base64(block)))
        except TrustFileError as err:  # which certificate of several
            raise TrustFileError(f"certificate {number}: {err.problem}" if len(blocks) > 1 else err.problem) from None
    return tuple(read)


def _base64(block: bytes) -> bytes:
    try:
        return base64.b64decode(b"".join(block.split()), validate=True)
    except (binascii.Error, ValueError):
        raise TrustFileError("the PEM block is not Base64") from None


def dsc_of_der(der: bytes) -> Dsc:
    """A DSC from its DER bytes, all checks made; TrustFileError with one line naming what is wrong."""
    if len(der) > MAX_DER:
        raise TrustFileError(f"{len(der):,} bytes, more than the {MAX_DER:,} a DSC may be")
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)  # refuses bytes after the certificate too
        not_before = int(cert.not_valid_before_utc.timestamp())
        not_after = int(cert.not_valid_after_utc.timestamp())
        subject = _printable(cert.subject.rfc4514_string())
        countries = cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    except Exception:  # ValueError mostly, but also InvalidVersion and others: all mean the same here
        raise TrustFileError("not an X.509 certificate in DER or PEM") from None
    country = _printable(str(countries[0].value)) if countries else None
    return Dsc(kid_of_der(der), der, country, subject, not_before, not_after,
               _certificate_types(cert.tbs_certificate_bytes), _public_key(cert))


def _public_key(cert: x509.Certificate) -> PublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = cert.public_key()
    except Exception:  # an algorithm `cryptography` does not know raises its own UnsupportedAlgorithm
        raise TrustFileError("its public key cannot be read (the DCC signs with EC P-256 or RSA)") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise TrustFileError(f"an EC key on {key.curve.name}, not P-256 (the DCC's ES256)")
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if not RSA_BITS[0] <= key.key_size <= RSA_BITS[1]:
            raise TrustFileError(f"an RSA key of {key.key_size} bits, outside {RSA_BITS[0]}..{RSA_BITS[1]}")
        return key
    raise TrustFileError("a key that is neither EC P-256 nor RSA (the DCC's ES256 and PS256)")


def _certificate_types(tbs: bytes) -> frozenset[str]:
    """The types the DCC OIDs of the EKU allow; all types without an EKU or without a DCC OID in it."""
    try:
        oids = _eku_oids(tbs)
    except ValueError:
        raise TrustFileError("its extended key usage extension is not valid DER") from None
    allowed = frozenset(USAGE_OIDS[oid] for oid in oids or () if oid in USAGE_OIDS)
    return allowed or ALL_TYPES


def _eku_oids(tbs: bytes) -> list[str] | None:
    """The OIDs of the EKU extension in a TBSCertificate's DER; None without one. ValueError on broken DER."""
    tag, body, body_end = _tlv(tbs, 0)
    if tag != _SEQUENCE or body_end != len(tbs):
        raise ValueError("not a sequence")
    found: list[str] | None = None
    for tag, start, end in _items(tbs, body, body_end):
        if tag != _EXTENSIONS:
            continue
        inner, first, last = _tlv(tbs, start)
        if inner != _SEQUENCE or last != end:
            raise ValueError("extensions are not a sequence")
        for ext_tag, ext_start, ext_end in _items(tbs, first, last):
            oid_tag, oid_start, oid_end = _tlv(tbs, ext_start, ext_end)  # only the OID of the many others
            if ext_tag != _SEQUENCE or oid_tag != _OID:
                raise ValueError("an extension without its OID")
            if tbs[oid_start:oid_end] != _EKU_OID:
                continue
            if found is not None:
                raise ValueError("two EKU extensions")
            found = _eku_value(tbs, list(_items(tbs, oid_end, ext_end)))
    return found


def _eku_value(tbs: bytes, parts: list[tuple[int, int, int]]) -> list[str]:
    """[critical BOOLEAN,] OCTET STRING holding SEQUENCE OF OID."""
    if parts and parts[0][0] == _BOOLEAN:
        parts = parts[1:]
    if len(parts) != 1 or parts[0][0] != _OCTETS:
        raise ValueError("EKU value is not an octet string")
    value = tbs[parts[0][1]:parts[0][2]]
    tag, start, end = _tlv(value, 0)
    if tag != _SEQUENCE or end != len(value):
        raise ValueError("EKU is not a sequence")
    oids = []
    for tag, first, last in _items(value, start, end):
        if tag != _OID:
            raise ValueError("EKU holds something other than an OID")
        oids.append(_oid(value[first:last]))
    return oids


def _tlv(data: bytes, at: int, limit: int | None = None) -> tuple[int, int, int]:
    """(tag, start, end) of the DER item at `at`, which must end by `limit`: its contents are data[start:end]."""
    limit = len(data) if limit is None else limit
    if at + 2 > limit:
        raise ValueError("truncated")
    tag, length = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("a multi-byte tag")  # none in the parts of a certificate read here
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or at + count > limit:
            raise ValueError("bad length")
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    if at + length > limit:
        raise ValueError("truncated")
    return tag, at, at + length


def _items(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """The DER items one after another in data[start:end], which they must fill exactly."""
    at = start
    while at < end:
        tag, first, last = _tlv(data, at, end)
        yield tag, first, last
        at = last


def _oid(body: bytes) -> str:
    """The dotted text of an OID's DER contents."""
    if not body or body[-1] & 0x80 or len(body) > 64:
        raise ValueError("bad OID")
    arcs, value = [], 0
    for byte in body:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


def _printable(text: str) -> str:
    """Text from a certificate, safe on one line of a terminal: other characters as \\uXXXX."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
