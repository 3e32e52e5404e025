"""The issuer-side and trust commands of `kiosk`, run in-process through `main([...])`.

keygen, trust bundle/status-list/pin/import/show, issue, then verify of what was
issued; --config; and the rule that every usage or I/O error is exit 2 with one
line on stderr and nothing on stdout (spec section 6). Two tests go through
`python -m kiosk` to prove the entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

import kiosk
from kiosk import cose
from kiosk.cli.main import main
from kiosk.healthcode import decode_text
from kiosk.issuer import KeyGrant, sign_bundle
from kiosk.keyfiles import read_public_key, read_signing_key
from kiosk.status_list import StatusList
from kiosk.trust import parse_bundle

NOW = 1_780_000_000  # 2026-05-28 20:26:40 UTC
ISS = "CN-120000"
OTHER_ISS = "CN-110000"
KEY_FROM, KEY_FROM_EPOCH = "2020-01-01", 1_577_836_800
KEY_TO, KEY_TO_EPOCH = "2099-12-31T23:59:59Z", 4_102_444_799
SUBJECT = "00112233445566778899aabbccddeeff"
NAME = "张*明"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.out.endswith("\n") and self.out.count("\n") == 1, self.out
        return json.loads(self.out)


Kiosk = Callable[..., Result]


def one_line_error(result: Result, *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr holding every fragment."""
    assert result.code == 2, result
    assert result.out == ""
    assert result.err.endswith("\n") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err
    return result.err.rstrip("\n")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    monkeypatch.delenv("KIOSK_TRUST_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Kiosk:
    def run_kiosk(*argv: object) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as leaving:
            code = leaving.code  # type: ignore[assignment]
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run_kiosk


@dataclass
class KeyPair:
    key: Path
    pub: Path

    @property
    def public(self) -> bytes:
        return bytes.fromhex(self.pub.read_text())

    @property
    def kid(self) -> str:
        return cose.kid_of(self.public).hex()


@pytest.fixture
def keys(run: Kiosk, tmp_path: Path) -> dict[str, KeyPair]:
    made = {}
    for name in ("root", "issuer", "beijing", "old"):
        prefix = tmp_path / "keys" / name
        assert run("keygen", prefix).code == 0
        made[name] = KeyPair(prefix.with_suffix(".key"), prefix.with_suffix(".pub"))
    return made


def grant(pair: KeyPair, iss: str = ISS, nbf: str = KEY_FROM, exp: str = KEY_TO) -> str:
    return f"{pair.pub},{iss},{nbf},{exp}"


@dataclass
class Site:
    trust: Path
    keys: dict[str, KeyPair]
    bundle: Path


@pytest.fixture
def site(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> Site:
    """A trust directory made with the CLI: root pinned, bundle seq 1 imported (old is revoked)."""
    trust = tmp_path / "trust"
    bundle = tmp_path / "out" / "bundle-1.cose"
    made = run("trust", "bundle", "--root-key", keys["root"].key, "--seq", 1, "--iat", NOW - 86400,
               "--grant", grant(keys["issuer"]), "--grant", grant(keys["beijing"], OTHER_ISS),
               "--grant", grant(keys["old"]), "--revoke", keys["old"].pub, "--out", bundle)
    assert made.code == 0, made
    assert run("trust", "pin", "--trust", trust, keys["root"].pub).code == 0
    assert run("trust", "import", "--trust", trust, bundle).code == 0
    return Site(trust, keys, bundle)


def issue(run: Kiosk, pair: KeyPair, *args: object, iss: str = ISS) -> str:
    result = run("issue", "--key", pair.key, "--iss", iss, *args)
    assert result.code == 0, result
    assert result.err == ""
    assert result.out.count("\n") == 1
    return result.out.rstrip("\n")


def when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- keygen


def test_keygen_makes_a_private_and_a_public_key(run: Kiosk, tmp_path: Path) -> None:
    prefix = tmp_path / "new" / "folder" / "alice.v2"
    result = run("keygen", prefix)
    assert result.code == 0 and result.err == ""
    key, pub = tmp_path / "new" / "folder" / "alice.v2.key", tmp_path / "new" / "folder" / "alice.v2.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    seed_text, pub_text = key.read_text(), pub.read_text()
    mark, seed_hex = seed_text.splitlines()
    assert "private key" in mark and mark.startswith("#")  # so a .key is never taken for a .pub
    assert len(seed_hex) == len(pub_text) - 1 == 64 and seed_text.endswith("\n") and pub_text.endswith("\n")
    public = bytes(SigningKey(bytes.fromhex(seed_hex)).verify_key)
    assert bytes.fromhex(pub_text) == public
    assert result.out.splitlines() == [
        f"kid {cose.kid_of(public).hex()}",
        f"private {key} (keep it secret, mode 0600)",
        f"public  {pub}",
    ]
    assert run("keygen", tmp_path / "bob").code == 0
    assert (tmp_path / "bob.pub").read_text() != pub_text  # a fresh key each time


@pytest.mark.parametrize("existing", ["both", "key only", "pub only"])
def test_keygen_refuses_to_overwrite(run: Kiosk, tmp_path: Path, existing: str) -> None:
    prefix = tmp_path / "alice"
    assert run("keygen", prefix).code == 0
    key, pub = tmp_path / "alice.key", tmp_path / "alice.pub"
    if existing == "key only":
        pub.unlink()
    if existing == "pub only":
        key.unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.glob("alice.*")}
    line = one_line_error(run("keygen", prefix), "exists already; refusing to overwrite a key")
    assert line.startswith("kiosk keygen: ")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("alice.*")} == before


# --------------------------------------------------------------------------- trust bundle


