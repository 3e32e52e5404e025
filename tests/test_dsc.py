"""Document signer certificates (kiosk/dsc.py) and the trust bundle's "dsc" entry (kiosk/trust.py, spec 4.1).

The member states' vectors (tests/data/dgc-testdata) say what a DSC is: the kid each vector's COSE carries,
the types each DSC may sign (the vector's EXPECTEDKEYUSAGE for the certificate type in its payload) and the
validity `openssl x509 -dates` prints. Edge cases the vectors lack are certificates made here with
`cryptography`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kiosk import cose, dsc, trust
from kiosk.dsc import Dsc, dsc_of_der, read_dsc, read_dscs
from kiosk.errors import TrustFileError
from kiosk.issuer import KeyGrant, sign_bundle
from kiosk.trust import parse_bundle
from tests.factories import NOW, key, kid, pub

VECTORS = Path(__file__).parent / "data" / "dgc-testdata"
CATALOGUE = VECTORS / "common" / "2DCode" / "raw"
ALL = {"vaccination", "test", "recovery"}
TYPES = {"v": "vaccination", "t": "test", "r": "recovery"}
# The two vectors whose COSE names a wrong kid on purpose (their descriptions: "KID in protected header not
# correct", "KID in protected header not present, KID in unprotected header not correct").
WRONG_KID = {"CO22", "CO23"}
ROOTS = {kid("root"): pub("root")}
EARLY_OIDS = ("1.3.6.1.4.1.0.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.3")
OIDS = ("1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.1847.2021.1.3")


def vectors() -> Iterator[tuple[str, dict[str, object]]]:
    for path in sorted(VECTORS.glob("*/2DCode/**/*.json")):
        with path.open("rb") as file:
            yield f"{path.relative_to(VECTORS)}", json.load(file)


def der_of(vector: dict[str, object]) -> bytes:
    return base64.b64decode(vector["TESTCTX"]["CERTIFICATE"])  # type: ignore[index]


def catalogue(name: str) -> dict[str, object]:
    with (CATALOGUE / f"{name}.json").open("rb") as file:
        return json.load(file)  # type: ignore[no-any-return]


def sign1_of(vector: dict[str, object]) -> list[object] | None:
    """The vector's COSE_Sign1 array, read with cbor2 alone (tags 61 and 18 taken off), or None."""
    try:
        item = cbor2.loads(bytes.fromhex(str(vector["COSE"])))
    except (KeyError, ValueError, cbor2.CBORDecodeError):
        return None
    while isinstance(item, cbor2.CBORTag):
        item = item.value
    return list(item) if isinstance(item, (list, tuple)) and len(item) == 4 else None


def kid_in_cose(sign1: list[object]) -> bytes | None:
    """The kid as the DCC reads it: protected header label 4, else unprotected label 4."""
    protected = cbor2.loads(sign1[0]) if sign1[0] else {}  # type: ignore[arg-type]
    unprotected = sign1[1]
    if 4 in protected:
        return protected[4]  # type: ignore[no-any-return]
    return unprotected.get(4) if hasattr(unprotected, "get") else None


def certificate_type(sign1: list[object]) -> str | None:
    """The one certificate type (v, t or r) in the vector's CWT claim -260 -> 1, read with cbor2 alone."""
    hcert = cbor2.loads(sign1[2]).get(-260, {}).get(1, {})  # type: ignore[arg-type]
    found = [TYPES[k] for k in hcert if k in TYPES]
    return found[0] if len(found) == 1 else None


def refusal(call: Callable[[], object]) -> str:
    """The one-line message of the TrustFileError that `call` raises."""
    with pytest.raises(TrustFileError) as refused:
        call()
    assert "\n" not in str(refused.value)
    return str(refused.value)


