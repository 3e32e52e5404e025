"""HC1 (EU DCC) on the issuing side, as a pilot and the demo use it: `kiosk trust make-dsc`, `kiosk issue --format
hc1`, and the demo's EU travellers at the door.

The commands run as a user runs them: the installed `kiosk`, in its own process. What a certificate must hold
comes from the DCC specification (the kid is the first 8 bytes of the SHA-256 of the DER; the extended key
usage OIDs 1.3.6.1.4.1.1847.2021.1.1 test, .2 vaccination, .3 recovery; ES256 is P-256 with r||s, PS256 is
RSA-PSS with SHA-256 and a 32-byte salt) and from the issue: each code is read back here with cbor2, zlib and
`cryptography`, never with the kiosk's own decoder, and then verified by `kiosk verify` against a trust bundle
made by `kiosk trust bundle --dsc`. The verdict each traveller must get is this file's own, from the issue's
rules: a vaccinated traveller passes, a positive test is denied, a signer may sign only what its key usage says,
an expired signer signs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kiosk.base45 import b45decode

KIOSK = Path(sys.executable).with_name("kiosk")  # the command pip installed beside this interpreter
HANG = 120  # seconds: only against a hang
DAY = 86400
YESTERDAY = int(time.time()) - DAY
OIDS = {"test": "1.3.6.1.4.1.1847.2021.1.1", "vaccination": "1.3.6.1.4.1.1847.2021.1.2",
        "recovery": "1.3.6.1.4.1.1847.2021.1.3"}  # the DCC specification's extended key usage


def kiosk(folder: Path, *argv: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return subprocess.run([str(KIOSK), *map(str, argv)], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=HANG, check=False)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert (done.returncode, done.stderr) == (0, ""), done
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr holding every fragment, no traceback."""
    assert (done.returncode, done.stdout) == (2, ""), done
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr
    return done.stderr


def certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def kid_of(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:8]