def test_trust_bundle_with_grants_and_revocations(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    out = tmp_path / "b.cose"
    stranger_kid = "A1B2C3D4E5F60718"
    result = run("trust", "bundle", "--root-key", keys["root"].key, "--seq", 5, "--iat", "2026-05-28T20:26:40Z",
                 "--grant", grant(keys["issuer"]),
                 "--grant", f"{keys['beijing'].pub},{OTHER_ISS},{NOW - 10},{NOW + 10}",
                 "--grant", grant(keys["old"], ISS, "2020-01-01T08:00+08:00", "2021-01-01"),
                 "--revoke", keys["old"].pub, "--revoke", stranger_kid, "--out", out)
    assert result.code == 0 and result.err == ""
    assert result.out == f"trust bundle seq 5 with 3 key(s), 2 revoked: {out}\n"
    bundle = parse_bundle(out.read_bytes(), {bytes.fromhex(keys["root"].kid): keys["root"].public})
    assert (bundle.seq, bundle.iat, bundle.signer.hex()) == (5, NOW, keys["root"].kid)
    listed = {k.kid.hex(): (k.pub, k.iss, k.nbf, k.exp) for k in bundle.keys.values()}
    assert listed == {
        keys["issuer"].kid: (keys["issuer"].public, ISS, KEY_FROM_EPOCH, KEY_TO_EPOCH),
        keys["beijing"].kid: (keys["beijing"].public, OTHER_ISS, NOW - 10, NOW + 10),
        keys["old"].kid: (keys["old"].public, ISS, KEY_FROM_EPOCH, 1_609_459_200),
    }
    assert {kid.hex() for kid in bundle.revoked} == {keys["old"].kid, stranger_kid.lower()}


def test_trust_bundle_iat_defaults_to_now(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    before = int(time.time())
    assert run("trust", "bundle", "--root-key", keys["root"].key, "--seq", 0, "--out", tmp_path / "b").code == 0
    bundle = parse_bundle((tmp_path / "b").read_bytes(), {bytes.fromhex(keys["root"].kid): keys["root"].public})
    assert before <= bundle.iat <= int(time.time())
    assert (bundle.seq, dict(bundle.keys), bundle.revoked) == (0, {}, frozenset())


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--grant", "{issuer},CN-1,2020-01-01"], "argument --grant: expected PUB_FILE,ISS,NBF,EXP"),
    (["--grant", "{missing},CN-1,2020-01-01,2030-01-01"], "cannot read the public key"),
    (["--grant", "{issuer},CN-1,someday,2030-01-01"], "not epoch seconds nor an ISO 8601 time: 'someday'"),
    (["--revoke", "xyz"], "argument --revoke: neither 16 hex digits nor a public key file"),
    (["--revoke", "zzzzzzzzzzzzzzzz"], "neither 16 hex digits nor a public key file"),
    (["--seq", "two"], "argument --seq: not a whole number 0 or more: 'two'"),
])
def test_trust_bundle_usage_errors(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path,
                                   extra: list[str], fragment: str) -> None:
    out = tmp_path / "b.cose"
    paths = {"issuer": keys["issuer"].pub, "missing": tmp_path / "missing.pub"}
    argv = ["trust", "bundle", "--root-key", keys["root"].key, "--seq", "1", "--out", out]
    result = run(*argv, *(e.format(**paths) for e in extra))
    line = one_line_error(result, fragment)
    assert line.startswith("kiosk trust bundle: ") and line.endswith("(try --help)")
    assert not out.exists()


def test_trust_bundle_needs_out(run: Kiosk, keys: dict[str, KeyPair]) -> None:
    one_line_error(run("trust", "bundle", "--root-key", keys["root"].key, "--seq", 1),
                   "the following arguments are required: --out")


def test_trust_bundle_with_an_unreadable_root_key(run: Kiosk, tmp_path: Path) -> None:
    out = tmp_path / "b.cose"
    line = one_line_error(run("trust", "bundle", "--root-key", tmp_path / "nope.key", "--seq", 1, "--out", out))
    assert line.startswith(f"kiosk trust: {tmp_path / 'nope.key'}: cannot read the private key")
    assert not out.exists()


