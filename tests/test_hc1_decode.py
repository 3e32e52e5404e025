"""The HC1 (EU DCC) decoder and its signature check: kiosk/formats/hc1.py.

Two sources of codes. The member states' vectors (tests/data/dgc-testdata), whose expected outcome comes only
from each vector's EXPECTEDRESULTS, DESCRIPTION and its own bytes read by this file's reference reader (RFC 9285
written out here, zlib, cbor2); and codes this file builds and signs itself with keys made here, each breaking
one rule of the issue's "Format" section. Nothing expected is taken from the module under test.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.errors import MalformedCode
from kiosk.formats.hc1 import ScannedDcc, decode_text, verify
from tests.cbor_raw import array, bignum, cmap, half, items, tag, tstr

DATA = Path(__file__).parent / "data" / "dgc-testdata"
VECTORS = sorted(DATA.glob("*/2DCode/raw/**/*.json"))
EARLY_STEPS = ("EXPECTEDUNPREFIX", "EXPECTEDB45DECODE", "EXPECTEDCOMPRESSION", "EXPECTEDDECODE")
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"  # RFC 9285 section 4
CERTIFICATES = {"v": "vaccination", "t": "test", "r": "recovery"}  # the names for the DCC's keys
INFLATED_LIMIT = 64 * 1024  # the plan's bound on zlib's output
QR_TEXT_LIMIT = 4296  # alphanumeric characters in a version 40 QR code (ISO/IEC 18004 table 7)


# -- the reference reader: RFC 9285, zlib and cbor2, for the vectors ---------------------------------------------


def b45(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out.append(ALPHABET[n % 45] + ALPHABET[n // 45 % 45] + ALPHABET[n // 2025])
    if len(data) % 2:
        out.append(ALPHABET[data[-1] % 45] + ALPHABET[data[-1] // 45])
    return "".join(out)


def unb45(text: str) -> bytes:
    values = [ALPHABET.index(c) for c in text]
    out = bytearray()
    for i in range(0, len(values) - 2, 3):
        out += (values[i] + values[i + 1] * 45 + values[i + 2] * 2025).to_bytes(2, "big")
    if len(values) % 3 == 2:
        out.append(values[-2] + values[-1] * 45)
    return bytes(out)


def reference_claims(text: str) -> dict[Any, Any]:
    """The CWT claims of a vector's QR text as cbor2 reads them, past any tags."""
    item = cbor2.loads(zlib.decompress(unb45(text[4:])))
    while isinstance(item, cbor2.CBORTag):
        item = item.value
    claims: dict[Any, Any] = cbor2.loads(item[2])
    return claims