def usage(cert: x509.Certificate) -> set[str] | None:
    """The certificate's extended key usage OIDs, None when it has none."""
    try:
        return {oid.dotted_string for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
    except x509.ExtensionNotFound:
        return None


@dataclass(frozen=True)
class Site:
    """A pilot's folder: DSCs made by `kiosk trust make-dsc`, a root, and a trust directory with their bundle."""

    folder: Path
    trust: Path
    made: dict[str, str]  # DSC name: what make-dsc printed


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    folder = tmp_path_factory.mktemp("pilot")
    ok(kiosk(folder, "keygen", "root"))
    since = ("--not-before", YESTERDAY)  # the codes below are issued an hour ago
    made = {
        "de": ok(kiosk(folder, "trust", "make-dsc", "--country", "DE", "--out", "de", *since)),
        "fr": ok(kiosk(folder, "trust", "make-dsc", "--country", "FR", "--out", "fr", "--alg", "ps256", *since)),
        "tests-only": ok(kiosk(folder, "trust", "make-dsc", "--country", "AT", "--out", "tests-only",
                               "--usage", "test", *since)),
        "old": ok(kiosk(folder, "trust", "make-dsc", "--country", "NL", "--out", "old", "--not-before", "2021-06-01",
                        "--valid-days", "30")),
    }
    ok(kiosk(folder, "trust", "bundle", "--root-key", "root.key", "--seq", "1", *[f"--dsc={n}.pem" for n in made],
             "--out", "trust.cose"))
    ok(kiosk(folder, "trust", "pin", "root.pub", "--trust", "trust"))
    ok(kiosk(folder, "trust", "import", "trust.cose", "--trust", "trust"))
    return Site(folder, folder / "trust", made)


# --------------------------------------------------------------------------- kiosk trust make-dsc


def test_make_dsc_writes_a_dsc_its_key_and_the_csca_that_issued_it(site: Site) -> None:
    folder = site.folder
    dsc, csca = certificate(folder / "de.pem"), certificate(folder / "de-csca.pem")
    # What it says: the kid as the DCC specification makes it, the country, a year from now, every type.
    said = site.made["de"].splitlines()
    assert said[0].startswith(f"kid {kid_of(dsc).hex()}  DE  es256  all certificate types  "), said
    assert said[1:3] == ["certificate de.pem", "private     de.key (keep it secret, mode 0600)"]
    assert dsc.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "DE"
    assert dsc.not_valid_before_utc.timestamp() == YESTERDAY
    assert dsc.not_valid_after_utc.timestamp() - YESTERDAY == 365 * DAY  # a year, by default
    assert usage(dsc) is None  # no extended key usage: every certificate type, as the DCC specification says
    assert dsc.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    # The private key stays with its owner, and it is the certificate's key: what it signs, the certificate checks.
    for key in ("de.key", "de-csca.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600, key
    private = serialization.load_pem_private_key((folder / "de.key").read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1)
    public = dsc.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(private.sign(b"x", ec.ECDSA(hashes.SHA256())), b"x", ec.ECDSA(hashes.SHA256()))
    # Issued by a self-signed country signing CA of the same country.
    assert dsc.issuer == csca.subject == csca.issuer
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    dsc.verify_directly_issued_by(csca)
    csca.verify_directly_issued_by(csca)


def test_make_dsc_ps256_is_rsa_3072_and_usage_names_the_dcc_oids(site: Site) -> None:
    fr, tests_only = certificate(site.folder / "fr.pem"), certificate(site.folder / "tests-only.pem")
    public = fr.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 3072
    assert " FR  ps256  " in site.made["fr"]
    assert usage(tests_only) == {OIDS["test"]}
    assert " AT  es256  test  " in site.made["tests-only"]
    old = certificate(site.folder / "old.pem")
    assert (old.not_valid_before_utc.isoformat(), old.not_valid_after_utc.isoformat()) == (
        "2021-06-01T00:00:00+00:00", "2021-07-01T00:00:00+00:00")


def test_make_dsc_usage_lists_every_type_asked(tmp_path: Path) -> None:
    ok(kiosk(tmp_path, "trust", "make-dsc", "--country", "CH", "--out", "ch", "--usage", "recovery,vaccination",
             "--valid-days", "10"))
    ch = certificate(tmp_path / "ch.pem")
    assert usage(ch) == {OIDS["recovery"], OIDS["vaccination"]}
    assert abs(ch.not_valid_before_utc.timestamp() - time.time()) < 600  # from now, by default
    assert ch.not_valid_after_utc - ch.not_valid_before_utc == timedelta(days=10)


def test_make_dsc_from_a_csca_already_made(site: Site, tmp_path: Path) -> None:
    said = ok(kiosk(tmp_path, "trust", "make-dsc", "--country", "DE", "--out", "second",
                    "--csca", site.folder / "de-csca"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["second.key", "second.pem"]  # no new CSCA
    assert f"issued by   {site.folder / 'de-csca'}.pem\n" in said
    certificate(tmp_path / "second.pem").verify_directly_issued_by(certificate(site.folder / "de-csca.pem"))


@pytest.mark.parametrize(("argv", "fragments"), [
    (["--country", "de"], ["argument --country: not a country code: 'de'"]),
    (["--country", "DE", "--usage", "vaccine"], ["argument --usage: not certificate types: 'vaccine'"]),
    (["--country", "DE", "--alg", "rs256"], ["argument --alg: invalid choice: 'rs256'"]),
    (["--country", "DE", "--valid-days", "0"], ["argument --valid-days: not a number of days from 1 to 36500"]),
    (["--country", "DE", "--not-before", "1900-01-01"], ["a certificate is valid within the years 1950 to 9999"]),
    (["--country", "DE", "--csca", "nowhere"], ["nowhere.pem: cannot read the certificate"]),
    (["--country", "DE", "--csca", "root"], ["root.pem: cannot read the certificate"]),
])
def test_make_dsc_errors_are_one_line(site: Site, tmp_path: Path, argv: list[str], fragments: list[str]) -> None:
    (tmp_path / "root.key").write_bytes((site.folder / "root.key").read_bytes())  # an Ed25519 key is no CSCA
    one_line_error(kiosk(tmp_path, "trust", "make-dsc", "--out", "x", *argv), *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root.key"]  # nothing half made


def test_make_dsc_never_overwrites_a_key(site: Site) -> None:
    before = (site.folder / "de.key").read_bytes()
    one_line_error(kiosk(site.folder, "trust", "make-dsc", "--country", "DE", "--out", "de"),
                   "de.pem exists already; refusing to overwrite a key")
    assert (site.folder / "de.key").read_bytes() == before


# --------------------------------------------------------------------------- kiosk issue --format hc1


def read_back(text: str) -> tuple[dict[Any, Any], list[Any]]:
    """The code's protected header and COSE_Sign1, read with cbor2 and zlib as any DCC verifier would."""
    assert text.startswith("HC1:")
    sign1 = cbor2.loads(zlib.decompress(b45decode(text[4:])))
    assert sign1.tag == 18
    return cbor2.loads(sign1.value[0]), sign1.value


def signature_checks(sign1: list[Any], cert: x509.Certificate) -> bool:
    protected, _, payload, signature = sign1
    data = cbor2.dumps(["Signature1", protected, b"", payload])
    public = cert.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            assert len(signature) == 64  # r||s, as COSE has it
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            assert isinstance(public, rsa.RSAPublicKey)
            public.verify(signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                          hashes.SHA256())
    except Exception:
        return False
    return True


def test_an_issued_code_is_a_dcc_signed_by_its_dsc(site: Site) -> None:
    iat = int(time.time()) - 3600
    text = ok(kiosk(site.folder, "issue", "--format", "hc1", "--dsc", "de", "--certificate", "vaccination",
                    "--doses", "1/2", "--date", "2026-03-02", "--family", "Müller", "--given", "Jörg",
                    "--dob", "1970-05", "--iat", iat, "--valid-for", 30 * DAY, "--png", "vaccination.png")).strip()
    # The picture holds the same text, as a QR code any reader reads.
    assert json.loads(ok(kiosk(site.folder, "decode", "vaccination.png")))["texts"] == [text]
    header, sign1 = read_back(text)
    dsc = certificate(site.folder / "de.pem")
    assert header == {1: -7, 4: kid_of(dsc)}  # ES256, the kid in the protected header
    assert signature_checks(sign1, dsc)
    claims = cbor2.loads(sign1[2])
    assert (claims[1], claims[6], claims[4]) == ("DE", iat, iat + 30 * DAY)
    dcc = claims[-260][1]
    assert dcc["nam"] == {"fn": "Müller", "fnt": "MULLER", "gn": "Jörg", "gnt": "JORG"}
    assert dcc["dob"] == "1970-05" and set(dcc) == {"ver", "nam", "dob", "v"}
    (entry,) = dcc["v"]
    assert (entry["dn"], entry["sd"], entry["dt"], entry["co"], entry["tg"]) == (1, 2, "2026-03-02", "DE", "840539006")
    assert re.fullmatch(r"URN:UVCI:01:DE:[0-9A-Z]+", entry["ci"])
    # Broken on purpose: a byte of the payload changed, the signature no longer checks.
    assert not signature_checks([sign1[0], sign1[1], sign1[2][:-1] + b"\x00", sign1[3]], dsc)


def test_a_ps256_code_and_a_test_result(site: Site) -> None:
    text = ok(kiosk(site.folder, "issue", "--format", "hc1", "--dsc", "fr.pem", "--certificate", "test",
                    "--result", "positive", "--test-type", "rat", "--date", "2026-03-02T08:30:00Z",
                    "--family", "王", "--family-latin", "WANG", "--given", "芳", "--given-latin", "FANG")).strip()
    header, sign1 = read_back(text)
    fr = certificate(site.folder / "fr.pem")
    assert header == {1: -37, 4: kid_of(fr)} and signature_checks(sign1, fr)
    (entry,) = cbor2.loads(sign1[2])[-260][1]["t"]
    # Detected (SNOMED 260373001), a rapid antigen test (LOINC LP217198-3), the sample's time in UTC.
    assert (entry["tr"], entry["tt"], entry["sc"]) == ("260373001", "LP217198-3", "2026-03-02T08:30:00Z")


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--format", "hc1", "--certificate", "test"], "the following arguments are required: --dsc"),
    (["--format", "hc1", "--dsc", "de"], "the following arguments are required: --certificate"),
    (["--format", "hc1", "--dsc", "de", "--certificate", "test", "--status", "red"],
     "argument --status: not with --format hc1"),
    (["--key", "root.key", "--iss", "CN-120000", "--dsc", "de"], "argument --dsc: not with --format phc1"),
    (["--format", "hc1", "--dsc", "de", "--certificate", "test", "--doses", "2/2"],
     "argument --doses: only with --certificate vaccination"),
    (["--format", "hc1", "--dsc", "de", "--certificate", "vaccination", "--doses", "two"],
     "argument --doses: not doses: 'two'"),
    (["--format", "hc1", "--dsc", "de", "--certificate", "test", "--family", "王"],
     "no Latin (ICAO 9303) form of this name"),
    (["--format", "hc1", "--dsc", "root", "--certificate", "test"], "root.pem: cannot read the certificate"),
    (["--iss", "CN-120000"], "the following arguments are required: --key"),  # PHC1's, as before
])
def test_issue_errors_are_one_line(site: Site, argv: list[str], fragment: str) -> None:
    one_line_error(kiosk(site.folder, "issue", *argv), f"kiosk issue: {fragment}")


# Each issued code and the verdict it must get at the door: (make-dsc's DSC, kiosk issue's options) -> verdict.
VERDICTS = {
    "vaccinated": (("de", "vaccination"), ("pass", "ok")),
    "tested negative, RSA": (("fr", "test", "--date", "-10h"), ("pass", "ok")),
    "recovered": (("de", "recovery", "--date", "-40d"), ("pass", "ok")),
    "tested positive": (("de", "test", "--result", "positive"), ("deny", "test_positive")),
    "half vaccinated": (("de", "vaccination", "--doses", "1/2"), ("deny", "vaccination_incomplete")),
    "a vaccination by a signer for tests": (("tests-only", "vaccination"), ("deny", "wrong_key_usage")),
    "signed by an expired DSC": (("old", "vaccination"), ("deny", "key_expired")),
}


@pytest.mark.parametrize("traveller", VERDICTS)
def test_issued_codes_get_their_verdicts_from_kiosk_verify(site: Site, traveller: str) -> None:
    (dsc, kind, *options), (verdict, reason) = VERDICTS[traveller]
    now = int(time.time())
    relative = {"-10h": now - 10 * 3600, "-40d": now - 40 * DAY}  # what the options' times stand for
    options = [str(relative.get(option, option)) for option in options]
    text = ok(kiosk(site.folder, "issue", "--format", "hc1", "--dsc", dsc, "--certificate", kind, "--iat",
                    now - 3600, *options)).strip()
    done = kiosk(site.folder, "verify", "--trust", site.trust, "--now", now, text)
    got = json.loads(done.stdout)
    assert (done.returncode, got["verdict"], got["reason"]) == ({"pass": 0, "deny": 1}[verdict], verdict, reason), got
    country = certificate(site.folder / f"{dsc}.pem").subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    assert (got["format"], got["certificate"], got["iss"]) == ("hc1", kind, country[0].value)
    assert got["kid"] == kid_of(certificate(site.folder / f"{dsc}.pem")).hex()


# --------------------------------------------------------------------------- the demo's EU travellers

# Who (kiosk/demo.py's queue) and what the door must show: verdict, reason, the certificate type; and the names
# the certificate holds (family, given, then their Latin forms), which the screen shows masked (the family name's
# first character, the rest starred) and the audit log never holds.
TRAVELLERS = {
    "printed EU vaccination certificate (Germany)": ("pass", "ok", "vaccination", ("Mustermann", "Erika")),
    "EU test certificate, negative (France, RSA key)": ("pass", "ok", "test", ("王", "芳", "WANG", "FANG")),
    "EU test certificate, positive": ("deny", "test_positive", "test", ("Schmidt", "Anna")),
    "EU vaccination certificate from a signer for tests only": ("deny", "wrong_key_usage", "vaccination",
                                                                ("Gruber", "Lukas")),
    "EU certificate signed by a DSC that expired in 2022": ("deny", "key_expired", "vaccination",
                                                            ("de Vries", "Sanne")),
}


def test_the_demo_trust_bundle_holds_the_demo_dscs() -> None:
    """The demo's DSCs (kiosk/demo_keys/dsc, made by make-dsc's code) are in its signed bundle, each with its key."""
    from kiosk.demo import DEMO_DIR
    from kiosk.trustdir import load_trust_dir

    store = load_trust_dir(DEMO_DIR)
    made = {path.stem: certificate(path) for path in sorted((DEMO_DIR / "dsc").glob("*.pem"))}
    assert {kid_of(cert): name for name, cert in made.items()}.keys() == store.bundle.dscs.keys()
    assert usage(made["at-tests-only"]) == {OIDS["test"]}
    assert made["nl-expired"].not_valid_after_utc.year == 2022
    assert isinstance(made["fr"].public_key(), rsa.RSAPublicKey)
    for name, cert in made.items():
        private = serialization.load_pem_private_key((DEMO_DIR / "dsc" / f"{name}.key").read_bytes(), None)
        assert private.public_key() == cert.public_key(), name


@pytest.mark.slow
def test_the_demo_door_gives_each_eu_traveller_their_verdict(tmp_path: Path) -> None:
    """The demo's EU travellers filmed at the door, read by the camera pipeline, measured by the simulated
    thermometer and logged, as `kiosk demo` plays them (the whole queue: tests/test_demo_variants.py)."""
    from kiosk.audit.store import AuditLog
    from kiosk.checkpoint.demo import build_demo
    from kiosk.checkpoint.view import VerdictView
    from kiosk.cli.run import run_headless
    from kiosk.demo import queue

    people = [person for person in queue(time.time()) if person.text.startswith("HC1:")]
    assert [person.who for person in people] == list(TRAVELLERS)

    class Seen:
        def __init__(self) -> None:
            self.views: list[VerdictView] = []

        def on_verdict(self, view: VerdictView) -> None:
            self.views.append(view)

    seen = Seen()
    with build_demo(tmp_path, pace=1.6, people=people) as demo:
        demo.checkpoint.observers.append(seen)
        run_headless(demo.checkpoint, None)
    got = [(view.verdict, view.reason) for view in seen.views]
    assert got == [(verdict, reason) for verdict, reason, _, _ in TRAVELLERS.values()]
    for view, (_, _, kind, names) in zip(seen.views, TRAVELLERS.values()):
        assert view.certificate is not None and view.certificate.endswith(kind), view.certificate  # on the screen
        assert view.temperature, view  # measured at the door, as everyone
        family, given, *latin = names
        assert view.name and view.name.startswith(family[0]) and "*" in view.name, view.name
        assert all(part not in view.name for part in (family[1:] or "-", given, *latin)), view.name
    with AuditLog(tmp_path / "audit.db") as log:
        scans = [event for event in log.events() if event.kind == "scan"]
    assert [(e.reason, e.code_kind, e.details) for e in scans] == [
        (reason, kind, {"format": "hc1"}) for _, reason, kind, _ in TRAVELLERS.values()]
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("audit.db*"))
    for _, _, _, names in TRAVELLERS.values():
        for name in names:
            assert name.encode() not in stored, name  # never the name, in any script
    assert b"1964-08-12" not in stored  # nor the date of birth
