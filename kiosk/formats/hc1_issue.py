"""The issuing side of HC1 (EU DCC) codes, for pilots, the demo, tests and benchmarks; never used by the verifier.

A country signing CA (CSCA, self-signed) issues document signer certificates (DSCs) with `cryptography`; a DSC
signs DCC payloads as `HC1:` texts: CWT claims {1: iss, 4: exp, 6: iat, -260: {1: hcert}}, COSE_Sign1 (tag 18)
with ES256 (P-256, r||s) or PS256 (RSA-PSS, SHA-256, MGF1 SHA-256, salt 32), zlib, Base45. A DSC's extended key
usage names the certificate types it may sign (none: all three), as the DCC specification's OIDs say.
Pure: keys, times and contents are arguments; nothing is read from the clock. On disk a signer is PREFIX.pem
(its certificate) and PREFIX.key (its private key, PKCS#8 PEM, mode 0600), as `kiosk trust make-dsc` writes them.
The payload's parts (names, the entries) are in hc1_payload.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from kiosk.base45 import b45encode
from kiosk.dsc import OID_RECOVERY, OID_TEST, OID_VACCINATION, kid_of_der
from kiosk.errors import KeyFileError
from kiosk.fileio import write_new, write_new_private

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
ALGORITHMS = {"es256": -7, "ps256": -37}  # the COSE algorithm of each key type this module makes
RSA_BITS = 3072
# The DCC specification's extended key usage OIDs, as kiosk/dsc.py reads them (it also reads older variants).
USAGE_OIDS = {"test": OID_TEST, "vaccination": OID_VACCINATION, "recovery": OID_RECOVERY}
KID_PLACES = ("protected", "unprotected", "both", "none")  # where sign_hc1 puts the kid (the spec: protected)


@dataclass(frozen=True)
class Signer:
    """A certificate and its private key: a DSC that signs codes, or a CSCA that signs DSCs."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def kid(self) -> bytes:
        """The DCC kid: the first 8 bytes of the SHA-256 of the certificate's DER."""
        return kid_of_der(self.der)

    @property
    def alg(self) -> int:
        return ALGORITHMS["es256"] if isinstance(self.key, ec.EllipticCurvePrivateKey) else ALGORITHMS["ps256"]

    @property
    def country(self) -> str | None:
        found = self.certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
        return str(found[0].value) if found else None


def new_key(alg: str) -> PrivateKey:
    """A fresh private key for `alg`: "es256" (P-256) or "ps256" (RSA 3072)."""
    if alg == "es256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ps256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    raise ValueError(f"unknown algorithm {alg!r}: es256 or ps256")