@cache
def vector(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def dsc_der(v: dict[str, Any]) -> bytes:
    return base64.b64decode(v["TESTCTX"]["CERTIFICATE"])


def dsc_key(v: dict[str, Any]) -> object:
    return x509.load_der_x509_certificate(dsc_der(v)).public_key()


def dsc_kid(v: dict[str, Any]) -> bytes:
    """A DSC's kid: the first 8 bytes of the SHA-256 of its DER (the DCC specification, the issue's "Trust")."""
    return hashlib.sha256(dsc_der(v)).digest()[:8]


def common(name: str) -> dict[str, Any]:
    return vector(DATA / "common" / "2DCode" / "raw" / f"{name}.json")


def one_certificate(dcc: dict[str, Any]) -> bool:
    """The issue's rule: exactly one of v/t/r, holding exactly one entry."""
    present = [key for key in CERTIFICATES if key in dcc]
    return len(present) == 1 and isinstance(dcc[present[0]], list) and len(dcc[present[0]]) == 1


# -- every vector ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: str(p.relative_to(DATA)))
def test_each_vector_decodes_or_not_as_its_expected_results_say(path: Path) -> None:
    v = vector(path)
    expected = v.get("EXPECTEDRESULTS", {})
    text = v["PREFIX"]
    if any(expected.get(step) is False for step in EARLY_STEPS):  # prefix, Base45, zlib or CBOR/CWT broken
        with pytest.raises(MalformedCode):
            decode_text(text)
        return
    if expected.get("EXPECTEDVERIFY") is False:  # bad_signature, unknown_key or malformed: never a genuine code
        try:
            scanned = decode_text(text)
        except MalformedCode:
            return
        assert not (scanned.kid == dsc_kid(v) and verify(scanned, dsc_key(v)))
        return
    dcc = reference_claims(text)[-260][1]
    if not one_certificate(dcc):  # the catalogue's DGC1 (none) and DGC2 (three): malformed by the rule
        with pytest.raises(MalformedCode):
            decode_text(text)
        return
    scanned = decode_text(text)
    assert scanned.kid == dsc_kid(v)
    assert verify(scanned, dsc_key(v)) is True
    claims = reference_claims(text)
    key = next(key for key in CERTIFICATES if key in dcc)
    got = scanned.dcc
    assert (got.iss, got.exp, got.iat) == (claims.get(1), claims[4], claims[6])
    assert got.certificate == CERTIFICATES[key]
    assert dict(got.entry) == dcc[key][0]
    assert got.uvci == dcc[key][0].get("ci")
    names = dcc.get("nam", {})
    assert (got.family, got.family_latin, got.given) == (names.get("fn") or None, names.get("fnt") or None,
                                                         names.get("gn") or None)
    assert got.dob == (dcc.get("dob") or None)


def test_the_vectors_are_there() -> None:
    """A folder lost in a copy would make the parametrised test above vanish without a failure."""
    countries = {p.relative_to(DATA).parts[0] for p in VECTORS}
    assert countries == {"common", "NL", "CH", "DE", "AT", "FR"}
    assert len(VECTORS) >= 370


@pytest.mark.parametrize(("name", "kid_is_the_dsc_s"), [
    ("CO18", True),  # KID in protected header correct, KID in unprotected header not present
    ("CO19", True),  # KID in protected header not present, KID in unprotected header correct
    ("CO20", True),  # "correct, correct" (the vector: an empty protected header, alg and kid unprotected)
    ("CO21", True),  # KID in protected header correct, KID in unprotected header not correct
    ("CO22", False),  # KID in protected header not correct, KID in unprotected header correct
    ("CO23", False),  # KID in protected header not present, KID in unprotected header not correct
])
def test_kid_comes_from_the_protected_header_else_the_unprotected_one(name: str, kid_is_the_dsc_s: bool) -> None:
    v = common(name)
    scanned = decode_text(v["PREFIX"])
    assert (scanned.kid == dsc_kid(v)) is kid_is_the_dsc_s
    assert (scanned.kid == dsc_kid(v) and verify(scanned, dsc_key(v))) is v["EXPECTEDRESULTS"]["EXPECTEDVERIFY"]


@pytest.mark.parametrize(("name", "alg", "bits"), [("CO1", -37, 2048), ("CO2", -37, 3072), ("CO3", -7, 256)])
def test_rsa_and_ec_vectors_verify(name: str, alg: int, bits: int) -> None:
    v = common(name)
    scanned = decode_text(v["PREFIX"])
    key = dsc_key(v)
    assert scanned.alg == alg and key.key_size == bits  # type: ignore[attr-defined]
    assert verify(scanned, key) is True
    other = {"CO1": "CO2", "CO2": "CO1", "CO3": "CO18"}[name]  # a key of the same type that did not sign it
    assert verify(scanned, dsc_key(common(other))) is False


def test_a_cwt_tag_around_the_cose_tag_verifies() -> None:
    v = common("CO28")  # "Both CWT and Cose_Sign1 tags present. Everything should verify fine."
    assert bytes.fromhex(v["COSE"])[:2] == b"\xd8\x3d"  # the vector really starts with tag 61
    scanned = decode_text(v["PREFIX"])
    assert verify(scanned, dsc_key(v)) is True


# -- codes built here -------------------------------------------------------------------------------------------

EC_KEY = ec.derive_private_key(0x5EED_C0DE_2021, ec.SECP256R1())
EC_OTHER = ec.derive_private_key(0x0DD_C0DE_2021, ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = bytes.fromhex("00112233aabbccdd")
IAT, EXP = 1_780_000_000, 1_780_000_000 + 365 * 86400
ENTRIES: dict[str, dict[str, object]] = {
    "v": {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2, "sd": 2,
          "dt": "2026-04-01", "co": "AT", "is": "Ministry of Health", "ci": "URN:UVCI:01:AT:TEST#1"},
    "t": {"tg": "840539006", "tt": "LP6464-4", "sc": "2026-05-27T08:00:00Z", "tr": "260415000", "tc": "Vienna",
          "co": "AT", "is": "Ministry of Health", "ci": "URN:UVCI:01:AT:TEST#2"},
    "r": {"tg": "840539006", "fr": "2026-03-01", "df": "2026-03-12", "du": "2026-08-28", "co": "AT",
          "is": "Ministry of Health", "ci": "URN:UVCI:01:AT:TEST#3"},
}
NAM = {"fn": "Мустерфрау", "fnt": "MUSTERFRAU", "gn": "Габриэле", "gnt": "GABRIELE"}
DROP = object()


def enc(value: object) -> bytes:
    return cbor2.dumps(value)


def dcc_map(certificate: str = "v", **changes: object) -> dict[str, object]:
    dcc: dict[str, object] = {"ver": "1.3.0", "nam": dict(NAM), "dob": "1990-01-31",
                              certificate: [dict(ENTRIES[certificate])]}
    for name, value in changes.items():
        if value is DROP:
            dcc.pop(name, None)
        else:
            dcc[name] = value
    return dcc


def entry_with(certificate: str, **changes: object) -> dict[str, object]:
    entry = dict(ENTRIES[certificate])
    for name, value in changes.items():
        if value is DROP:
            entry.pop(name)
        else:
            entry[name] = value
    return dcc_map(certificate, **{certificate: [entry]})


def claims(dcc: object = None, **changes: object) -> dict[object, object]:
    top: dict[object, object] = {1: "AT", 4: EXP, 6: IAT, -260: {1: dcc_map() if dcc is None else dcc}}
    for name, value in changes.items():
        label = int(name[1:].replace("m", "-"))  # c1, c4, c6, cm260
        if value is DROP:
            top.pop(label)
        else:
            top[label] = value
    return top


def signature(protected: bytes, payload: bytes, key: object, salt: int = 32) -> bytes:
    """Sign the RFC 9052 Sig_structure, as cbor2 encodes it, with the key's algorithm (ES256 as r || s)."""
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(signed, padding.PSS(padding.MGF1(hashes.SHA256()), salt), hashes.SHA256())


def cose(payload: object = None, *, protected: object = None, unprotected: object = None, key: object = EC_KEY,
         sig: bytes | None = None, wrap: Callable[[object], object] = lambda a: cbor2.CBORTag(18, a)) -> bytes:
    """COSE bytes: every part a value (encoded by cbor2) or raw bytes; signed over what is sent."""
    alg = -7 if isinstance(key, ec.EllipticCurvePrivateKey) else -37
    if protected is None:
        protected = {1: alg, 4: KID}
    head = protected if isinstance(protected, bytes) else cbor2.dumps(protected)
    body = payload if isinstance(payload, bytes) else cbor2.dumps(claims() if payload is None else payload)
    if sig is None:
        sig = signature(head, body, key)
    return cbor2.dumps(wrap([head, {} if unprotected is None else unprotected, body, sig]))


def text(cose_bytes: bytes | None = None, squeeze: Callable[[bytes], bytes] = zlib.compress) -> str:
    return "HC1:" + b45(squeeze(cose() if cose_bytes is None else cose_bytes))


def malformed(code: str) -> str:
    with pytest.raises(MalformedCode) as caught:
        decode_text(code)
    return str(caught.value)


def test_a_code_made_here_reads_back_claim_by_claim() -> None:
    scanned = decode_text(text())
    got = scanned.dcc
    assert (scanned.alg, scanned.kid) == (-7, KID)
    assert (got.iss, got.iat, got.exp) == ("AT", IAT, EXP)
    assert (got.certificate, dict(got.entry)) == ("vaccination", ENTRIES["v"])
    assert (got.family, got.family_latin, got.given, got.dob) == (NAM["fn"], NAM["fnt"], NAM["gn"], "1990-01-31")
    assert got.uvci == ENTRIES["v"]["ci"]
    with pytest.raises(TypeError):
        got.entry["dn"] = 3  # type: ignore[index]  # the entry is a value: nobody downstream edits it


@pytest.mark.parametrize("key", ["v", "t", "r"])
def test_the_certificate_is_named_by_its_key(key: str) -> None:
    got = decode_text(text(cose(claims(dcc_map(key))))).dcc
    assert got.certificate == CERTIFICATES[key]
    assert dict(got.entry) == ENTRIES[key]


def test_es256_and_ps256_verify_with_their_own_key_only() -> None:
    ec_code = decode_text(text(cose(key=EC_KEY)))
    rsa_code = decode_text(text(cose(key=RSA_KEY)))
    assert (ec_code.alg, rsa_code.alg) == (-7, -37)
    assert verify(ec_code, EC_KEY.public_key()) is True
    assert verify(rsa_code, RSA_KEY.public_key()) is True
    assert verify(ec_code, EC_OTHER.public_key()) is False
    assert verify(rsa_code, rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()) is False


def test_a_key_of_the_wrong_type_never_verifies() -> None:
    """The key's type picks the algorithm with the header: ES256 only with P-256, PS256 only with RSA."""
    ec_code, rsa_code = decode_text(text(cose(key=EC_KEY))), decode_text(text(cose(key=RSA_KEY)))
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    point = EC_KEY.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    for wrong in (RSA_KEY.public_key(), p384, ed, None, point, RSA_KEY):
        assert verify(ec_code, wrong) is False
    for wrong in (EC_KEY.public_key(), p384, ed, None, point, RSA_KEY):
        assert verify(rsa_code, wrong) is False
    # An alg sent unprotected (as the catalogue's CO20 does) can be changed by anyone: the signature's size and
    # the key's type still hold the algorithm to the one the signer used.
    head, body = b"", enc(claims())
    sig = signature(head, body, EC_KEY)
    relabelled = cose(body, protected=head, unprotected={1: -37, 4: KID}, sig=sig)
    assert "signature" in malformed(text(relabelled))
    assert verify(replace(ec_code, alg=-37), EC_KEY.public_key()) is False
    assert verify(replace(rsa_code, alg=-7), RSA_KEY.public_key()) is False


def test_the_signature_covers_the_protected_header_and_the_payload() -> None:
    head = cbor2.dumps({1: -7, 4: KID})
    body = cbor2.dumps(claims())
    sig = signature(head, body, EC_KEY)
    assert verify(decode_text(text(cose(body, protected=head, sig=sig))), EC_KEY.public_key()) is True
    other_body = cbor2.dumps(claims(c1="DE"))
    assert verify(decode_text(text(cose(other_body, protected=head, sig=sig))), EC_KEY.public_key()) is False
    other_head = cbor2.dumps({4: KID, 1: -7})  # the same map, other bytes: the bytes as sent are what is signed
    assert verify(decode_text(text(cose(body, protected=other_head, sig=sig))), EC_KEY.public_key()) is False
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert verify(decode_text(text(cose(body, protected=head, sig=flipped))), EC_KEY.public_key()) is False


def test_ps256_means_a_salt_of_32_bytes() -> None:
    head = cbor2.dumps({1: -37, 4: KID})
    body = cbor2.dumps(claims())
    for salt, verifies in ((32, True), (20, False), (64, False)):
        sig = signature(head, body, RSA_KEY, salt=salt)
        assert verify(decode_text(text(cose(body, protected=head, sig=sig))), RSA_KEY.public_key()) is verifies


# -- the envelope ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("wrap", "reads"), [
    (lambda a: cbor2.CBORTag(18, a), True),
    (lambda a: a, True),
    (lambda a: cbor2.CBORTag(61, cbor2.CBORTag(18, a)), True),
    (lambda a: cbor2.CBORTag(61, a), False),  # the CWT tag holds a COSE message, which says what it is
    (lambda a: cbor2.CBORTag(98, a), False),  # COSE_Sign: not what HC1 sends
    (lambda a: cbor2.CBORTag(17, a), False),  # COSE_Mac0
    (lambda a: cbor2.CBORTag(61, cbor2.CBORTag(61, cbor2.CBORTag(18, a))), False),
    (lambda a: cbor2.CBORTag(55799, cbor2.CBORTag(18, a)), False),
], ids=["tag18", "untagged", "tag61-tag18", "tag61-untagged", "tag98", "tag17", "tag61-tag61", "self-describe"])
def test_cose_sign1_is_tag_18_untagged_or_tag_61_around_tag_18(wrap: Callable[[object], object], reads: bool) -> None:
    code = text(cose(wrap=wrap))
    if reads:
        assert verify(decode_text(code), EC_KEY.public_key()) is True
    else:
        malformed(code)


