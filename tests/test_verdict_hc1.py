"""decide() on EU DCC / WHO `HC1:` codes (issue 15; spec sections 5, 6 and 9): every reason in its order, the JSON
line, the audit event, the screen.

The codes are signed here, with document signer certificates (DSCs) made here with `cryptography`, and
travel in a trust bundle as a deployment's would; the Sig_structure, the compression and the r||s form of
ES256 are written out below from the DCC specification, not taken from the kiosk's own issuing code. What
each check must say comes from the issue: the order (after the PHC1 checks they share), the JSON fields
("format", "certificate", "iss" the country, a masked name, a subject of 16 bytes of SHA-256 of the UVCI)
and the audit event (code_kind the certificate type, details {"format": "hc1"}, never a name or a birth date).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from kiosk.audit.events import scan_event
from kiosk.base45 import b45encode
from kiosk.checkpoint.view import verdict_view
from kiosk.issuer import KeyGrant, sign_bundle
from kiosk.policy import Policy
from kiosk.trust import TrustStore, parse_bundle
from kiosk.verdict import Reading, Verdict, decide, decide_strict
from tests.factories import ISS, NOW, World, code, key, kid, pub

REPO = Path(__file__).resolve().parents[1]
DAY, YEAR = 86400, 365 * 86400
TODAY = datetime.fromtimestamp(NOW, UTC).date()
DEFAULT = Policy()
OID = {"test": "1.3.6.1.4.1.1847.2021.1.1", "vaccination": "1.3.6.1.4.1.1847.2021.1.2",
       "recovery": "1.3.6.1.4.1.1847.2021.1.3"}
UVCI = "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B"
DOB = "1964-08-12"


# -- DSCs and codes, made as a member state makes them ------------------------------------------------------------

@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    der: bytes

    @property
    def kid(self) -> bytes:  # the DCC's kid: the first 8 bytes of the SHA-256 of the certificate's DER
        return hashlib.sha256(self.der).digest()[:8]


def make_signer(name: str, *, country: str | None = "AT", not_before: int = NOW - YEAR, not_after: int = NOW + YEAR,
                usages: tuple[str, ...] = (), rsa_bits: int = 0) -> Signer:
    """A self-signed DSC (the verifier reads no chain): EC P-256 from the name, or a fresh RSA key."""
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if rsa_bits:
        private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    else:
        scalar = int.from_bytes(hashlib.sha256(name.encode()).digest(), "big") % (2**255) + 1
        private = ec.derive_private_key(scalar, ec.SECP256R1())
    subject = x509.Name(([x509.NameAttribute(NameOID.COUNTRY_NAME, country)] if country else [])
                        + [x509.NameAttribute(NameOID.COMMON_NAME, f"DSC {name}")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(private.public_key())
               .serial_number(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big"))
               .not_valid_before(datetime.fromtimestamp(not_before, UTC))
               .not_valid_after(datetime.fromtimestamp(not_after, UTC)))
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(OID[u]) for u in usages]),
                                        critical=False)
    certificate = builder.sign(private, hashes.SHA256())
    return Signer(private, certificate.public_bytes(serialization.Encoding.DER))


SIGNERS = {
    "at": make_signer("at"),
    "at-rsa": make_signer("at-rsa", rsa_bits=2048),
    "vaccinations only": make_signer("vaccinations only", usages=("vaccination",)),
    "tests and recoveries": make_signer("tests and recoveries", usages=("test", "recovery")),
    "de": make_signer("de", country="DE"),
    "retired": make_signer("retired", not_before=NOW - 2 * YEAR, not_after=NOW - 30 * DAY),
    "ending": make_signer("ending", not_before=NOW - YEAR, not_after=NOW - DAY),
    "revoked": make_signer("revoked"),
}
STRANGER = make_signer("stranger")  # in no bundle


def bundle_bytes(signers: list[Signer], revoked: list[bytes]) -> bytes:
    return sign_bundle(key("root"), seq=1, iat=NOW - DAY, keys=[], revoked=revoked, dscs=[s.der for s in signers])


def store() -> TrustStore:
    data = bundle_bytes(list(SIGNERS.values()), [SIGNERS["revoked"].kid])
    return TrustStore(parse_bundle(data, {kid("root"): pub("root")}))


STORE = store()


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def instant(hours_ago: float) -> str:
    return datetime.fromtimestamp(NOW - hours_ago * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vaccination(days_ago: int = 60, dose: int = 2, doses: int = 2) -> dict[str, object]:
    return {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": dose,
            "sd": doses, "dt": day(days_ago), "co": "AT", "is": "Ministry of Health, Austria", "ci": UVCI}


def sample(hours_ago: float = 5, result: str = "260415000", kind: str = "LP6464-4") -> dict[str, object]:
    return {"tg": "840539006", "tt": kind, "nm": "Roche LightCycler qPCR", "sc": instant(hours_ago), "tr": result,
            "tc": "Testzentrum Wien", "co": "AT", "is": "Ministry of Health, Austria", "ci": UVCI}


def recovery(valid_from: int = 30, valid_until: int = -150) -> dict[str, object]:
    return {"tg": "840539006", "fr": day(valid_from + 11), "co": "AT", "is": "Ministry of Health, Austria",
            "df": day(valid_from), "du": day(valid_until), "ci": UVCI}


ENTRY_KEYS = {"vaccination": "v", "test": "t", "recovery": "r"}
MUELLER = {"fn": "Müller", "fnt": "MUELLER", "gn": "Max", "gnt": "MAX"}


def hc1(signer: str | Signer = "at", *, certificate: str = "vaccination", entry: dict[str, object] | None = None,
        iss: str | None = "AT", iat: int = NOW - 3600, exp: int = NOW + 30 * DAY, nam: dict[str, str] | None = None,
        kid_of: Signer | None = None) -> str:
    """An HC1 text: CWT claims {1, 4, 6, -260: {1: DCC}}, COSE_Sign1 (tag 18) with kid and alg protected,
    zlib, Base45. `kid_of` names another DSC's kid (the signature is still `signer`'s)."""
    made = SIGNERS[signer] if isinstance(signer, str) else signer
    makers: dict[str, Callable[[], dict[str, object]]] = {"vaccination": vaccination, "test": sample,
                                                          "recovery": recovery}
    entry = entry if entry is not None else makers[certificate]()
    dcc = {"ver": "1.3.0", "nam": MUELLER if nam is None else nam, "dob": DOB, ENTRY_KEYS[certificate]: [entry]}
    claims: dict[int, object] = {4: exp, 6: iat, -260: {1: dcc}}
    if iss is not None:
        claims[1] = iss
    payload = cbor2.dumps(claims)
    is_ec = isinstance(made.key, ec.EllipticCurvePrivateKey)
    protected = cbor2.dumps({1: -7 if is_ec else -37, 4: (kid_of or made).kid})
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    if isinstance(made.key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(made.key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = made.key.sign(to_sign, padding.PSS(padding.MGF1(hashes.SHA256()), salt_length=32),
                                  hashes.SHA256())
    envelope = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
    return "HC1:" + b45encode(zlib.compress(envelope, 9))


def judge(text: str, policy: Policy = DEFAULT, reading: Reading | None = None, trust: TrustStore = STORE) -> Verdict:
    return decide_strict(text, trust, policy, reading, NOW)


# -- every reason, in the order of the checks -----------------------------------------------------------------------

# (id, text, policy, reading, expected reason). The rows run in the order the checks do: each breaks one rule,
# and where two are broken the earlier check's reason is the one given.
HC1_CASES: list[tuple[str, str, Policy, Reading | None, str]] = [
    ("not_health_code: hc1 in lower case", hc1().replace("HC1:", "hc1:"), DEFAULT, None, "not_health_code"),
    ("not_health_code: HC2", hc1().replace("HC1:", "HC2:"), DEFAULT, None, "not_health_code"),
    ("malformed: Base45 of no zlib", "HC1:" + b45encode(cbor2.dumps([b"", {}, b"", b""])), DEFAULT, None,
     "malformed"),
    ("unknown_key: a DSC no bundle holds", hc1(STRANGER), DEFAULT, None, "unknown_key"),
    ("bad_signature: signed by another key under a known kid", hc1(STRANGER, kid_of=SIGNERS["at"]), DEFAULT, None,
     "bad_signature"),
    ("bad_signature: PS256 under an EC DSC's kid", hc1("at-rsa", kid_of=SIGNERS["at"]), DEFAULT, None,
     "bad_signature"),
    ("key_revoked", hc1("revoked"), DEFAULT, None, "key_revoked"),
    ("key_revoked before key_expired", hc1("revoked", iat=NOW - 2 * YEAR), DEFAULT, None, "key_revoked"),
    ("key_expired: iat after the DSC's end", hc1("retired"), DEFAULT, None, "key_expired"),
    ("key_expired: iat before the DSC's start", hc1("at", iat=NOW - YEAR - DAY), DEFAULT, None, "key_expired"),
    ("key_expired: the DSC has ended by now, the code has not", hc1("ending", iat=NOW - 2 * DAY), DEFAULT, None,
     "key_expired"),
    ("expired, not key_expired, once the code is past its exp too (the catalogue's CO17)",
     hc1("ending", iat=NOW - 30 * DAY, exp=NOW - 2 * DAY), DEFAULT, None, "expired"),
    ("wrong_key_usage: a test from a vaccinations-only DSC", hc1("vaccinations only", certificate="test"), DEFAULT,
     None, "wrong_key_usage"),
    ("wrong_key_usage: a vaccination from a tests-and-recoveries DSC", hc1("tests and recoveries"), DEFAULT, None,
     "wrong_key_usage"),
    ("wrong_key_usage before issuer_mismatch", hc1("vaccinations only", certificate="recovery", iss="DE"), DEFAULT,
     None, "wrong_key_usage"),
    ("issuer_mismatch: claim 1 AT from a DE DSC", hc1("de"), DEFAULT, None, "issuer_mismatch"),
    ("issuer_mismatch before not_yet_valid", hc1("de", iat=NOW + 3600), DEFAULT, None, "issuer_mismatch"),
    ("not_yet_valid: iat beyond the skew", hc1(iat=NOW + 121), DEFAULT, None, "not_yet_valid"),
    ("not_yet_valid before expired", hc1(iat=NOW + 121, exp=NOW - 121), DEFAULT, None, "not_yet_valid"),
    ("expired: exp beyond the skew", hc1(exp=NOW - 121), DEFAULT, None, "expired"),
    ("expired before the content rules", hc1(exp=NOW - 121, entry=vaccination(dose=1)), DEFAULT, None, "expired"),
    ("malformed: a signed date that is no date", hc1(entry={**vaccination(), "dt": "last spring"}), DEFAULT, None,
     "malformed"),
    ("vaccination_incomplete", hc1(entry=vaccination(dose=1)), DEFAULT, None, "vaccination_incomplete"),
    ("vaccination_too_recent", hc1(entry=vaccination(days_ago=13)), DEFAULT, None, "vaccination_too_recent"),
    ("vaccination_too_old", hc1(entry=vaccination(days_ago=271)), DEFAULT, None, "vaccination_too_old"),
    ("test_positive", hc1(certificate="test", entry=sample(result="260373001")), DEFAULT, None, "test_positive"),
    ("test_too_old", hc1(certificate="test", entry=sample(hours_ago=73)), DEFAULT, None, "test_too_old"),
    ("recovery_not_valid", hc1(certificate="recovery", entry=recovery(valid_until=1)), DEFAULT, None,
     "recovery_not_valid"),
    ("a content rule before the temperature", hc1(entry=vaccination(dose=1)), Policy(require_temperature=True), None,
     "vaccination_incomplete"),
    ("temperature_missing after every HC1 check", hc1(), Policy(require_temperature=True), None,
     "temperature_missing"),
    ("temperature_implausible", hc1(), DEFAULT, Reading(31.0, NOW - 0.5), "temperature_implausible"),
    ("fever", hc1(), DEFAULT, Reading(38.0, NOW - 0.5), "fever"),
    ("ok: ES256 vaccination", hc1(), DEFAULT, None, "ok"),
    ("ok: PS256 (RSA-PSS) vaccination", hc1("at-rsa"), DEFAULT, None, "ok"),
    ("ok: a test", hc1(certificate="test"), DEFAULT, Reading(36.6, NOW - 0.5), "ok"),
    ("ok: a recovery", hc1(certificate="recovery"), DEFAULT, None, "ok"),
    ("ok: the skew's edges hold", hc1(iat=NOW + 120, exp=NOW - 120), DEFAULT, None, "ok"),
    ("ok: no claim 1 (the country is the DSC's)", hc1("de", iss=None), DEFAULT, None, "ok"),
    ("ok: a DSC that allows the type", hc1("vaccinations only"), DEFAULT, None, "ok"),
]


@pytest.mark.parametrize(("text", "policy", "reading", "reason"), [c[1:] for c in HC1_CASES],
                         ids=[c[0] for c in HC1_CASES])
def test_each_reason_in_the_order_of_the_checks(text: str, policy: Policy, reading: Reading | None,
                                               reason: str) -> None:
    verdict = judge(text, policy, reading)
    assert verdict.reason == reason
    assert verdict.format == (None if reason == "not_health_code" else "hc1")


def test_a_kid_that_names_two_dscs_is_signed_by_the_one_that_verifies() -> None:
    """8 bytes of a hash may collide: every DSC under the code's kid is tried, not just the first."""
    at = SIGNERS["at"]
    other = parse_bundle(bundle_bytes([STRANGER], []), {kid("root"): pub("root")}).dscs[STRANGER.kid][0]
    crowded = replace(STORE.bundle, dscs={at.kid: (other, *STORE.bundle.dscs[at.kid])})
    assert judge(hc1(), trust=TrustStore(crowded)).reason == "ok"
    assert judge(hc1(STRANGER, kid_of=at), trust=TrustStore(crowded)).reason == "ok"  # the stranger's DSC, too
    # Two certificates of one key, both verifying: the one that is valid signs, whichever comes first.
    renewed = make_signer("at", not_before=NOW - 2 * YEAR, not_after=NOW - 30 * DAY)  # the same key ("at"), ended
    old = parse_bundle(bundle_bytes([renewed], []), {kid("root"): pub("root")}).dscs[renewed.kid][0]
    for order in ((old, *STORE.bundle.dscs[at.kid]), (*STORE.bundle.dscs[at.kid], old)):
        assert judge(hc1(), trust=TrustStore(replace(STORE.bundle, dscs={at.kid: order}))).reason == "ok"
    assert judge(hc1(), trust=TrustStore(replace(STORE.bundle, dscs={at.kid: (old,)}))).reason == "key_expired"