def epoch(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


# --------------------------------------------------------------------------- the member states' DSCs


def test_every_vectors_dsc_has_the_kid_its_cose_carries() -> None:
    checked, wrong = 0, []
    for name, vector in vectors():
        sign1 = sign1_of(vector)
        carried = kid_in_cose(sign1) if sign1 is not None else None
        if carried is None:  # B1, CBO1, DGC*, H*, Q1, Z*: no COSE to read, or no kid in it
            continue
        checked += 1
        read = read_dsc(der_of(vector))
        assert read.kid == hashlib.sha256(der_of(vector)).digest()[:8]
        assert read.der == der_of(vector)
        if (read.kid == carried) == (Path(name).stem in WRONG_KID):
            wrong.append(name)
    assert wrong == []
    assert checked >= 350  # 374 vectors: all but the dozen without a COSE


@pytest.mark.parametrize(("name", "allowed"), [
    ("CO6", {"test"}), ("CO7", {"test"}), ("CO8", {"vaccination"}), ("CO9", {"vaccination"}),
    ("CO10", {"recovery"}), ("CO11", {"recovery"}), ("CO12", {"test"}), ("CO13", {"vaccination"}),
    ("CO14", {"recovery"}), ("CO15", ALL),  # "no OID present": an empty EKU, which `cryptography` refuses
])
def test_the_catalogues_key_usage_vectors(name: str, allowed: set[str]) -> None:
    vector = catalogue(name)
    read = read_dsc(der_of(vector))
    assert read.certificates == allowed  # from the vector's description ("OID for Test present", ...)
    sign1 = sign1_of(vector)
    assert sign1 is not None
    signed = certificate_type(sign1)
    assert signed is not None
    assert read.allows(signed) is vector["EXPECTEDRESULTS"]["EXPECTEDKEYUSAGE"]  # type: ignore[index]


def test_every_vector_that_states_a_key_usage_agrees() -> None:
    stated = 0
    for name, vector in vectors():
        expected = vector.get("EXPECTEDRESULTS", {}).get("EXPECTEDKEYUSAGE")  # type: ignore[attr-defined]
        sign1 = sign1_of(vector)
        if expected is None or sign1 is None:
            continue
        signed = certificate_type(sign1)
        assert signed is not None, name
        assert read_dsc(der_of(vector)).allows(signed) is expected, name
        stated += 1
    assert stated >= 300  # NL's 288 among them: one DSC for each type


@pytest.mark.parametrize(("name", "not_before", "not_after"), [
    # openssl x509 -noout -dates of each vector's CERTIFICATE
    ("CO3", "2021-05-03T18:00:00Z", "2021-06-02T18:00:00Z"),
    ("CO16", "2023-05-03T18:00:00Z", "2023-06-02T18:00:00Z"),  # the clock is before the DSC
    ("CO17", "2018-05-03T18:00:00Z", "2018-06-02T18:00:00Z"),  # the clock is after the DSC
    ("CO28", "2021-05-12T13:42:58Z", "2023-05-12T14:02:58Z"),
])
def test_validity_of_the_catalogues_dscs(name: str, not_before: str, not_after: str) -> None:
    vector = catalogue(name)
    read = read_dsc(der_of(vector))
    assert (read.not_before, read.not_after) == (epoch(not_before), epoch(not_after))
    assert read.covers(epoch(not_before)) and read.covers(epoch(not_after))  # both ends count
    assert not read.covers(epoch(not_before) - 1) and not read.covers(epoch(not_after) + 1)
    clock = epoch(vector["TESTCTX"]["VALIDATIONCLOCK"])  # type: ignore[index]
    assert read.covers(clock) is (name not in ("CO16", "CO17"))


def test_subject_country_and_key_of_a_national_dsc() -> None:
    sweden = read_dsc(der_of(catalogue("CO28")))  # openssl: C = SE, O = Swedish eHealth Agency, CN = DGC Signer
    assert sweden.country == "SE"
    assert "O=Swedish eHealth Agency" in sweden.subject and "CN=DGC Signer" in sweden.subject
    assert isinstance(sweden.public_key, ec.EllipticCurvePublicKey)
    rsa_me = read_dsc(der_of(catalogue("CO1")))  # "VALID: RSA 2048 key"
    assert isinstance(rsa_me.public_key, rsa.RSAPublicKey) and rsa_me.public_key.key_size == 2048
    assert rsa_me.country is None  # CN=RSA-Me has no C=


# --------------------------------------------------------------------------- certificates made here


EC_KEY = ec.generate_private_key(ec.SECP256R1())
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def make_der(*, oids: Sequence[str] | None = None, public: object = None, name: str = "DSC", country: str = "DE",
             serial: int = 1, extensions: Sequence[x509.ExtensionType] = ()) -> bytes:
    """A DSC signed by a throwaway CSCA key: `oids` its EKU (None: no EKU extension)."""
    attributes = [x509.NameAttribute(x509.NameOID.COUNTRY_NAME, country)] if country else []
    subject = x509.Name([*attributes, x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(public if public is not None else EC_KEY.public_key())  # type: ignore[arg-type]
               .serial_number(serial).not_valid_before(START)
               .not_valid_after(START + datetime.timedelta(days=365)))
    if oids is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in oids]), False)
    for extension in extensions:
        builder = builder.add_extension(extension, False)
    return builder.sign(EC_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def pem_of(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(("oids", "allowed"), [
    (None, ALL),  # no EKU at all
    ((), ALL),  # an empty EKU, the catalogue's CO15: written as raw bytes, as cryptography builds none
    (("1.3.6.1.5.5.7.3.1",), ALL),  # serverAuth only: no DCC OID, so all types
    ((EARLY_OIDS[0],), {"test"}),
    ((EARLY_OIDS[1], EARLY_OIDS[2]), {"vaccination", "recovery"}),
    ((OIDS[0],), {"test"}),
    ((OIDS[1],), {"vaccination"}),
    ((OIDS[2], "1.3.6.1.5.5.7.3.1"), {"recovery"}),
    ((OIDS[0], EARLY_OIDS[2]), {"test", "recovery"}),
    (OIDS, ALL),
])
def test_extended_key_usage(oids: Sequence[str] | None, allowed: set[str]) -> None:
    if oids == ():
        empty = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.37"), b"\x30\x00")  # SEQUENCE {}
        der = make_der(extensions=[empty])
    else:
        der = make_der(oids=oids)
    read = read_dsc(der)
    assert read.certificates == allowed
    assert all(read.allows(t) is (t in allowed) for t in ALL)


def test_two_eku_extensions_make_the_dsc_unreadable() -> None:
    # cryptography will not build it: an extension 2.5.29.99 with an EKU's value, renamed 2.5.29.37 in the DER.
    value = x509.ExtendedKeyUsage([x509.ObjectIdentifier(OIDS[0])]).public_bytes()
    der = make_der(oids=[OIDS[1]], extensions=[x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), value)])
    assert der.count(b"\x06\x03\x55\x1d\x63") == 1
    twice = der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x25")
    assert refusal(lambda: read_dsc(twice)) == "its extended key usage extension is not valid DER"