@pytest.mark.parametrize(("protected", "unprotected", "alg", "kid"), [
    ({1: -7, 4: KID}, {}, -7, KID),
    ({1: -7}, {4: KID}, -7, KID),
    ({1: -7, 4: KID}, {4: b"other"}, -7, KID),  # the protected kid wins, right or wrong
    ({1: -7, 4: b"foo"}, {4: KID}, -7, b"foo"),
    (b"", {1: -7, 4: KID}, -7, KID),  # empty protected header: alg and kid unprotected (the catalogue's CO20)
    ({1: -7}, {}, -7, None),
    ({1: -7}, {1: -37}, -7, None),  # the protected alg wins
    ({4: KID}, {1: -7, 4: b"foo"}, -7, KID),
    ({1: -7, 4: KID, "4": b"x", 99: "unknown"}, {"1": -37}, -7, KID),  # text labels are other labels
])
def test_alg_and_kid_come_from_the_protected_header_else_the_unprotected_one(
        protected: object, unprotected: dict[object, object], alg: int, kid: bytes | None) -> None:
    scanned = decode_text(text(cose(protected=protected, unprotected=unprotected)))
    assert (scanned.alg, scanned.kid) == (alg, kid)
    assert verify(scanned, EC_KEY.public_key()) is True


@pytest.mark.parametrize(("protected", "unprotected"), [
    ({4: KID}, {}),  # no alg anywhere
    ({1: -8, 4: KID}, {}),  # EdDSA: PHC1's, not HC1's
    ({1: -35, 4: KID}, {}),  # ES384
    ({1: -257, 4: KID}, {}),  # RS256
    ({1: "ES256", 4: KID}, {}),
    ({1: -8, 4: KID}, {1: -7}),  # a bad protected alg is not rescued by an unprotected one
    ({}, {1: -36, 4: KID}),
    ({1: -7, 4: "00112233aabbccdd"}, {}),  # kid as text
    ({1: -7, 4: b""}, {}),
    ({1: -7, 4: b"k" * 65}, {}),
    ({1: -7}, {4: 7}),
    ({1: -7, 2: [99], 4: KID}, {}),  # crit: labels that must be understood
    (cbor2.dumps([1, -7]), {}),  # a protected header that is not a map
    (cbor2.dumps({1: -7, 4: KID}) + b"\x00", {}),  # bytes after it
    (b"\xa1\x01", {}),  # cut short
    (b"\xa2\x01\x26\x01\x26", {}),  # a duplicate label
    (bytes.fromhex("a1") + bignum(1) + b"\x26", {}),  # alg under a bignum label is no alg
])
def test_a_header_that_breaks_the_rules_is_malformed(protected: object, unprotected: object) -> None:
    malformed(text(cose(protected=protected, unprotected=unprotected)))