def test_one_bundle_holds_phc1_issuer_keys_and_hc1_dscs_side_by_side() -> None:
    grant = KeyGrant(pub("issuer"), ISS, NOW - YEAR, NOW + YEAR)
    both = TrustStore(parse_bundle(sign_bundle(key("root"), seq=1, iat=NOW - DAY, keys=[grant],
                                               dscs=[SIGNERS["at"].der]), {kid("root"): pub("root")}))
    assert (judge(hc1(), trust=both).reason, judge(code(), trust=both).reason) == ("ok", "ok")
    assert judge(hc1(), trust=World().store()).reason == "unknown_key"  # a bundle of issuer keys only
    assert judge(code(), trust=STORE).reason == "unknown_key"  # a bundle of DSCs only


# -- the JSON line ---------------------------------------------------------------------------------------------------

def test_the_json_line_of_a_verified_hc1_code() -> None:
    shown = judge(hc1(), DEFAULT, Reading(36.6, NOW - 0.5)).as_json()
    assert shown == {
        "verdict": "pass", "reason": "ok", "status": None, "kid": SIGNERS["at"].kid.hex(), "iss": "AT",
        "subject": hashlib.sha256(UVCI.encode()).digest()[:16].hex(), "iat": NOW - 3600, "exp": NOW + 30 * DAY,
        "kind": None, "name": "M***** ***", "temperature": 36.6, "warnings": [], "format": "hc1",
        "certificate": "vaccination",
    }
    assert DOB not in json.dumps(shown) and "Müller" not in json.dumps(shown, ensure_ascii=False)