def test_pem_and_der_give_the_same_dsc_and_the_kid_of_the_der() -> None:
    der = make_der(oids=[OIDS[1]], name="Gesundheit", country="DE")
    from_der, from_pem = read_dsc(der), read_dsc(pem_of(der))
    assert from_der == from_pem
    assert from_pem.kid == hashlib.sha256(der).digest()[:8] and from_pem.der == der
    assert (from_pem.country, from_pem.subject) == ("DE", "CN=Gesundheit,C=DE")  # RFC 4514: last RDN first
    assert (from_pem.not_before, from_pem.not_after) == (1_767_225_600, 1_767_225_600 + 365 * 86400)
    second = make_der(serial=2)  # ECDSA signs with a random nonce: every certificate made is another
    text = b"Bag Attributes: from a keystore\n" + pem_of(der) + b"\n" + pem_of(second)
    assert [d.kid for d in read_dscs(text)] == [from_der.kid, hashlib.sha256(second).digest()[:8]]
    assert refusal(lambda: read_dsc(text)) == "2 certificates, expected one"
    broken = pem_of(der) + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert refusal(lambda: read_dscs(broken)) == "certificate 2: not an X.509 certificate in DER or PEM"
    assert refusal(lambda: read_dscs(text, limit=1)) == "2 certificates, more than the 1 a trust bundle may hold"