def test_an_envelope_that_breaks_the_rules_is_malformed() -> None:
    head, body = cbor2.dumps({1: -7, 4: KID}), cbor2.dumps(claims())
    sig = signature(head, body, EC_KEY)
    for parts in ([head, {}, body], [head, {}, body, sig, b""], [{1: -7}, {}, body, sig], [head, [], body, sig],
                  [head, {}, None, sig], [head, {}, claims(), sig], [head, {}, body, sig.hex()],
                  [head, {}, body, sig[:63]], [head, {}, body, sig + b"\x00"]):
        malformed(text(cbor2.dumps(cbor2.CBORTag(18, parts))))
    malformed(text(cbor2.dumps({"cose": [head, {}, body, sig]})))
    malformed(text(cbor2.dumps(cbor2.CBORTag(18, [head, {}, body, sig])) + b"\x00"))  # the catalogue's CBO2
    rsa_head = cbor2.dumps({1: -37, 4: KID})
    rsa_sig = signature(rsa_head, body, RSA_KEY)
    for cut in (rsa_sig[:255], rsa_sig[:128], rsa_sig * 3):  # RSA 2048 to 4096 bits: 256 to 512 bytes
        malformed(text(cbor2.dumps(cbor2.CBORTag(18, [rsa_head, {}, body, cut]))))


