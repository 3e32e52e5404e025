"""`kiosk trust bundle --dsc`, `kiosk trust import` and `kiosk trust show` with HC1 document signer certificates,
run as a user runs them: `python -m kiosk` in a subprocess (spec section 4.1).

The DSCs are the member states' own (tests/data/dgc-testdata, what `openssl x509` says of them) and one made
here with `cryptography` that is valid today. Every expected line is written out here.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk import cose
from kiosk.keyfiles import read_signing_key

CATALOGUE = Path(__file__).parent / "data" / "dgc-testdata" / "common" / "2DCode" / "raw"
HANG = 120  # seconds: only against a hang
ISS = "CN-120000"


@dataclass
class Done:
    code: int
    out: str
    err: str

    def one_line_error(self, *fragments: str) -> str:
        """Exit 2, nothing on stdout, one line on stderr holding every fragment, no traceback."""
        assert (self.code, self.out) == (2, ""), self
        assert self.err.endswith("\n") and self.err.count("\n") == 1, self.err
        assert "Traceback" not in self.err
        for fragment in fragments:
            assert fragment in self.err, self.err
        return self.err.rstrip("\n")


Kiosk = Callable[..., "Done"]


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # the refresh record of an import goes there

    def run(*argv: object) -> Done:
        done = subprocess.run([sys.executable, "-m", "kiosk", *map(str, argv)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=HANG)
        return Done(done.returncode, done.stdout, done.stderr)

    return run


def vector_der(name: str) -> bytes:
    with (CATALOGUE / f"{name}.json").open("rb") as file:
        return base64.b64decode(json.load(file)["TESTCTX"]["CERTIFICATE"])


def kid_hex(der: bytes) -> str:
    return hashlib.sha256(der).digest()[:8].hex()  # the DCC's rule, spec 4.1


def pem(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + \
        "\n-----END CERTIFICATE-----\n"


TODAY = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
CSCA = ec.generate_private_key(ec.SECP256R1())


def fresh_der(*, serial: int = 1, padding: int = 0) -> bytes:
    """A DSC of "Testland" (C=XT), valid from yesterday for a year, for test certificates only."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "XT"),
                      x509.NameAttribute(x509.NameOID.COMMON_NAME, "Testland DSC")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(CSCA.public_key())
               .serial_number(serial).not_valid_before(TODAY - datetime.timedelta(days=1))
               .not_valid_after(TODAY + datetime.timedelta(days=365))
               .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.1")]), False))
    if padding:
        builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"),
                                                                   bytes(padding)), False)
    return builder.sign(CSCA, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class Folder:
    root: Path
    trust: Path
    dscs: Path  # a directory of the catalogue's DSCs in every form
    fresh: Path  # one DSC valid today, PEM


@pytest.fixture
def folder(kiosk: Kiosk, tmp_path: Path) -> Folder:
    assert kiosk("keygen", tmp_path / "root").code == 0
    trust = tmp_path / "trust"
    trust.mkdir()
    assert kiosk("trust", "pin", "--trust", trust, tmp_path / "root.pub").code == 0
    dscs = tmp_path / "dscs"
    (dscs / "old").mkdir(parents=True)
    (dscs / "CO13.der").write_bytes(vector_der("CO13"))  # EKU: vaccination (the 0.1847 spelling)
    (dscs / "CO15.crt").write_bytes(vector_der("CO15"))  # an empty EKU: all types
    (dscs / "SE.PEM").write_text(pem(vector_der("CO28")))  # Sweden's, no EKU; upper-case suffix
    (dscs / "README.txt").write_text("not a certificate: skipped")
    (dscs / "old" / "CO6.der").write_bytes(vector_der("CO6"))  # in a sub-directory: not read
    fresh = tmp_path / "testland.pem"
    fresh.write_text(pem(fresh_der()))
    return Folder(tmp_path / "root.key", trust, dscs, fresh)


def show(kiosk: Kiosk, trust: Path) -> tuple[list[str], Any]:
    text, as_json = kiosk("trust", "show", "--trust", trust), kiosk("trust", "show", "--trust", trust, "--json")
    assert (text.code, text.err, as_json.code, as_json.err) == (0, "", 0, ""), (text, as_json)
    return text.out.splitlines(), json.loads(as_json.out)


def test_a_bundle_of_dscs_is_built_imported_and_shown(kiosk: Kiosk, folder: Folder, tmp_path: Path) -> None:
    out = tmp_path / "trust.cose"
    made = kiosk("trust", "bundle", "--root-key", folder.root, "--seq", 1, "--dsc", folder.dscs,
                 "--dsc", folder.fresh, "--dsc", folder.dscs / "CO13.der", "--out", out)
    assert (made.code, made.err) == (0, "")
    assert made.out == f"trust bundle seq 1 with 0 key(s), 4 DSC(s), 0 revoked: {out}\n"  # CO13 twice counts once
    payload = cbor2.loads(cbor2.loads(out.read_bytes()).value[2])
    fresh = base64.b64decode("".join(folder.fresh.read_text().splitlines()[1:-1]))
    # the directory's files sorted by name (CO13.der, CO15.crt, SE.PEM), then the file
    assert payload["dsc"] == [vector_der("CO13"), vector_der("CO15"), vector_der("CO28"), fresh]
    assert kiosk("trust", "import", "--trust", folder.trust, out).out == \
        f"trust bundle seq 1 installed: {folder.trust / 'trust.cose'}\n"

    lines, info = show(kiosk, folder.trust)
    catalogue_dates = "2021-05-03 18:00 UTC .. 2021-06-02 18:00 UTC"  # openssl x509 -dates of CO13 and CO15
    assert lines[2:6] == [
        f"  dsc {kid_hex(vector_der('CO13'))}  -   {catalogue_dates}  not valid now  for vaccination  CN=EC-Me",
        f"  dsc {kid_hex(vector_der('CO15'))}  -   {catalogue_dates}  not valid now  for all  CN=EC-Me",
        f"  dsc {kid_hex(vector_der('CO28'))}  SE  2021-05-12 13:42 UTC .. 2023-05-12 14:02 UTC  not valid now  "
        "for all  CN=DGC Signer,2.5.4.97=162021004748,O=Swedish eHealth Agency,C=SE",
        f"  dsc {kid_hex(fresh)}  XT  {when(TODAY - datetime.timedelta(days=1))} .. "
        f"{when(TODAY + datetime.timedelta(days=365))}  valid now  for test  CN=Testland DSC,C=XT",
    ]
    assert lines[6] == "status list: none" and len(lines) == 7
    bundle = info["bundle"]
    assert isinstance(bundle, dict) and bundle["keys"] == []
    assert bundle["dscs"][3] == {
        "kid": kid_hex(fresh), "country": "XT", "subject": "CN=Testland DSC,C=XT",
        "not_before": int((TODAY - datetime.timedelta(days=1)).timestamp()),
        "not_after": int((TODAY + datetime.timedelta(days=365)).timestamp()),
        "key_usage": ["test"], "revoked": False, "valid_now": True}
    assert [(d["kid"], d["country"], d["key_usage"], d["valid_now"]) for d in bundle["dscs"][:3]] == [
        (kid_hex(vector_der("CO13")), None, ["vaccination"], False),
        (kid_hex(vector_der("CO15")), None, ["vaccination", "test", "recovery"], False),
        (kid_hex(vector_der("CO28")), "SE", ["vaccination", "test", "recovery"], False)]
    assert bundle["dscs"][2]["not_before"] == 1_620_826_978  # 2021-05-12T13:42:58Z


def test_old_bundles_still_import_and_dscs_join_revoke_and_roll_back_as_keys_do(
        kiosk: Kiosk, folder: Folder, tmp_path: Path) -> None:
    assert kiosk("keygen", tmp_path / "issuer").code == 0
    grant = f"{tmp_path / 'issuer.pub'},{ISS},2020-01-01,2099-12-31"
    old = tmp_path / "old.cose"
    assert kiosk("trust", "bundle", "--root-key", folder.root, "--seq", 1, "--grant", grant, "--out", old).code == 0
    assert "dsc" not in cbor2.loads(cbor2.loads(old.read_bytes()).value[2])  # a bundle as before HC1
    assert kiosk("trust", "import", "--trust", folder.trust, old).code == 0
    lines, info = show(kiosk, folder.trust)
    assert not any(line.startswith("  dsc ") for line in lines) and info["bundle"]["dscs"] == []

    with_dscs = tmp_path / "with-dscs.cose"
    assert kiosk("trust", "bundle", "--root-key", folder.root, "--seq", 2, "--grant", grant, "--dsc", folder.fresh,
                 "--out", with_dscs).code == 0
    assert kiosk("trust", "import", "--trust", folder.trust, with_dscs).code == 0
    code = kiosk("issue", "--key", tmp_path / "issuer.key", "--iss", ISS).out.strip()
    verified = kiosk("verify", "--trust", folder.trust, code)  # PHC1 codes verify as they did
    assert (verified.code, json.loads(verified.out)["reason"]) == (0, "ok")

    fresh_kid = kid_hex(base64.b64decode("".join(folder.fresh.read_text().splitlines()[1:-1])))
    revoking = tmp_path / "revoking.cose"
    assert kiosk("trust", "bundle", "--root-key", folder.root, "--seq", 3, "--grant", grant, "--dsc", folder.fresh,
                 "--revoke", fresh_kid, "--out", revoking).out.endswith(f"1 DSC(s), 1 revoked: {revoking}\n")
    assert kiosk("trust", "import", "--trust", folder.trust, revoking).code == 0
    lines, info = show(kiosk, folder.trust)
    assert [line for line in lines if line.startswith("  dsc ")] == [
        f"  dsc {fresh_kid}  XT  {when(TODAY - datetime.timedelta(days=1))} .. "
        f"{when(TODAY + datetime.timedelta(days=365))}  REVOKED  for test  CN=Testland DSC,C=XT"]
    shown = info["bundle"]["dscs"][0]
    assert (shown["revoked"], shown["valid_now"]) == (True, False)
    assert info["bundle"]["revoked"] == [fresh_kid]

    kiosk("trust", "import", "--trust", folder.trust, with_dscs).one_line_error(
        "trust bundle seq 2 is older than the installed seq 3 (rollback)")


def test_a_signed_bundle_with_an_unreadable_dsc_is_refused_and_nothing_changes(
        kiosk: Kiosk, folder: Folder, tmp_path: Path) -> None:
    good = tmp_path / "good.cose"
    assert kiosk("trust", "bundle", "--root-key", folder.root, "--seq", 1, "--dsc", folder.fresh,
                 "--out", good).code == 0
    assert kiosk("trust", "import", "--trust", folder.trust, good).code == 0
    installed = (folder.trust / "trust.cose").read_bytes()
    payload = {"type": "trust", "seq": 2, "iat": 1_780_000_000, "keys": [], "revoked": [],
               "dsc": [vector_der("CO13"), b"\x30\x03\x02\x01\x01"]}  # signed by the root, but no certificate
    bad = tmp_path / "bad.cose"
    bad.write_bytes(cose.sign(cbor2.dumps(payload), read_signing_key(folder.root)))
    line = kiosk("trust", "import", "--trust", folder.trust, bad).one_line_error()
    assert line.endswith(f"{bad}: dsc[1]: not an X.509 certificate in DER or PEM")
    assert (folder.trust / "trust.cose").read_bytes() == installed

    (folder.trust / "trust.cose").write_bytes(bad.read_bytes())  # copied in by hand, past the import's checks
    lines, info = show(kiosk, folder.trust)
    assert [line[:22] for line in lines if line.startswith("  dsc ")] == [f"  dsc {kid_hex(vector_der('CO13'))}"]
    unread = "1 DSC(s) of the bundle cannot be read and are ignored; import it to see why"
    assert lines[-1] == f"warning: {unread}" and info["warnings"] == [unread]


def test_dsc_arguments_that_are_not_certificates_are_one_line(kiosk: Kiosk, folder: Folder, tmp_path: Path) -> None:
    out = tmp_path / "trust.cose"
    bundle = ("trust", "bundle", "--root-key", folder.root, "--seq", 1, "--out", out)
    garbage = tmp_path / "garbage.der"
    garbage.write_bytes(b"\x30\x82\x01\x00" + os.urandom(256))
    kiosk(*bundle, "--dsc", garbage).one_line_error(
        "kiosk trust bundle: argument --dsc: ", f"{garbage}: not an X.509 certificate in DER or PEM")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    kiosk(*bundle, "--dsc", "empty").one_line_error("no *.pem, *.der or *.crt file in the directory 'empty'")
    kiosk(*bundle, "--dsc", tmp_path / "nowhere.pem").one_line_error(
        f"{tmp_path / 'nowhere.pem'}: cannot read: No such file or directory")
    text = tmp_path / "letter.pem"
    text.write_text("Dear operator, the DSCs are attached.\n")
    kiosk(*bundle, "--dsc", text).one_line_error(f"{text}: neither a DER certificate nor PEM with a CERTIFICATE block")
    two = tmp_path / "two.pem"
    two.write_text(pem(vector_der("CO3")) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    kiosk(*bundle, "--dsc", two).one_line_error(f"{two}: certificate 2: not an X.509 certificate in DER or PEM")
    assert not out.exists()


def test_a_bundle_no_kiosk_would_import_is_not_written(kiosk: Kiosk, folder: Folder, tmp_path: Path) -> None:
    # 270 DSCs of 15.5 KiB: 4.1 MiB signed, past the 4 MiB a trust bundle may be; two PEM files, each under it.
    big = tmp_path / "big"
    big.mkdir()
    for part in range(2):
        (big / f"part{part}.pem").write_text("".join(pem(fresh_der(serial=part * 1000 + n + 1, padding=15_500))
                                                     for n in range(135)))
    out = tmp_path / "trust.cose"
    line = kiosk("trust", "bundle", "--root-key", folder.root, "--seq", 1, "--dsc", big, "--out", out).one_line_error()
    assert line.startswith(f"kiosk trust: {out} not written: ")
    assert line.endswith("MiB, larger than the 4 MiB a trust bundle may be (give fewer DSCs)")
    assert not out.exists()