def test_a_subject_is_one_printable_line() -> None:
    read = read_dsc(make_der(name="Evil\nkid 0000000000000000  valid now\x1b[2J", country=""))
    assert "\n" not in read.subject and "\x1b" not in read.subject
    assert read.subject == "CN=Evil\\u000akid 0000000000000000  valid now\\u001b[2J"
    assert read.country is None


@pytest.mark.parametrize(("public", "problem"), [
    (ec.generate_private_key(ec.SECP384R1()).public_key(), "an EC key on secp384r1, not P-256 (the DCC's ES256)"),
    (rsa.generate_private_key(65537, 1024).public_key(), "an RSA key of 1024 bits, outside 2048..8192"),
    (ed25519.Ed25519PrivateKey.generate().public_key(), "a key that is neither EC P-256 nor RSA"),
])
def test_keys_the_dcc_cannot_use_are_refused(public: object, problem: str) -> None:
    with pytest.raises(TrustFileError) as refused:
        read_dsc(make_der(public=public))
    assert str(refused.value).startswith(problem)


def test_an_rsa_3072_key_is_read() -> None:
    assert read_dsc(make_der(public=rsa.generate_private_key(65537, 3072).public_key())).certificates == ALL


GARBAGE = b"\x30\x82\x01\x00" + b"\xde\xad\xbe\xef" * 64


@pytest.mark.parametrize(("data", "problem"), [
    (GARBAGE, "not an X.509 certificate in DER or PEM"),
    (b"", "neither a DER certificate nor PEM with a CERTIFICATE block"),
    (b"hello, world", "neither a DER certificate nor PEM with a CERTIFICATE block"),
    (b"-----BEGIN CERTIFICATE-----\n!!notbase64!!\n-----END CERTIFICATE-----\n", "the PEM block is not Base64"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not an X.509 certificate in DER or PEM"),
])
def test_garbage_is_one_line_without_the_bytes(data: bytes, problem: str) -> None:
    with pytest.raises(TrustFileError) as refused:
        read_dsc(data)
    assert str(refused.value) == problem


def test_bytes_after_the_certificate_are_refused() -> None:
    assert refusal(lambda: read_dsc(make_der() + b"\x00")) == "not an X.509 certificate in DER or PEM"


def test_an_oversize_dsc_is_refused_before_it_is_parsed() -> None:
    padding = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x04\x82\x40\x00" + bytes(16384))
    der = make_der(extensions=[padding])
    assert len(der) > 16 * 1024
    assert refusal(lambda: read_dsc(der)) == f"{len(der):,} bytes, more than the 16,384 a DSC may be"
    near = make_der(extensions=[x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), bytes(15000))])
    assert 15000 < len(near) <= 16 * 1024 and read_dsc(near).certificates == ALL


def test_every_truncation_and_bit_flip_is_a_dsc_or_one_refusal() -> None:
    der = make_der(oids=[OIDS[0], EARLY_OIDS[1]])
    outcomes = set()
    for cut in range(len(der)):
        with pytest.raises(TrustFileError):
            read_dsc(der[:cut])
    for at in range(len(der)):
        for bit in (0x01, 0x80):
            flipped = der[:at] + bytes([der[at] ^ bit]) + der[at + 1:]
            try:
                outcomes.add(frozenset(read_dsc(flipped).certificates))
            except TrustFileError as err:
                assert "\n" not in str(err)
                outcomes.add(frozenset({"refused"}))
    assert frozenset({"refused"}) in outcomes and frozenset({"test", "vaccination"}) in outcomes