# -- the claims --------------------------------------------------------------------------------------------------


def test_the_issuing_country_is_optional() -> None:
    assert decode_text(text(cose(claims(c1=DROP)))).dcc.iss is None


@pytest.mark.parametrize("payload", [
    claims(c1=276), claims(c1=b"AT"), claims(c1=""), claims(c1="A" * 65),
    claims(c4=DROP), claims(c4="2027-01-01"), claims(c4=1.8e9), claims(c4=cbor2.CBORTag(1, EXP)),
    claims(c4=2**64), claims(c6=DROP), claims(c6=None), claims(c6=True),
    claims(cm260=DROP), claims(cm260=[dcc_map()]), claims(cm260={2: dcc_map()}), claims(cm260={"1": dcc_map()}),
    claims(cm260={1: cbor2.dumps(dcc_map())}),  # the catalogue's CBO1: the DCC as a byte string
    claims(cm260={1: [dcc_map()]}), [claims()], "claims",
], ids=lambda p: json.dumps(p, default=repr)[:60])
def test_claims_that_break_the_rules_are_malformed(payload: object) -> None:
    malformed(text(cose(payload)))


@pytest.mark.parametrize("raw", [
    # Written byte by byte: cbor2 would never write these (tests/cbor_raw.py).
    bytes.fromhex("a4") + b"\x01" + tstr("AT") + b"\x04" + bignum(EXP) + b"\x06\x1a\x6a\x18\x44\x80"
    + b"\x39\x01\x03" + cbor2.dumps({1: dcc_map()}),  # exp as a bignum
    bytes.fromhex("a4") + b"\x01" + tstr("AT") + b"\x04" + half(4.0) + b"\x06\x1a\x6a\x18\x44\x80"
    + b"\x39\x01\x03" + cbor2.dumps({1: dcc_map()}),  # exp as a half float
    bytes.fromhex("a4") + b"\x01" + tstr("AT") + b"\x04\x1a\x6c\x05\x29\x80" + b"\x06\x1a\x6a\x18\x44\x80"
    + half(-260.0) + cbor2.dumps({1: dcc_map()}),  # hcert under the float label -260.0
    cbor2.dumps(claims()) + b"\xff",
])
def test_claims_written_by_hand_that_break_the_rules_are_malformed(raw: bytes) -> None:
    malformed(text(cose(raw)))