@pytest.mark.parametrize(("text", "certificate", "iss"), [
    (hc1(certificate="test"), "test", "AT"), (hc1(certificate="recovery"), "recovery", "AT"),
    (hc1("de", iss=None), "vaccination", "DE"), (hc1("de", iss=None, entry=vaccination(dose=1)), "vaccination", "DE"),
])
def test_the_certificate_and_the_issuing_country(text: str, certificate: str, iss: str) -> None:
    shown = judge(text).as_json()
    assert (shown["format"], shown["certificate"], shown["iss"]) == ("hc1", certificate, iss)


@pytest.mark.parametrize(("nam", "masked"), [
    (MUELLER, "M***** ***"),  # the example
    ({"fnt": "MUELLER", "gn": "Max"}, "M****** ***"),  # no native family name: the Latin one
    ({"fn": "Шевченко", "fnt": "SHEVCHENKO", "gn": "Тарас", "gnt": "TARAS"}, "Ш******* *****"),  # the native script
    ({"fn": "van der Berg", "fnt": "VAN<DER<BERG", "gn": "Anna Lena"}, "v** *** **** **** ****"),
    ({"fn": "Mu\u0308ller", "fnt": "MUELLER"}, "M*****"),  # a decomposed ü is one letter; no given name
    ({"fn": "Musterfrau-Gößinger-Zweitname-Drittname", "fnt": "X"}, "M" + "*" * 23),  # at most 24 shown
])
def test_the_name_is_masked_family_first_character_the_rest_starred(nam: dict[str, str], masked: str) -> None:
    assert judge(hc1(nam=nam)).as_json()["name"] == masked