# --------------------------------------------------------------------------- the bundle's "dsc" entry


def bundle(*, seq: int = 1, dscs: Sequence[bytes] = (), revoked: Sequence[bytes] = ()) -> bytes:
    grant = KeyGrant(pub("issuer"), "CN-120000", NOW - 86400, NOW + 86400)
    return sign_bundle(key("root"), seq=seq, iat=NOW, keys=[grant], revoked=revoked, dscs=dscs)


def raw_bundle(**extra: object) -> bytes:
    """A bundle payload written out by hand, signed by the root: for entries sign_bundle would never make."""
    payload = {"type": "trust", "seq": 1, "iat": NOW, "keys": [], "revoked": [], **extra}
    return cose.sign(cbor2.dumps(payload), key("root"))


def payload_of(data: bytes) -> dict[str, object]:
    return cbor2.loads(cbor2.loads(data).value[2])  # type: ignore[no-any-return]


def test_a_bundle_carries_its_dscs_by_kid() -> None:
    test_only, vaccination = make_der(oids=[OIDS[0]], serial=1), make_der(oids=[EARLY_OIDS[1]], serial=2)
    national = der_of(catalogue("CO28"))
    data = bundle(dscs=[test_only, vaccination, national, test_only])
    assert payload_of(data)["dsc"] == [test_only, vaccination, national, test_only]
    read = parse_bundle(data, ROOTS)
    by_kid = {hashlib.sha256(d).digest()[:8]: d for d in (test_only, vaccination, national)}
    assert set(read.dscs) == set(by_kid)
    for kid_, der in by_kid.items():
        assert [d.der for d in read.dscs[kid_]] == [der]  # the same certificate twice counts once
    assert read.dscs[hashlib.sha256(test_only).digest()[:8]][0].certificates == {"test"}
    assert read.dscs[bytes.fromhex("5f74910195c5cecb")][0].country == "SE"  # CO28's kid, from its COSE
    assert list(read.keys) == [kid("issuer")]  # the issuer keys are as they were


def test_a_bundle_without_dscs_is_byte_for_byte_what_it_was() -> None:
    data = bundle()
    assert "dsc" not in payload_of(data)
    grant = KeyGrant(pub("issuer"), "CN-120000", NOW - 86400, NOW + 86400)
    old_payload = {"type": "trust", "seq": 1, "iat": NOW,
                   "keys": [{"kid": kid("issuer"), "pub": pub("issuer"), "iss": grant.iss, "nbf": grant.nbf,
                             "exp": grant.exp}], "revoked": []}  # spec section 4 before HC1
    assert data == cose.sign(cbor2.dumps(old_payload), key("root"))
    assert parse_bundle(data, ROOTS).dscs == {}


def test_a_revoked_kid_may_be_a_dscs() -> None:
    der = make_der()
    read = parse_bundle(bundle(dscs=[der], revoked=[hashlib.sha256(der).digest()[:8]]), ROOTS)
    assert hashlib.sha256(der).digest()[:8] in read.revoked and hashlib.sha256(der).digest()[:8] in read.dscs


def test_a_kid_may_name_two_dscs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dsc, "kid_of_der", lambda der: b"\x00" * 8)  # a collision of 8 bytes, made to order
    first, second = make_der(serial=1), make_der(serial=2)
    read = parse_bundle(bundle(dscs=[first, second]), ROOTS)
    assert list(read.dscs) == [b"\x00" * 8]
    assert [d.der for d in read.dscs[b"\x00" * 8]] == [first, second]