@pytest.mark.parametrize("dcc", [
    dcc_map("v", v=DROP),  # none of v/t/r (the catalogue's DGC1)
    {**dcc_map("v"), "t": [ENTRIES["t"]]},
    {**dcc_map("v"), "t": [ENTRIES["t"]], "r": [ENTRIES["r"]]},  # the catalogue's DGC2
    dcc_map("v", v=[]), dcc_map("v", v=[ENTRIES["v"], ENTRIES["v"]]), dcc_map("v", v=ENTRIES["v"]),
    dcc_map("v", v=["entry"]), dcc_map("v", v=None), {**dcc_map("v"), "t": []},
    [dcc_map()], "dcc",
], ids=lambda d: json.dumps(d, default=repr)[:60])
def test_not_exactly_one_certificate_with_one_entry_is_malformed(dcc: object) -> None:
    malformed(text(cose(claims(dcc))))


@pytest.mark.parametrize(("certificate", "field"), [
    (c, f) for c, fields in {"v": ("dn", "sd", "dt"), "t": ("tt", "sc", "tr"), "r": ("fr", "df", "du")}.items()
    for f in fields
])
def test_an_entry_without_a_field_the_verdict_reads_is_malformed(certificate: str, field: str) -> None:
    malformed(text(cose(claims(entry_with(certificate, **{field: DROP})))))


@pytest.mark.parametrize(("certificate", "changes"), [
    ("v", {"dn": "2"}), ("v", {"sd": 2.0}), ("v", {"dn": -1}), ("v", {"sd": True}), ("v", {"dt": 20260401}),
    ("v", {"dt": cbor2.CBORTag(0, "2026-04-01T00:00:00Z")}),  # DCC dates are text, never a tagged date
    ("v", {"ci": b"URN"}), ("t", {"tr": 260415000}), ("t", {"sc": None}), ("r", {"du": ["2026-08-28"]}),
    ("v", {"dn": 2**64}),
])
def test_an_entry_field_of_the_wrong_type_is_malformed(certificate: str, changes: dict[str, object]) -> None:
    malformed(text(cose(claims(entry_with(certificate, **changes)))))


def test_unknown_entry_fields_are_kept_and_uvci_is_optional() -> None:
    got = decode_text(text(cose(claims(entry_with("t", ci=DROP, xx=[1, 2], tr="260373001"))))).dcc
    assert got.uvci is None
    assert got.entry["xx"] == [1, 2] and got.entry["tr"] == "260373001"


@pytest.mark.parametrize(("dcc", "names"), [
    (dcc_map(nam=DROP, dob=DROP), (None, None, None, None)),
    (dcc_map(nam={"fnt": "X"}), (None, "X", None, "1990-01-31")),
    (dcc_map(nam={"fn": "", "fnt": "MUSTER", "gn": ""}, dob=""), (None, "MUSTER", None, None)),
    (dcc_map(nam={"fn": "张", "fnt": "ZHANG", "gn": "三", 7: "x"}), ("张", "ZHANG", "三", "1990-01-31")),
])
def test_names_and_date_of_birth_are_optional(dcc: dict[str, object], names: tuple[object, ...]) -> None:
    got = decode_text(text(cose(claims(dcc)))).dcc
    assert (got.family, got.family_latin, got.given, got.dob) == names


@pytest.mark.parametrize("dcc", [
    dcc_map(nam=["Muster"]), dcc_map(nam="Muster"), dcc_map(nam={"fn": 7}), dcc_map(nam={"fnt": b"X"}),
    dcc_map(nam={"gn": ["G"]}), dcc_map(dob=19900131),
])
def test_names_of_the_wrong_type_are_malformed(dcc: dict[str, object]) -> None:
    malformed(text(cose(claims(dcc))))


# -- text, Base45, zlib -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "", "HC1", "hc1:" + text()[4:], "HC2:" + text()[4:], "HL0:" + text()[4:], text()[4:], " " + text(),
    "HC1:" + text()[4:].lower(), "HC1:" + text()[4:] + "~", "HC1:" + text()[4:] + "A", "HC1:GGW", "HC1:",
])
def test_a_wrong_prefix_or_broken_base45_is_malformed(code: str) -> None:
    malformed(code)