@pytest.mark.parametrize("text", [hc1(STRANGER), hc1(STRANGER, kid_of=SIGNERS["at"]), "HC1:%%",
                                  hc1(entry={**vaccination(), "dt": "last spring"})])  # signed, but unreadable
def test_claims_nobody_vouches_for_are_not_shown(text: str) -> None:
    shown = judge(text).as_json()
    assert shown["format"] == "hc1" and shown["certificate"] is None
    assert (shown["iss"], shown["subject"], shown["iat"], shown["name"]) == (None, None, None, None)


def test_a_phc1_json_line_says_its_format_and_no_certificate() -> None:
    shown = judge(code(), trust=World().store()).as_json()
    assert shown["format"] == "phc1" and "certificate" not in shown and shown["kind"] == "dynamic"
    assert judge("https://example.com").as_json()["format"] is None


def test_decide_never_raises_on_hc1_texts_it_cannot_read() -> None:
    good = hc1()
    for cut in range(4, len(good), max(1, len(good) // 60)):
        assert decide(good[:cut], STORE, DEFAULT, None, NOW).reason in ("malformed", "not_health_code")


# -- the audit event -------------------------------------------------------------------------------------------------

SECRET = b"k" * 32


def test_the_audit_event_holds_the_certificate_type_and_the_format_never_the_name_or_birth_date() -> None:
    event = scan_event(judge(hc1(certificate="test")), at=NOW, secret=SECRET, event_id="01J0000000000000000000HC1A")
    subject = hashlib.sha256(UVCI.encode()).digest()[:16]
    assert (event.code_kind, event.details, event.iss, event.code_iat, event.status) == \
        ("test", {"format": "hc1"}, "AT", NOW - 3600, None)
    assert event.subject_ref == hmac.new(SECRET, subject, hashlib.sha256).hexdigest()[:32]
    stored = event.canonical().decode()
    for secret_part in ("Müller", "MUELLER", "Max", "M*****", DOB, "1964"):
        assert secret_part not in stored, secret_part
    unread = scan_event(judge(hc1(STRANGER)), at=NOW, secret=SECRET, event_id="01J0000000000000000000HC1B")
    assert (unread.code_kind, unread.details, unread.reason) == (None, {"format": "hc1"}, "unknown_key")


def test_a_phc1_event_is_byte_for_byte_what_it_was() -> None:
    """The chain hashes every field: a PHC1 scan event written today must be the one written before HC1."""
    verdict = decide(code(), World().store(), DEFAULT, None, NOW)
    event = scan_event(verdict, at=NOW, secret=SECRET, event_id="01J00000000000000000000000")
    subject_ref = hmac.new(SECRET, bytes(range(16)), hashlib.sha256).hexdigest()[:32]
    assert event.canonical() == json.dumps(
        {"at": NOW, "code_iat": NOW - 60, "code_kind": "dynamic", "details": {}, "device": "",
         "id": "01J00000000000000000000000", "iss": "CN-120000", "kid": kid("issuer").hex(), "kind": "scan",
         "lane": "", "operator": None, "reason": "ok", "site": "", "status": "green", "subject_ref": subject_ref,
         "temperature": None, "verdict": "pass"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- kiosk verify, as a gate script runs it ----------------------------------------------------------------------------

@pytest.fixture
def hc1_trust(tmp_path: Path) -> Path:
    """A trust directory as `kiosk trust pin` and `kiosk trust import` leave it: the root pinned, the DSCs' bundle."""
    folder = tmp_path / "trust"
    (folder / "roots").mkdir(parents=True)
    (folder / "roots" / "root.pub").write_text(pub("root").hex() + "\n")
    (folder / "trust.cose").write_bytes(bundle_bytes(list(SIGNERS.values()), [SIGNERS["revoked"].kid]))
    return folder


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_kiosk_verify_prints_the_hc1_json_line_and_logs_it(hc1_trust: Path, tmp_path: Path) -> None:
    db, config = tmp_path / "audit.db", tmp_path / "kiosk.toml"
    config.write_text(f'[log]\npath = "{db}"\ntimezone = "UTC"\nlanguage = "zh"\n[hc1]\ntest_max_hours_naat = 24\n')
    now = datetime.fromtimestamp(NOW, UTC).isoformat()
    common = ["verify", "--trust", str(hc1_trust), "--now", now]
    done = kiosk(*common, hc1(certificate="recovery"))
    assert (done.returncode, done.stderr) == (0, "")
    shown = json.loads(done.stdout)
    assert (shown["verdict"], shown["format"], shown["certificate"], shown["iss"], shown["name"]) == \
        ("pass", "hc1", "recovery", "AT", "M***** ***")
    thirty_hours = hc1(certificate="test", entry=sample(hours_ago=30))
    assert json.loads(kiosk(*common, thirty_hours).stdout)["reason"] == "ok"  # 72 h by default
    done = kiosk(*common, "--config", str(config), "--log", str(db), thirty_hours)  # the site's [hc1]: 24 h
    assert (done.returncode, json.loads(done.stdout)["reason"], json.loads(done.stdout)["certificate"]) == \
        (1, "test_too_old", "test")
    done = kiosk("log", "export", "--config", str(config), "--out", str(tmp_path / "log.csv"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "log.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    assert [(r["原因"], r["码类型"], r["签发机构"]) for r in rows] == [("检测已过期", "检测", "AT")]
    assert json.loads(rows[0]["其他信息"]) == {"format": "hc1"}
    assert "M***" not in text and DOB not in text and "ller" not in text


def test_kiosk_verify_image_picks_the_health_code_among_the_qr_codes_of_a_picture(hc1_trust: Path,
                                                                                  tmp_path: Path) -> None:
    """A poster's QR beside the traveller's: the HC1 code is the one verified, wherever it is in the picture."""
    import io

    import cv2
    import numpy as np
    import segno

    def qr(text: str) -> Any:
        png = io.BytesIO()
        segno.make_qr(text, error="m").save(png, kind="png", scale=6, border=4)
        return cv2.imdecode(np.frombuffer(png.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)

    poster, code_ = qr("https://example.com/menu"), qr(hc1(certificate="test"))
    height = max(poster.shape[0], code_.shape[0])
    row = [np.pad(m, ((0, height - m.shape[0]), (0, 40)), constant_values=255) for m in (poster, code_)]
    cv2.imwrite(str(tmp_path / "door.png"), np.hstack(row))  # the poster first, reading left to right
    done = kiosk("verify", "--trust", str(hc1_trust), "--now", str(NOW), "--image", str(tmp_path / "door.png"))
    assert (done.returncode, json.loads(done.stdout)["format"], json.loads(done.stdout)["certificate"]) == \
        (0, "hc1", "test"), done.stderr


def test_kiosk_run_headless_says_the_certificate_type_of_each_hc1_code(tmp_path: Path) -> None:
    """The checkpoint without a display: one JSON line a verdict, as a gate controller reads it, on the real clock."""
    from kiosk.audit.store import AuditLog

    now = int(time.time())
    today = make_signer("today", not_before=now - 30 * DAY, not_after=now + YEAR)  # about the real clock
    folder = tmp_path / "trust"
    (folder / "roots").mkdir(parents=True)
    (folder / "roots" / "root.pub").write_text(pub("root").hex() + "\n")
    (folder / "trust.cose").write_bytes(sign_bundle(key("root"), seq=1, iat=now - 60, dscs=[today.der],
                                                    keys=[KeyGrant(pub("issuer"), ISS, now - YEAR, now + YEAR)]))
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{folder}"\n[log]\npath = "audit.db"\n')
    dose = (datetime.fromtimestamp(now, UTC).date() - timedelta(days=30)).isoformat()
    codes = [hc1(today, iat=now - 60, exp=now + 30 * DAY, entry={**vaccination(), "dt": dose}),
             hc1(today, iat=now - 60, exp=now + 30 * DAY, certificate="test",
                 entry={**sample(result="260373001"), "sc": datetime.fromtimestamp(now - 600, UTC).isoformat()}),
             code(iat=now - 5, exp=now + 600)]
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "run", "--headless", "--stdin"],
                          input="\n".join(codes) + "\n", capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(x["verdict"], x["reason"], x.get("certificate"), x.get("name")) for x in lines] == [
        ("pass", "ok", "vaccination", "M***** ***"), ("deny", "test_positive", "test", "M***** ***"),
        ("pass", "ok", None, "张*明")]  # a PHC1 line has no certificate, as before
    log = AuditLog(tmp_path / "audit.db")
    try:
        assert [(e.code_kind, e.details) for e in log.events() if e.kind == "scan"] == [
            ("vaccination", {"format": "hc1"}), ("test", {"format": "hc1"}), ("dynamic", {})]
    finally:
        log.close()


# -- the screen --------------------------------------------------------------------------------------------------------

# What each verdict's colour must look like, from the issue (tests/test_ui.py says the same): relations between a
# pixel's channels, never the colour the code under test holds.
PASS_LOOK: Callable[[int, int, int], bool] = lambda r, g, b: g >= 100 and g - max(r, b) >= 60  # noqa: E731
DENY_LOOK: Callable[[int, int, int], bool] = lambda r, g, b: r >= 150 and r - max(g, b) >= 100  # noqa: E731


@pytest.fixture
def screen(tmp_path: Path, hc1_trust: Path) -> Iterator[Any]:
    """The real touchscreen (Kivy, offscreen) over a real checkpoint that trusts the DSCs and logs to a file; its
    clock is the codes' (NOW), whatever the day the tests run."""
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import LogConfig
    from kiosk.audit.store import AuditLog
    from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
    from kiosk.checkpoint.settings import KioskSettings
    from kiosk.trustdir import load_trust_dir
    from tests.ui_harness import UiHarness

    log = LogConfig(tmp_path / "audit.db", site="station", lane="1", device="hc1-test")
    parts = CheckpointParts(hc1_trust, load_trust_dir(hc1_trust), Policy(), [], None,
                            Recorder(AuditLog(log.path), log, SECRET), hold=30.0)
    ui = UiHarness(Checkpoint(parts, clock=lambda: float(NOW)), KioskSettings(fullscreen=False, sound=False))
    yield ui
    ui.close()


def test_the_verdict_screen_shows_the_certificate_type_beside_the_masked_name(screen: Any, tmp_path: Path) -> None:
    def shown(text: str) -> Any:
        count = len(screen.app.shown)
        screen.checkpoint.submit(text, "camera")
        screen.until(lambda: len(screen.app.shown) > count, "the verdict on screen")
        return screen.ids("verdict")

    ids = shown(hc1())
    assert "疫苗接种 vaccination" in ids.person.text and "M***** ***" in ids.person.text
    assert "Müller" not in ids.person.text and DOB[:4] not in ids.person.text
    assert PASS_LOOK(*screen.colour_at(0.9, 0.6)) and ids.title_en.text == "PASS"
    assert "valid" in ids.reason_en.text and "green" not in ids.reason_en.text  # no "green code": PHC1's words
    screen.shot(tmp_path / "hc1-pass.png")
    ids = shown(hc1(certificate="test", entry=sample(result="260373001")))
    assert "检测 test" in ids.person.text and "test not negative" in ids.reason_en.text
    assert DENY_LOOK(*screen.colour_at(0.9, 0.6)) and ids.title_en.text == "DENY"
    screen.shot(tmp_path / "hc1-deny.png")
    ids = shown(hc1(STRANGER))  # nobody vouches for it: no type, no name
    assert ids.person.text == "" and ids.reason_en.text.startswith("unknown issuer")
    view = verdict_view(judge(hc1(certificate="recovery")), at=time.time(), hold=3.0)
    assert (view.certificate, view.name, view.details["certificate"]) == ("康复 recovery", "M***** ***", "recovery")