@pytest.mark.parametrize(("dsc_entry", "problem"), [
    ([b"", GARBAGE], "dsc[0]: not an X.509 certificate in DER or PEM"),  # DER only: no PEM in a bundle
    ([None], "dsc[0] is not a byte string of at most 16,384 bytes"),
    (["MIIB..."], "dsc[0] is not a byte string of at most 16,384 bytes"),
    ({"a": b""}, "dsc is not an array"),
    (b"", "dsc is not an array"),
    ([bytes(16385)], "dsc[0] is not a byte string of at most 16,384 bytes"),
    ([bytes(1)] * 10_001, "dsc holds 10,001 certificates, more than 10,000"),
])
def test_a_bundle_with_an_unreadable_dsc_is_refused_in_one_line(dsc_entry: object, problem: str) -> None:
    with pytest.raises(TrustFileError) as refused:
        parse_bundle(raw_bundle(dsc=dsc_entry), ROOTS)
    assert str(refused.value) == problem


def test_the_refusal_names_the_position_of_the_bad_dsc() -> None:
    good = [make_der(serial=n) for n in range(1, 4)]
    with pytest.raises(TrustFileError) as refused:
        parse_bundle(raw_bundle(dsc=[*good, GARBAGE, good[0]]), ROOTS)
    assert str(refused.value) == "dsc[3]: not an X.509 certificate in DER or PEM"
    assert len(parse_bundle(raw_bundle(dsc=good), ROOTS).dscs) == 3


def test_loading_an_installed_bundle_reads_a_dsc_only_when_its_kid_is_looked_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ders = [make_der(serial=n) for n in range(1, 6)]
    data = bundle(dscs=ders)
    reads: list[bytes] = []
    real = dsc.dsc_of_der

    def counting(der: bytes) -> Dsc:
        reads.append(der)
        return real(der)

    monkeypatch.setattr(dsc, "dsc_of_der", counting)
    loaded = parse_bundle(data, ROOTS, check_dscs=False)  # as kiosk.trustdir loads the installed bundle
    kids = [hashlib.sha256(der).digest()[:8] for der in ders]
    assert list(loaded.dscs) == kids and reads == []  # kids known, no certificate read yet
    assert [d.der for d in loaded.dscs[kids[2]]] == [ders[2]]
    assert loaded.dscs[kids[2]] is loaded.dscs[kids[2]] and reads == [ders[2]]  # read once, kept
    assert loaded.dscs.get(bytes(8)) is None and len(reads) == 1
    assert loaded.dscs == parse_bundle(data, ROOTS).dscs  # the same DSCs as a checked read

    monkeypatch.setattr(trust, "dsc_of_der", counting)
    reads.clear()
    checked = parse_bundle(data, ROOTS)  # an import: every DSC read now...
    assert sorted(reads) == sorted(ders)
    assert [checked.dscs[k][0].der for k in kids] == ders and sorted(reads) == sorted(ders)  # ...and not again


def test_a_dsc_that_cannot_be_read_names_nothing_when_the_bundle_was_never_imported() -> None:
    good = make_der()
    data = raw_bundle(dsc=[GARBAGE, good])
    loaded = parse_bundle(data, ROOTS, check_dscs=False)  # a trust.cose copied in by hand: nobody checked it
    assert loaded.dscs[hashlib.sha256(GARBAGE).digest()[:8]] == ()  # its kid names no DSC: unknown, as it were
    assert [d.der for d in loaded.dscs[hashlib.sha256(good).digest()[:8]]] == [good]
    assert loaded.dscs.unreadable() == 1  # type: ignore[attr-defined]
    assert refusal(lambda: parse_bundle(data, ROOTS)) == "dsc[0]: not an X.509 certificate in DER or PEM"


def test_a_dsc_made_here_reads_as_a_value() -> None:
    der = make_der(oids=[OIDS[2]])
    read = dsc_of_der(der)
    assert isinstance(read, Dsc) and read == dsc_of_der(der) and hash(read) == hash(dsc_of_der(der))
    assert "der=" not in repr(read) and "public_key" not in repr(read) and "certificates" in repr(read)