def test_the_text_is_bounded_by_what_a_qr_code_holds() -> None:
    code = text()
    assert len(code) < QR_TEXT_LIMIT
    decode_text(code)
    message = malformed(code + "0" * (QR_TEXT_LIMIT + 1 - len(code)))
    assert "longer than" in message


def test_inflating_stops_at_64_kib() -> None:
    def padded(size: int) -> bytes:
        """A signed code whose COSE bytes are exactly `size` long: grown by an unknown claim, then evened out
        by an unknown label in the unprotected header (byte string heads grow in steps)."""
        pad = size - len(cose())
        while len(cose(claims(c99="x" * pad))) > size - 8:
            pad -= 1
        body = enc(claims(c99="x" * pad))
        for extra in range(24):
            raw = cose(body, unprotected={99: b"u" * extra})
            if len(raw) == size:
                return raw
        raise AssertionError("the padding could not hit the size")

    at_limit, over = padded(INFLATED_LIMIT), padded(INFLATED_LIMIT + 1)
    assert verify(decode_text(text(at_limit)), EC_KEY.public_key()) is True
    assert "inflates to more than" in malformed(text(over))
    bomb = zlib.compress(b"\x00" * 2_500_000, 9)  # fits in one QR code, inflates to 2.5 MB
    assert len("HC1:" + b45(bomb)) <= QR_TEXT_LIMIT
    assert "inflates to more than" in malformed("HC1:" + b45(bomb))


@pytest.mark.parametrize("squeeze", [
    lambda raw: raw,  # not compressed (the catalogue's Z2)
    lambda raw: zlib.compress(raw)[:-1],  # the checksum cut
    lambda raw: zlib.compress(raw)[: len(zlib.compress(raw)) // 2],  # cut short
    lambda raw: zlib.compress(raw) + b"\x00",  # bytes after the stream
    lambda raw: zlib.compress(raw) + zlib.compress(raw),  # two streams
    lambda raw: zlib.compress(raw)[:-4] + bytes(4),  # a wrong checksum
    lambda raw: b"\x78\x9c" + zlib.compress(raw)[2:][::-1],  # broken blocks (the catalogue's Z1 is alike)
    lambda raw: zlib.compressobj(wbits=-15).compress(raw) + zlib.compressobj(wbits=-15).flush(),  # raw deflate
    gzip.compress,
    lambda raw: (lambda c: c.compress(raw) + c.flush())(zlib.compressobj(zdict=b"HC1 dictionary")),  # preset dict
    lambda raw: b"",
], ids=["none", "no-checksum", "cut", "trailing", "two-streams", "bad-checksum", "broken", "raw-deflate", "gzip",
        "preset-dictionary", "empty"])
def test_absent_or_broken_compression_is_malformed(squeeze: Callable[[bytes], bytes]) -> None:
    malformed(text(squeeze=squeeze))


def test_messages_are_one_line_and_never_quote_the_code() -> None:
    marker = "QQ\nMARKER"
    codes = [
        text(cose(claims(c1=marker * 20))), text(cose(claims(c4=marker))), text(cose(claims(dcc_map(nam={"fn": 1})))),
        text(cose(protected={1: marker, 4: KID})), text(cose(protected={1: -7, 4: marker})),
        text(cose(claims(dcc_map(**{"v": [{**ENTRIES["v"], "dn": marker}]})))),
        text(cose(claims(cm260={1: marker}))), text(cose(wrap=lambda a: cbor2.CBORTag(123456789, a))),
        text(cbor2.dumps({marker: marker}) + b"\xff"), "HC1:" + marker, "HC1:" + b45(marker.encode()),
        text(cmap((tstr(marker), b"\x00"), (tstr(marker), b"\x00"))),  # cbor2 names a duplicate key
        text(cose(protected=cmap((tstr(marker), b"\x00"), (tstr(marker), b"\x00")))),
        text(cose(cmap((tstr(marker), b"\x00"), (tstr(marker), b"\x00")))),
        text(cose(claims(dcc_map(**{"v": [{**ENTRIES["v"], marker: 1}], "t": [marker]})))),
    ]
    for code in codes:
        message = malformed(code)
        assert "\n" not in message and "MARKER" not in message and "123456789" not in message, message


# -- any text at all --------------------------------------------------------------------------------------------

many = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])
KEYS = [EC_KEY.public_key(), RSA_KEY.public_key(), EC_OTHER.public_key(), None]