def test_trust_bundle_refuses_a_negative_seq(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    out = tmp_path / "b.cose"
    one_line_error(run("trust", "bundle", "--root-key", keys["root"].key, "--seq", "-1", "--out", out))
    assert not out.exists()


# --------------------------------------------------------------------------- trust status-list


def read_status(path: Path, signer: KeyPair) -> StatusList:
    sign1 = cose.decode_sign1(path.read_bytes())
    assert sign1.kid.hex() == signer.kid
    assert cose.verify(sign1, signer.public)
    return StatusList.from_payload(sign1.payload)


def subject(n: int) -> str:
    return f"{n:032x}"


def test_trust_status_list_with_entries_and_csv(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    rows = tmp_path / "changes.csv"
    rows.write_text("subject,status,since\n# changes of the morning\n\n"
                    f"{subject(3)}, green , {NOW + 100}\n"
                    f"{subject(4).upper()},AMBER,2026-05-28\n", encoding="utf-8")
    out = tmp_path / "status.cose"
    result = run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 3, "--iat", NOW,
                 "--entry", f"{subject(1)}:red:{NOW}", "--entry", f"{subject(2)}:1:{NOW - 5}",
                 "--entries", rows, "--out", out)
    assert result.code == 0 and result.err == ""
    assert result.out == f"status list seq 3 of {ISS} with 4 entries: {out}\n"
    status = read_status(out, keys["issuer"])
    assert (status.seq, status.iat, status.iss, len(status)) == (3, NOW, ISS, 4)
    assert status.lookup(bytes.fromhex(subject(1))) == (2, NOW)
    assert status.lookup(bytes.fromhex(subject(2))) == (1, NOW - 5)
    assert status.lookup(bytes.fromhex(subject(3))) == (0, NOW + 100)
    assert status.lookup(bytes.fromhex(subject(4))) == (1, 1_779_926_400)


def test_trust_status_list_entry_with_a_date(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    out = tmp_path / "status.cose"
    assert run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 1,
               "--entry", f"{SUBJECT}:green:2026-05-28", "--out", out).code == 0
    assert read_status(out, keys["issuer"]).lookup(bytes.fromhex(SUBJECT)) == (0, 1_779_926_400)


def test_trust_status_list_entry_with_an_iso_time(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    out = tmp_path / "status.cose"
    result = run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 1,
                 "--entry", f"{SUBJECT}:red:2026-05-28T20:26:40Z", "--out", out)
    assert (result.code, result.err) == (0, "")
    assert read_status(out, keys["issuer"]).lookup(bytes.fromhex(SUBJECT)) == (2, NOW)


@pytest.mark.parametrize(("row", "fragment"), [
    (f"{SUBJECT},purple,1", "status is green, amber or red: 'purple'"),
    ("abcd,red,1", "a subject is 32 hex digits: 'abcd'"),
    (f"{SUBJECT},red", "expected SUBJECT,STATUS,SINCE, got"),
    (f"{SUBJECT},red,1,extra", "expected SUBJECT,STATUS,SINCE, got"),
    (f"{SUBJECT},red,yesterday", "not epoch seconds nor an ISO 8601 time: 'yesterday'"),
    (f"{SUBJECT},3,1", "status is green, amber or red: '3'"),
])
def test_trust_status_list_bad_csv_row(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path,
                                       row: str, fragment: str) -> None:
    rows = tmp_path / "changes.csv"
    rows.write_text(f"subject,status,since\n{subject(1)},red,{NOW}\n# a comment\n{row}\n{subject(2)},red,{NOW}\n")
    out = tmp_path / "status.cose"
    result = run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 1,
                 "--entries", rows, "--out", out)
    line = one_line_error(result, fragment)
    assert line.startswith(f"kiosk trust: {rows}:4: ")
    assert not out.exists()


def test_trust_status_list_missing_csv(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    rows = tmp_path / "nope.csv"
    line = one_line_error(run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 1,
                              "--entries", rows, "--out", tmp_path / "s.cose"))
    assert line == f"kiosk trust: {rows}: cannot read: No such file or directory"


@pytest.mark.parametrize("entry", [f"{SUBJECT}:red", "0011:red:1", f"{SUBJECT}:blue:1", f"{SUBJECT}:red:soon"])
def test_trust_status_list_bad_entry_is_a_usage_error(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path,
                                                      entry: str) -> None:
    line = one_line_error(run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 1,
                              "--entry", entry, "--out", tmp_path / "s.cose"), "argument --entry: ")
    assert line.startswith("kiosk trust status-list: ")


def test_trust_status_list_csv_not_utf8(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    rows = tmp_path / "latin1.csv"
    rows.write_bytes(f"{SUBJECT},red,1\n# caf\xe9\n".encode("latin-1"))
    one_line_error(run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 1,
                       "--entries", rows, "--out", tmp_path / "s.cose"), str(rows))


@pytest.mark.parametrize("how", ["--entry since inf", "csv since nan"])
def test_trust_status_list_since_not_finite(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path, how: str) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(f"{SUBJECT},red,nan\n")
    extra = ["--entry", f"{SUBJECT}:red:inf"] if how.startswith("--entry") else ["--entries", rows]
    one_line_error(run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 1, *extra,
                       "--out", tmp_path / "s.cose"))


# --------------------------------------------------------------------------- trust pin / import