def _moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _name(country: str, common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kiosk pilot (not a real authority)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _sign_certificate(builder: x509.CertificateBuilder, issuer: PrivateKey) -> x509.Certificate:
    return builder.sign(issuer, hashes.SHA256())


def make_csca(country: str, *, not_before: int, not_after: int, alg: str = "es256",
              name: str | None = None) -> Signer:
    """A self-signed country signing CA for `country` (ISO 3166 alpha-2), valid from not_before to not_after."""
    key = new_key(alg)
    subject = _name(country, name or f"CSCA {country} (kiosk pilot)")
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(_moment(not_before)).not_valid_after(_moment(not_after))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(_usage(sign=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return Signer(_sign_certificate(builder, key), key)


def _usage(sign: bool) -> x509.KeyUsage:
    """digitalSignature for a DSC; keyCertSign and cRLSign for a CSCA."""
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not sign, crl_sign=not sign,
                         encipher_only=False, decipher_only=False)


def make_dsc(csca: Signer, *, country: str, not_before: int, not_after: int, alg: str = "es256",
             usage: Collection[str] | None = None, name: str | None = None) -> Signer:
    """A document signer certificate issued by `csca`; `usage` the certificate types it may sign (None: all,
    with no DCC extended key usage at all; a subset: exactly those OIDs)."""
    if usage is not None and (bad := sorted(set(usage) - set(USAGE_OIDS))):
        raise ValueError(f"unknown certificate type(s) {', '.join(bad)}: vaccination, test or recovery")
    key = new_key(alg)
    builder = (x509.CertificateBuilder().subject_name(_name(country, name or f"DSC {country} (kiosk pilot)"))
               .issuer_name(csca.certificate.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(_moment(not_before)).not_valid_after(_moment(not_after))
               .add_extension(_usage(sign=True), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(csca.key.public_key()),
                              critical=False))
    if usage is not None:
        oids = [x509.ObjectIdentifier(USAGE_OIDS[kind]) for kind in sorted(usage)]
        builder = builder.add_extension(x509.ExtendedKeyUsage(oids), critical=False)
    return Signer(_sign_certificate(builder, csca.key), key)


def signer_files(prefix: Path) -> tuple[Path, Path]:
    """PREFIX.pem (the certificate) and PREFIX.key (the private key); a PREFIX given as either file is its PREFIX."""
    if prefix.suffix in (".pem", ".key"):
        prefix = prefix.with_suffix("")
    return prefix.with_name(prefix.name + ".pem"), prefix.with_name(prefix.name + ".key")


def save_signer(signer: Signer, prefix: Path) -> tuple[Path, Path]:
    """Write PREFIX.pem (0644) and PREFIX.key (0600); refuses to overwrite either, as `kiosk keygen` does."""
    pem, key = signer_files(prefix)
    for path in (pem, key):
        if path.exists():
            raise KeyFileError(f"{path} exists already; refusing to overwrite a key")
    private = signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    write_new_private(key, private.decode("ascii"))
    write_new(pem, signer.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"), 0o644)
    return pem, key


def read_signer(prefix: Path) -> Signer:
    """The signer saved at PREFIX (PREFIX.pem and PREFIX.key); KeyFileError in one line if it is not one."""
    pem, key_path = signer_files(prefix)
    try:
        certificate = x509.load_pem_x509_certificate(pem.read_bytes())
    except OSError as err:
        raise KeyFileError(f"{pem}: cannot read the certificate: {err.strerror}") from None
    except ValueError:
        raise KeyFileError(f"{pem}: not a PEM X.509 certificate (made by kiosk trust make-dsc?)") from None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as err:
        raise KeyFileError(f"{key_path}: cannot read the private key: {err.strerror}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(f"{key_path}: not an unencrypted PEM private key (made by kiosk trust make-dsc?)") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise KeyFileError(f"{key_path}: neither a P-256 nor an RSA private key")
    if isinstance(key, ec.EllipticCurvePrivateKey) and not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(f"{key_path}: an elliptic curve key not on P-256 (ES256 needs P-256)")
    if key.public_key() != certificate.public_key():
        raise KeyFileError(f"{key_path}: not the private key of {pem.name}")
    return Signer(certificate, key)


def sign_hc1(signer: Signer, *, iat: int, exp: int, hcert: Mapping[str, object], iss: str | None = None,
             kid_place: str = "protected") -> str:
    """The `HC1:` text of `hcert` (a DCC: ver, nam, dob and one v, t or r entry) signed by `signer`.

    `iss` is claim 1, the issuing country (left out when None, as the CWT allows); `kid_place` where the kid
    goes: "protected" (the DCC specification), "unprotected", "both" or "none" (for tests of the verifier)."""
    if kid_place not in KID_PLACES:
        raise ValueError(f"kid_place {kid_place!r}: one of {', '.join(KID_PLACES)}")
    claims: dict[int, object] = {4: exp, 6: iat, -260: {1: dict(hcert)}}
    if iss is not None:
        claims = {1: iss, **claims}
    header: dict[int, object] = {1: signer.alg}
    if kid_place in ("protected", "both"):
        header[4] = signer.kid
    protected, payload = cbor2.dumps(header), cbor2.dumps(claims)
    unprotected = {4: signer.kid} if kid_place in ("unprotected", "both") else {}
    signature = _signature(signer.key, cbor2.dumps(["Signature1", protected, b"", payload]))
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature]))
    return "HC1:" + b45encode(zlib.compress(cose, 9))


def _signature(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):  # COSE wants r||s, 32 bytes each, not DER
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