def decodes_or_is_malformed(code: str) -> None:
    """The one property: a value or MalformedCode with a one-line message; verify() then says yes or no."""
    try:
        scanned = decode_text(code)
    except MalformedCode as err:
        assert "\n" not in str(err)
        return
    assert isinstance(scanned, ScannedDcc)
    assert scanned.dcc.certificate in CERTIFICATES.values()
    for key in KEYS:
        assert verify(scanned, key) in (True, False)


@many
@given(st.text(alphabet=st.sampled_from(ALPHABET + "abc€\x00\n"), max_size=300))
def test_any_text_after_the_prefix(tail: str) -> None:
    decodes_or_is_malformed("HC1:" + tail)


@many
@given(st.one_of(st.binary(max_size=400), items.map(zlib.compress), st.binary(max_size=400).map(zlib.compress)))
def test_any_bytes_in_base45(data: bytes) -> None:
    decodes_or_is_malformed("HC1:" + b45(data))


def spliced(genuine: dict[Any, Any], label: object, item: bytes) -> bytes:
    """A map as cbor2 writes `genuine`, with the raw bytes `item` as the value under `label` (added if absent)."""
    pairs = [(enc(key), item if key == label else enc(value)) for key, value in genuine.items()]
    if label not in genuine:
        pairs.append((enc(label), item))
    return cmap(*pairs)


def in_dcc(certificate: str, label: str, item: bytes) -> bytes:
    return spliced(claims(), -260, cmap((enc(1), spliced(dcc_map(certificate), label, item))))


# Where arbitrary CBOR goes: each builds a whole code (its COSE bytes) around `item`, signed over when it can be.
PLACES: dict[str, Callable[[bytes], bytes]] = {
    "envelope": lambda item: tag(18, item),
    "protected": lambda item: cose(protected=item),
    "alg": lambda item: cose(protected=cmap((enc(1), item), (enc(4), enc(KID)))),
    "protected kid": lambda item: cose(protected=cmap((enc(1), enc(-7)), (enc(4), item))),
    "unprotected": lambda item: envelope(1, item, head=enc({1: -7})),
    "unprotected kid": lambda item: envelope(1, cmap((enc(4), item)), head=enc({1: -7})),
    "signature": lambda item: envelope(3, item),
    "payload": lambda item: cose(item),
    "iat": lambda item: cose(spliced(claims(), 6, item)),
    "iss": lambda item: cose(spliced(claims(), 1, item)),
    "hcert": lambda item: cose(spliced(claims(), -260, item)),
    "dcc": lambda item: cose(spliced(claims(), -260, cmap((enc(1), item)))),
    "certificate": lambda item: cose(in_dcc("v", "v", item)),
    "entry": lambda item: cose(in_dcc("t", "t", array(item))),
    "field": lambda item: cose(spliced(claims(), -260, cmap((enc(1), spliced(
        dcc_map("r"), "r", array(spliced(ENTRIES["r"], "df", item))))))),
    "nam": lambda item: cose(in_dcc("v", "nam", item)),
    "dob": lambda item: cose(in_dcc("v", "dob", item)),
}


def envelope(index: int, item: bytes, head: bytes | None = None) -> bytes:
    """A tag-18 array written by hand, `item` its index-th part and the rest genuine and signed."""
    head = enc({1: -7, 4: KID}) if head is None else head
    body = enc(claims())
    parts = [enc(head), enc({}), enc(body), enc(signature(head, body, EC_KEY))]
    parts[index] = item
    return tag(18, array(*parts))


@pytest.mark.parametrize("where", sorted(PLACES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(item=items)
def test_any_cbor_in_any_part_of_a_signed_code(where: str, item: bytes) -> None:
    decodes_or_is_malformed(text(PLACES[where](item)))


def test_the_places_hold_a_genuine_code_when_given_the_genuine_value() -> None:
    """The property above tests something only if each place, given the right value, makes a code that reads."""
    head, body = enc({1: -7, 4: KID}), enc(claims())
    genuine = {"envelope": array(enc(head), enc({}), enc(body), enc(signature(head, body, EC_KEY))),
               "protected": head, "alg": enc(-7), "protected kid": enc(KID), "unprotected": enc({4: KID}),
               "unprotected kid": enc(KID), "signature": None, "payload": body, "iat": enc(IAT),
               "iss": enc("AT"), "hcert": enc({1: dcc_map()}), "dcc": enc(dcc_map()),
               "certificate": enc([ENTRIES["v"]]), "entry": enc(ENTRIES["t"]), "field": enc(ENTRIES["r"]["df"]),
               "nam": enc(NAM), "dob": enc("1990-01-31")}
    assert set(genuine) == set(PLACES)
    for where, value in genuine.items():
        if value is not None:
            scanned = decode_text(text(PLACES[where](value)))
            assert verify(scanned, EC_KEY.public_key()) is True, where