def test_trust_pin(run: Kiosk, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    trust = tmp_path / "fresh"
    result = run("trust", "pin", "--trust", trust, keys["root"].pub)
    target = trust / "roots" / f"root-{keys['root'].kid}.pub"
    assert result.code == 0 and result.err == ""
    assert result.out == f"root pinned: {target}\n"
    assert target.read_text() == keys["root"].public.hex() + "\n"


def test_trust_pin_refuses_a_non_key(run: Kiosk, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("remember the milk\n")
    line = one_line_error(run("trust", "pin", "--trust", tmp_path / "trust", bogus), "not a root public key")
    assert line.startswith(f"kiosk trust: {bogus}: ")
    assert not (tmp_path / "trust").exists()


def make_bundle(run: Kiosk, site: Site, seq: int, *grants: str, revoke: tuple[Path, ...] = ()) -> Path:
    out = site.trust.parent / "out" / f"bundle-{seq}-{len(grants)}.cose"
    extra = [a for g in grants for a in ("--grant", g)] + [a for r in revoke for a in ("--revoke", r)]
    assert run("trust", "bundle", "--root-key", site.keys["root"].key, "--seq", seq, "--iat", NOW, *extra,
               "--out", out).code == 0
    return out


def make_status(run: Kiosk, site: Site, seq: int, *entries: str, signer: str = "issuer", iss: str = ISS) -> Path:
    out = site.trust.parent / "out" / f"status-{seq}-{signer}-{len(entries)}.cose"
    extra = [a for e in entries for a in ("--entry", e)]
    assert run("trust", "status-list", "--key", site.keys[signer].key, "--iss", iss, "--seq", seq, "--iat", NOW,
               *extra, "--out", out).code == 0
    return out


def test_trust_import_bundle_and_status_list(run: Kiosk, site: Site) -> None:
    assert (site.trust / "trust.cose").read_bytes() == site.bundle.read_bytes()
    again = run("trust", "import", "--trust", site.trust, site.bundle)
    assert (again.code, again.err) == (0, "")
    assert again.out == f"trust bundle seq 1 already installed: {site.trust / 'trust.cose'}\n"
    newer = make_bundle(run, site, 2, grant(site.keys["issuer"]))
    result = run("trust", "import", "--trust", site.trust, newer)
    assert result.out == f"trust bundle seq 2 installed: {site.trust / 'trust.cose'}\n"
    status = make_status(run, site, 1, f"{SUBJECT}:red:{NOW}")
    result = run("trust", "import", "--trust", site.trust, status)
    assert (result.code, result.err) == (0, "")
    assert result.out == f"status list seq 1 installed: {site.trust / 'status.cose'}\n"
    assert (site.trust / "status.cose").read_bytes() == status.read_bytes()


@pytest.mark.parametrize("case", ["rollback", "tampered", "not pinned", "iss differs"])
def test_trust_import_refusal(run: Kiosk, site: Site, tmp_path: Path, case: str) -> None:
    assert run("trust", "import", "--trust", site.trust, make_bundle(run, site, 2, grant(site.keys["issuer"]),
                                                                     grant(site.keys["beijing"], OTHER_ISS))).code == 0
    before = {p.name: p.read_bytes() for p in site.trust.iterdir() if p.is_file()}
    if case == "rollback":
        src, expected = site.bundle, "trust bundle seq 1 is older than the installed seq 2 (rollback)"
    elif case == "tampered":
        data = bytearray(make_bundle(run, site, 3).read_bytes())
        data[len(data) // 2] ^= 0x01
        src, expected = tmp_path / "tampered.cose", "the signature does not verify"
        src.write_bytes(bytes(data))
    elif case == "not pinned":
        assert run("trust", "bundle", "--root-key", site.keys["old"].key, "--seq", 9, "--out",
                   tmp_path / "rogue.cose").code == 0
        src, expected = tmp_path / "rogue.cose", f"signed by kid {site.keys['old'].kid}"
    else:
        src = make_status(run, site, 1, signer="beijing", iss=ISS)
        expected = f"list of issuer '{ISS}' signed by a key of issuer '{OTHER_ISS}'"
    line = one_line_error(run("trust", "import", "--trust", site.trust, src), expected)
    assert line.startswith(f"kiosk trust: {src}: ")
    assert {p.name: p.read_bytes() for p in site.trust.iterdir() if p.is_file()} == before


def test_trust_import_prints_warnings(run: Kiosk, site: Site) -> None:
    status = make_status(run, site, 1, f"{SUBJECT}:red:{NOW}")
    assert run("trust", "import", "--trust", site.trust, status).code == 0
    without_issuer = make_bundle(run, site, 2, grant(site.keys["beijing"], OTHER_ISS))
    result = run("trust", "import", "--trust", site.trust, without_issuer)
    assert result.code == 0
    assert result.out.splitlines() == [f"trust bundle seq 2 installed: {site.trust / 'trust.cose'}"]
    warnings = result.err.splitlines()  # warnings go to stderr, as verify's do
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {site.trust / 'status.cose'}: signed by kid {site.keys['issuer'].kid}")
    assert warnings[0].endswith("import a newer status list")


def test_trust_import_into_a_missing_directory(run: Kiosk, site: Site, tmp_path: Path) -> None:
    one_line_error(run("trust", "import", "--trust", tmp_path / "nowhere", site.bundle),
                   f"{tmp_path / 'nowhere'}: no such trust directory")


# --------------------------------------------------------------------------- trust show


def test_trust_show_text_and_json(run: Kiosk, site: Site, tmp_path: Path) -> None:
    keys = site.keys
    bundle = make_bundle(run, site, 2, grant(keys["issuer"]), grant(keys["beijing"], OTHER_ISS, "2020-01-01",
                                                                    "2021-01-01"),
                         grant(keys["old"]), revoke=(keys["old"].pub,))
    assert run("trust", "import", "--trust", site.trust, bundle).code == 0
    rows = tmp_path / "many.csv"
    rows.write_text("".join(f"{subject(n)},red,{NOW}\n" for n in range(1234)))
    status = tmp_path / "status.cose"
    assert run("trust", "status-list", "--key", keys["issuer"].key, "--iss", ISS, "--seq", 7, "--iat", NOW - 60,
               "--entries", rows, "--out", status).code == 0
    assert run("trust", "import", "--trust", site.trust, status).code == 0
    broken = site.trust / "roots" / "broken.pub"
    broken.write_text("xyz\n")

    text = run("trust", "show", "--trust", site.trust)
    assert (text.code, text.err) == (0, "")
    lines = text.out.splitlines()
    assert lines[0] == f"trust directory {site.trust}"
    assert lines[1].startswith(f"bundle seq 2, issued {when(NOW)} (")
    assert lines[1].endswith(f" h ago), root {keys['root'].kid}")
    assert lines[2:5] == [
        f"  key {keys['issuer'].kid}  {ISS:<12} 2020-01-01 00:00 UTC .. 2099-12-31 23:59 UTC  valid now",
        f"  key {keys['beijing'].kid}  {OTHER_ISS:<12} 2020-01-01 00:00 UTC .. 2021-01-01 00:00 UTC  not valid now",
        f"  key {keys['old'].kid}  {ISS:<12} 2020-01-01 00:00 UTC .. 2099-12-31 23:59 UTC  REVOKED",
    ]
    assert lines[5] == f"status list seq 7 of {ISS}, issued {when(NOW - 60)}, 1,234 entries"
    assert lines[6].startswith(f"warning: {broken}: expected one line of 64 hex digits")
    assert len(lines) == 7

    result = run("trust", "show", "--trust", site.trust, "--json")
    assert (result.code, result.err) == (0, "")
    info = result.json()
    assert set(info) == {"bundle", "status_list", "warnings"}
    shown = info["bundle"]
    assert (shown["seq"], shown["iat"], shown["root"]) == (2, NOW, keys["root"].kid)
    assert shown["age_seconds"] >= int(time.time()) - NOW - 5
    assert shown["revoked"] == [keys["old"].kid]
    assert shown["keys"] == [
        {"kid": keys["issuer"].kid, "iss": ISS, "nbf": KEY_FROM_EPOCH, "exp": KEY_TO_EPOCH,
         "revoked": False, "valid_now": True},
        {"kid": keys["beijing"].kid, "iss": OTHER_ISS, "nbf": KEY_FROM_EPOCH, "exp": 1_609_459_200,
         "revoked": False, "valid_now": False},
        {"kid": keys["old"].kid, "iss": ISS, "nbf": KEY_FROM_EPOCH, "exp": KEY_TO_EPOCH,
         "revoked": True, "valid_now": False},
    ]
    listed = info["status_list"]
    assert {k: listed[k] for k in ("seq", "iat", "iss", "entries")} == {
        "seq": 7, "iat": NOW - 60, "iss": ISS, "entries": 1234}
    assert len(info["warnings"]) == 1 and info["warnings"][0].startswith(f"{broken}: ")


def test_trust_show_without_status_list(run: Kiosk, site: Site) -> None:
    text = run("trust", "show", "--trust", site.trust)
    assert "status list: none" in text.out.splitlines()
    assert not any(line.startswith("warning:") for line in text.out.splitlines())
    info = run("trust", "show", "--trust", site.trust, "--json").json()
    assert info["status_list"] is None and info["warnings"] == []
    assert info["bundle"]["seq"] == 1


def test_trust_show_of_a_broken_directory(run: Kiosk, site: Site, tmp_path: Path) -> None:
    one_line_error(run("trust", "show", "--trust", tmp_path / "nowhere"), "no such trust directory")
    (site.trust / "trust.cose").write_bytes(b"\x00garbage")
    line = one_line_error(run("trust", "show", "--trust", site.trust, "--json"))
    assert line.startswith(f"kiosk trust: {site.trust / 'trust.cose'}: not a valid COSE_Sign1 file")


def test_trust_show_uses_the_default_directory(run: Kiosk, site: Site, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    one_line_error(run("trust", "show"), f"{tmp_path / 'xdg' / 'kiosk' / 'trust'}: no such trust directory")
    monkeypatch.setenv("KIOSK_TRUST_DIR", str(site.trust))
    assert run("trust", "show", "--json").json()["bundle"]["seq"] == 1


def test_trust_show_with_a_far_future_expiry(run: Kiosk, site: Site, tmp_path: Path) -> None:
    # The CLI refuses to write such a time, but another issuer's bundle may hold any integer.
    grant_ = KeyGrant(read_public_key(site.keys["issuer"].pub), ISS, 0, 253402300800 * 10)
    bundle = tmp_path / "far.cose"
    bundle.write_bytes(sign_bundle(read_signing_key(site.keys["root"].key), seq=2, iat=NOW, keys=[grant_]))
    assert run("trust", "import", "--trust", site.trust, bundle).code == 0
    result = run("trust", "show", "--trust", site.trust)
    assert result.code == 0
    assert f"  key {site.keys['issuer'].kid}" in result.out


# --------------------------------------------------------------------------- issue, then verify


def test_issue_with_every_option(run: Kiosk, site: Site, tmp_path: Path) -> None:
    png = tmp_path / "code.png"
    text = issue(run, site.keys["issuer"], "--status", "amber", "--kind", "printed", "--subject", SUBJECT.upper(),
                 "--name", NAME, "--iat", "2026-05-28T08:00:00+08:00", "--exp", "2026-06-28", "--png", png)
    assert text.startswith("PHC1:")
    scanned = decode_text(text)
    assert scanned.sign1.kid.hex() == site.keys["issuer"].kid
    assert cose.verify(scanned.sign1, site.keys["issuer"].public)
    code = scanned.code
    assert (code.iss, code.status, code.kind, code.subject.hex(), code.name) == (ISS, 1, 1, SUBJECT, NAME)
    assert (code.iat, code.exp) == (1_779_926_400, 1_782_604_800)
    assert len(code.cti) == 12

    from kiosk.scanner.decoders import decode_file

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert decode_file(png) == [text]

    verdict = run("verify", "--trust", site.trust, "--now", code.iat + 3600, text)
    assert (verdict.code, verdict.err) == (1, "")
    assert verdict.json() == {
        "verdict": "deny", "reason": "status_amber", "status": "amber", "kid": site.keys["issuer"].kid,
        "iss": ISS, "subject": SUBJECT, "iat": code.iat, "exp": code.exp, "kind": "printed", "name": NAME,
        "temperature": None, "warnings": [], "format": "phc1",  # issue 15: every line names its format
    }
    from_image = run("verify", "--trust", site.trust, "--now", code.iat + 3600, "--image", png)
    assert from_image.json() == verdict.json()
    refused = run("verify", "--trust", site.trust, "--now", code.iat + 3600, "--no-printed", text)
    assert (refused.code, refused.json()["reason"]) == (1, "printed_not_accepted")


def test_issue_defaults(run: Kiosk, site: Site) -> None:
    before = int(time.time())
    code = decode_text(issue(run, site.keys["issuer"])).code
    assert before <= code.iat <= int(time.time())
    assert code.exp == code.iat + 86400
    assert (code.iss, code.status, code.kind, code.name) == (ISS, 0, 0, None)
    other = decode_text(issue(run, site.keys["issuer"])).code
    assert other.subject != code.subject and other.cti != code.cti  # random each time


def test_issue_valid_for(run: Kiosk, site: Site) -> None:
    code = decode_text(issue(run, site.keys["issuer"], "--iat", NOW, "--valid-for", "600.9")).code
    assert (code.iat, code.exp) == (NOW, NOW + 600)
    code = decode_text(issue(run, site.keys["issuer"], "--iat", NOW, "--valid-for", 0)).code
    assert code.exp == NOW


def test_issued_code_passes(run: Kiosk, site: Site) -> None:
    text = issue(run, site.keys["issuer"], "--iat", NOW, "--subject", SUBJECT, "--name", NAME)
    result = run("verify", "--trust", site.trust, "--now", NOW + 10, text)
    assert (result.code, result.err) == (0, "")
    assert result.json() == {
        "verdict": "pass", "reason": "ok", "status": "green", "kid": site.keys["issuer"].kid, "iss": ISS,
        "subject": SUBJECT, "iat": NOW, "exp": NOW + 86400, "kind": "dynamic", "name": NAME,
        "temperature": None, "warnings": [], "format": "phc1",  # issue 15: every line names its format
    }


@pytest.mark.parametrize(("signer", "iss", "issue_args", "verify_args", "code", "reason"), [
    ("issuer", ISS, ["--status", "red"], [], 1, "status_red"),
    ("issuer", ISS, [], ["--now", NOW + 301], 1, "too_old"),
    ("issuer", ISS, [], ["--now", NOW + 301, "--max-age", 400], 0, "ok"),
    ("issuer", ISS, ["--kind", "printed", "--valid-for", 600], ["--now", NOW + 721], 1, "expired"),
    ("issuer", ISS, ["--kind", "printed", "--valid-for", 600], ["--now", NOW + 720], 0, "ok"),
    ("issuer", ISS, [], ["--now", NOW - 121], 1, "not_yet_valid"),
    ("issuer", ISS, [], ["--temperature", "37.3"], 1, "fever"),
    ("issuer", ISS, [], ["--temperature", "36.6"], 0, "ok"),
    ("issuer", ISS, [], ["--temperature", "50"], 3, "temperature_implausible"),
    ("old", ISS, [], [], 1, "key_revoked"),
    ("beijing", ISS, [], [], 1, "issuer_mismatch"),
    ("beijing", OTHER_ISS, [], [], 0, "ok"),
    ("root", ISS, [], [], 1, "unknown_key"),
])
def test_issued_code_verdicts(run: Kiosk, site: Site, signer: str, iss: str, issue_args: list[object],
                              verify_args: list[object], code: int, reason: str) -> None:
    text = issue(run, site.keys[signer], "--iat", NOW, *issue_args, iss=iss)
    now = [] if "--now" in verify_args else ["--now", NOW + 5]
    result = run("verify", "--trust", site.trust, *now, *verify_args, text)
    assert result.code == code
    assert result.json()["reason"] == reason


def test_status_list_changes_the_verdict_of_an_issued_code(run: Kiosk, site: Site) -> None:
    text = issue(run, site.keys["issuer"], "--iat", NOW, "--subject", SUBJECT)
    late = make_status(run, site, 1, f"{SUBJECT}:red:{NOW + 30}")
    assert run("trust", "import", "--trust", site.trust, late).code == 0
    result = run("verify", "--trust", site.trust, "--now", NOW + 60, text)
    assert (result.code, result.json()["reason"], result.json()["status"]) == (1, "status_red", "red")
    early = make_status(run, site, 2, f"{SUBJECT}:red:{NOW - 30}")  # a change before the code: the code stands
    assert run("trust", "import", "--trust", site.trust, early).code == 0
    result = run("verify", "--trust", site.trust, "--now", NOW + 60, text)
    assert (result.code, result.json()["reason"]) == (0, "ok")


def test_verify_prints_trust_warnings_on_stderr(run: Kiosk, site: Site) -> None:
    (site.trust / "status.cose").write_bytes(b"junk")
    text = issue(run, site.keys["issuer"], "--iat", NOW)
    result = run("verify", "--trust", site.trust, "--now", NOW + 5, text)
    assert result.code == 0
    warnings = result.json()["warnings"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{site.trust / 'status.cose'}: not a valid COSE_Sign1 file")
    assert warnings[0].endswith("; status list ignored, verifying with the trust bundle alone")
    assert result.err == f"warning: {warnings[0]}\n"
    assert result.err.count("\n") == 1 and result.err.startswith(f"warning: {site.trust / 'status.cose'}: ")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--exp", NOW - 1], "kiosk issue: --exp is before --iat"),
    (["--exp", NOW + 10, "--valid-for", 10], "argument --valid-for: not allowed with argument --exp"),
    (["--status", "purple"], "argument --status: invalid choice: 'purple'"),
    (["--kind", "tattoo"], "argument --kind: invalid choice: 'tattoo'"),
    (["--subject", "0011"], "argument --subject: a subject is 16 bytes: 32 hex digits"),
    (["--subject", "zz" * 16], "argument --subject: a subject is 16 bytes: 32 hex digits"),
    (["--valid-for", "-5"], "argument --valid-for: seconds must be 0 or more"),
    (["--iat", "tomorrow"], "argument --iat: not epoch seconds nor an ISO 8601 time: 'tomorrow'"),
])
def test_issue_errors(run: Kiosk, site: Site, args: list[object], fragment: str) -> None:
    one_line_error(run("issue", "--key", site.keys["issuer"].key, "--iss", ISS, "--iat", NOW, *args), fragment)


def test_issue_with_an_unreadable_key_or_png_path(run: Kiosk, site: Site, tmp_path: Path) -> None:
    line = one_line_error(run("issue", "--key", tmp_path / "nope.key", "--iss", ISS))
    assert line.startswith(f"kiosk issue: {tmp_path / 'nope.key'}: cannot read the private key")
    one_line_error(run("issue", "--key", site.keys["issuer"].key, "--iss", ISS, "--png",
                       tmp_path / "no-such-folder" / "code.png"), "kiosk issue: ")


@pytest.mark.parametrize("iat", ["nan", "inf"])
def test_issue_refuses_a_time_that_is_not_finite(run: Kiosk, site: Site, iat: str) -> None:
    one_line_error(run("issue", "--key", site.keys["issuer"].key, "--iss", ISS, "--iat", iat))


def test_verify_refuses_now_nan(run: Kiosk, site: Site) -> None:
    expired = issue(run, site.keys["issuer"], "--iat", NOW - 86400 * 30, "--valid-for", 60)
    assert run("verify", "--trust", site.trust, "--now", NOW, expired).json()["reason"] == "expired"
    one_line_error(run("verify", "--trust", site.trust, "--now", "nan", expired))


def test_verify_errors_are_one_line(run: Kiosk, site: Site, tmp_path: Path) -> None:
    text = issue(run, site.keys["issuer"], "--iat", NOW)
    one_line_error(run("verify", "--trust", tmp_path / "nowhere", text), "no such trust directory")
    one_line_error(run("verify", "--trust", site.trust), "give the code as TEXT, - (standard input) or --image FILE")
    one_line_error(run("verify", "--trust", site.trust, "--image", tmp_path / "none.png", text),
                   "give TEXT, - or --image FILE, not two of them")
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("hello")
    one_line_error(run("verify", "--trust", site.trust, "--image", not_a_picture), "not a picture that can be read")


# --------------------------------------------------------------------------- --config


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_config_trust_dir_is_relative_to_the_config_file(run: Kiosk, site: Site, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "etc" / "kiosk"
    shutil.copytree(site.trust, etc / "trust-data")
    config = write_config(etc / "kiosk.toml", '[trust]\ndir = "trust-data"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for argv in (["--config", config, "trust", "show", "--json"], ["trust", "show", "--json", "--config", config]):
        result = run(*argv)
        assert (result.code, result.err) == (0, "")
        assert result.json()["bundle"]["seq"] == 1
    text_show = run("trust", "show", "--config", config)
    assert text_show.out.splitlines()[0] == f"trust directory {etc / 'trust-data'}"
    text = issue(run, site.keys["issuer"], "--iat", NOW)
    result = run("--config", config, "verify", "--now", NOW + 5, text)
    assert (result.code, result.json()["reason"]) == (0, "ok")
    monkeypatch.setenv("KIOSK_CONFIG", str(config))
    assert run("verify", "--now", NOW + 5, text).code == 0
    # --trust on the command line wins over the config
    one_line_error(run("verify", "--trust", elsewhere, "--now", NOW + 5, text), f"{elsewhere}: ")


def test_config_policy_is_used_by_verify(run: Kiosk, site: Site, tmp_path: Path) -> None:
    config = write_config(tmp_path / "site.toml",
                          f'[trust]\ndir = "{site.trust}"\n\n[policy]\nmax_age = 30\naccept_printed = false\n')
    dynamic = issue(run, site.keys["issuer"], "--iat", NOW)
    printed = issue(run, site.keys["issuer"], "--iat", NOW, "--kind", "printed")
    assert run("verify", "--config", config, "--now", NOW + 31, dynamic).json()["reason"] == "too_old"
    assert run("verify", "--config", config, "--now", NOW + 31, "--max-age", 60, dynamic).json()["reason"] == "ok"
    assert run("verify", "--config", config, "--now", NOW + 5, printed).json()["reason"] == "printed_not_accepted"
    assert run("verify", "--trust", site.trust, "--now", NOW + 31, dynamic).json()["reason"] == "ok"


@pytest.mark.parametrize(("content", "fragment"), [
    ('[policy]\ncolour = "red"\n', "[policy] unknown setting(s): colour"),
    ("[policy]\nmax_age = -1\n", "[policy] max_age = -1: expected a number of seconds, 0 or more"),
    ('[policy]\naccept_printed = "yes"\n', '[policy] accept_printed = "yes": expected true or false'),
    ('[display]\nlanguage = "zh"\n', "unknown section(s): display"),
    ('[trust]\ndir = "x"\nkeys = "y"\n', "[trust] unknown setting(s): keys; expected one of: dir, warn_hours"),
    ("[policy\n", "not valid TOML"),
])
def test_bad_config_is_one_line(run: Kiosk, site: Site, tmp_path: Path, content: str, fragment: str) -> None:
    config = write_config(tmp_path / "bad.toml", content)
    text = issue(run, site.keys["issuer"], "--iat", NOW)
    for argv in (["verify", "--config", config, "--trust", site.trust, "--now", NOW, text],
                 ["--config", config, "trust", "show"]):
        line = one_line_error(run(*argv), fragment)
        assert f"{config}: " in line


def test_missing_config_file(run: Kiosk, tmp_path: Path) -> None:
    one_line_error(run("--config", tmp_path / "nope.toml", "trust", "show"),
                   f"{tmp_path / 'nope.toml'}: cannot read the config file")


def test_config_trust_dir_not_text(run: Kiosk, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bad.toml", "[trust]\ndir = 5\n")
    one_line_error(run("--config", config, "trust", "show"), "dir")


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(("argv", "fragment"), [
    ([], "kiosk: the following arguments are required: COMMAND"),
    (["frobnicate"], "kiosk: argument COMMAND: invalid choice: 'frobnicate'"),
    (["trust"], "kiosk trust: the following arguments are required: ACTION"),
    (["trust", "bundle"], "kiosk trust bundle: the following arguments are required: --root-key, --seq, --out"),
    (["trust", "status-list", "--key", "k"], "the following arguments are required: --iss, --seq, --out"),
    (["trust", "import"], "kiosk trust import: the following arguments are required: FILE"),
    (["trust", "pin"], "kiosk trust pin: the following arguments are required: FILE"),
    (["trust", "show", "--bogus"], "unrecognized arguments: --bogus"),
    (["keygen"], "kiosk keygen: the following arguments are required: PREFIX"),
    (["keygen", "a", "b"], "unrecognized arguments: b"),
    (["issue", "--iss", ISS], "kiosk issue: the following arguments are required: --key"),
    (["verify", "--now", "yesterday", "PHC1:"], "argument --now: not epoch seconds nor an ISO 8601 time"),
    (["verify", "--max-age", "-1", "PHC1:"], "argument --max-age: seconds must be 0 or more"),
    (["verify", "--skew", "lots", "PHC1:"], "argument --skew: not a number of seconds: 'lots'"),
    (["verify", "--temperature", "warm", "PHC1:"], "argument --temperature: not a temperature in Celsius"),
])
def test_usage_errors_are_one_line(run: Kiosk, argv: list[str], fragment: str) -> None:
    line = one_line_error(run(*argv), fragment)
    assert line.endswith(" (try --help)")


def test_version(run: Kiosk) -> None:
    result = run("--version")
    assert (result.code, result.out, result.err) == (0, f"kiosk {kiosk.__version__}\n", "")


# --------------------------------------------------------------------------- the entry point


def _python_m_kiosk(*argv: object, stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["PYTHONPATH"] = str(Path(kiosk.__file__).resolve().parents[1])
    return subprocess.run([sys.executable, "-m", "kiosk", *map(str, argv)], input=None if stdin is None
                          else stdin.encode("utf-8"), capture_output=True, env=env, timeout=60, check=False)


def test_entry_point_issue_then_verify_from_stdin(site: Site) -> None:
    issued = _python_m_kiosk("issue", "--key", site.keys["issuer"].key, "--iss", ISS, "--iat", NOW,
                             "--name", NAME, "--subject", SUBJECT)
    assert (issued.returncode, issued.stderr) == (0, b"")
    text = issued.stdout.decode("ascii").rstrip("\n")
    assert decode_text(text).code.name == NAME
    checked = _python_m_kiosk("verify", "--trust", site.trust, "--now", NOW + 5, "-", stdin=text + "\n")
    assert (checked.returncode, checked.stderr) == (0, b"")
    verdict = json.loads(checked.stdout.decode("utf-8"))
    assert (verdict["verdict"], verdict["reason"], verdict["name"], verdict["subject"]) == ("pass", "ok", NAME,
                                                                                            SUBJECT)


def test_entry_point_usage_error(tmp_path: Path) -> None:
    result = _python_m_kiosk("trust", "import", "--trust", tmp_path / "nowhere", tmp_path / "nope.cose")
    assert result.returncode == 2
    assert result.stdout == b""
    err = result.stderr.decode("utf-8")
    assert err.count("\n") == 1 and err.startswith("kiosk trust: ")
    assert f"{tmp_path / 'nope.cose'}: cannot read: No such file or directory" in err


# --------------------------------------------------------------------------- keys kept apart


def test_a_private_key_is_never_taken_for_a_public_one(run: Kiosk, site: Site, tmp_path: Path) -> None:
    issuer, root = site.keys["issuer"], site.keys["root"]
    one_line_error(run("trust", "bundle", "--root-key", root.key, "--seq", 5, "--grant",
                       f"{issuer.key},{ISS},{KEY_FROM},{KEY_TO}", "--out", tmp_path / "b.cose"),
                   "this is a private key; give its .pub file")
    one_line_error(run("trust", "bundle", "--root-key", root.pub, "--seq", 5, "--out", tmp_path / "b.cose"),
                   "not a private key made by kiosk keygen")
    one_line_error(run("issue", "--key", issuer.pub, "--iss", ISS), "not a private key made by kiosk keygen")
    assert not (tmp_path / "b.cose").exists()


def test_a_grant_whose_validity_ends_before_it_starts_is_refused(run: Kiosk, site: Site, tmp_path: Path) -> None:
    one_line_error(run("trust", "bundle", "--root-key", site.keys["root"].key, "--seq", 5, "--grant",
                       grant(site.keys["issuer"], ISS, "2027-01-01", "2026-01-01"), "--out", tmp_path / "b.cose"),
                   "NBF 2027-01-01 is after EXP 2026-01-01")


def test_a_bundle_from_an_unpinned_root_says_so(run: Kiosk, site: Site, keys: dict[str, KeyPair],
                                                tmp_path: Path) -> None:
    other, by_issuer = tmp_path / "other.cose", tmp_path / "by-issuer.cose"
    other.write_bytes(sign_bundle(SigningKey.generate(), seq=9, iat=NOW, keys=[]))
    by_issuer.write_bytes(sign_bundle(read_signing_key(keys["issuer"].key), seq=9, iat=NOW, keys=[]))
    assert run("trust", "import", "--trust", site.trust, site.bundle).code == 0
    one_line_error(run("trust", "import", "--trust", site.trust, other), "neither a pinned root nor a key of the")
    one_line_error(run("trust", "import", "--trust", site.trust, by_issuer), "not signed by a pinned root")
