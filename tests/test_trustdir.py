"""The trust directory on disk (kiosk.trustdir, spec section 4), through real files in tmp_path.

Every key is derived from a name, so a failure reproduces run after run. The
default bundle lists three issuer keys: `issuer` (CN-120000), `beijing`
(CN-110000) and `old` (CN-120000, revoked).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import cbor2
import pytest
from nacl.signing import SigningKey

from kiosk import cose
from kiosk.errors import ImportRefused, TrustFileError
from kiosk.issuer import KeyGrant, issue_code, sign_bundle, sign_status_list
from kiosk.policy import Policy
from kiosk.trustdir import Installed, import_file, load_trust_dir, pin_root
from kiosk.verdict import decide

NOW = 1_780_000_000  # 2026-05-28
YEAR = 365 * 86400
ISS = "CN-120000"
OTHER_ISS = "CN-110000"
SUBJECT = bytes.fromhex("00112233445566778899aabbccddeeff")
CODE_IAT = NOW - 200  # a dynamic code 200 s old: fresh under the default max_age of 300 s
RED_SINCE = NOW - 100  # the status list turns SUBJECT red after the code was issued
ISSUERS = {"issuer": ISS, "beijing": OTHER_ISS, "old": ISS, "stranger": ISS}


def signing_key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(f"kiosk test_trustdir {name}".encode()).digest())


def pub(name: str) -> bytes:
    return bytes(signing_key(name).verify_key)


def kid(name: str) -> bytes:
    return cose.kid_of(pub(name))


def bundle(seq: int = 1, *, root: str = "root", issuers: tuple[str, ...] = ("issuer", "beijing", "old"),
           revoked: tuple[str, ...] = ("old",), iat: int = NOW - 86400) -> bytes:
    grants = [KeyGrant(pub(n), ISSUERS[n], NOW - YEAR, NOW + YEAR) for n in issuers]
    return sign_bundle(signing_key(root), seq=seq, iat=iat, keys=grants, revoked=[kid(n) for n in revoked])


def status(seq: int = 1, *, signer: str = "issuer", iss: str = ISS, iat: int = NOW - 3600,
           entries: tuple[tuple[bytes, int, int], ...] = ((SUBJECT, 2, RED_SINCE),)) -> bytes:
    return sign_status_list(signing_key(signer), seq=seq, iat=iat, iss=iss, entries=entries)


def wrong_kid_bundle(seq: int = 5) -> bytes:
    """A root-signed bundle whose only key entry carries the kid of another key."""
    entry = {"kid": kid("beijing"), "pub": pub("issuer"), "iss": ISS, "nbf": NOW - YEAR, "exp": NOW + YEAR}
    payload = {"type": "trust", "seq": seq, "iat": NOW, "keys": [entry], "revoked": []}
    return cose.sign(cbor2.dumps(payload), signing_key("root"))


def flip(data: bytes, position: int, mask: int = 0xFF) -> bytes:
    changed = bytearray(data)
    changed[position] ^= mask
    return bytes(changed)


def tampered(data: bytes) -> bytes:
    """One byte flipped in the middle of the payload: the envelope still decodes, the signature fails."""
    payload = cose.decode_sign1(data).payload
    return flip(data, data.index(payload) + len(payload) // 2)


def code(signer: str = "issuer", *, iss: str = ISS, status_: int = 0) -> str:
    text, _ = issue_code(signing_key(signer), iss=iss, status=status_, iat=CODE_IAT, exp=NOW + 86400,
                         subject=SUBJECT, cti=b"\x07" * 12)
    return text


def reason(store: object, text: str) -> str:
    return decide(text, store, Policy(), None, NOW).reason  # type: ignore[arg-type]


def make_dir(path: Path, *, roots: tuple[str, ...] = ("root",), trust: bytes | None = None,
             status_list: bytes | None = None) -> Path:
    (path / "roots").mkdir(parents=True)
    for name in roots:
        (path / "roots" / f"{name}.pub").write_text(pub(name).hex() + "\n", encoding="ascii")
    if trust is not None:
        (path / "trust.cose").write_bytes(trust)
    if status_list is not None:
        (path / "status.cose").write_bytes(status_list)
    return path


def installed(directory: Path) -> dict[str, bytes]:
    """Every file of the directory (roots/ aside) by name: to compare before and after an import."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def temp_files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                  if p.name.startswith(".") or p.name.endswith(".tmp"))


def source(tmp_path: Path, data: bytes, name: str = "incoming.cose") -> Path:
    path = tmp_path / "incoming" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def trust_dir(tmp_path: Path) -> Path:
    """Pinned root, bundle seq 1, no status list."""
    return make_dir(tmp_path / "trust", trust=bundle(1))


@pytest.fixture
def full_dir(tmp_path: Path) -> Path:
    """Pinned root, bundle seq 2 and status list seq 2 installed."""
    return make_dir(tmp_path / "trust", trust=bundle(2), status_list=status(2))


# --------------------------------------------------------------------------- loading


def test_load_happy_path(trust_dir: Path) -> None:
    store = load_trust_dir(trust_dir)
    assert store.bundle.seq == 1
    assert store.bundle.iat == NOW - 86400
    assert store.bundle.signer == kid("root")
    assert set(store.bundle.keys) == {kid("issuer"), kid("beijing"), kid("old")}
    key = store.bundle.keys[kid("beijing")]
    assert (key.pub, key.iss, key.nbf, key.exp) == (pub("beijing"), OTHER_ISS, NOW - YEAR, NOW + YEAR)
    assert store.bundle.revoked == frozenset({kid("old")})
    assert store.status is None
    assert store.warnings == ()
    assert reason(store, code()) == "ok"
    assert reason(store, code("old")) == "key_revoked"
    assert reason(store, code("stranger")) == "unknown_key"


def test_load_accepts_a_str_path(trust_dir: Path) -> None:
    assert load_trust_dir(str(trust_dir)).bundle.seq == 1  # type: ignore[arg-type]


def test_load_with_status_list(full_dir: Path) -> None:
    store = load_trust_dir(full_dir)
    assert store.warnings == ()
    assert store.status is not None
    assert (store.status.seq, store.status.iat, store.status.iss, len(store.status)) == (2, NOW - 3600, ISS, 1)
    assert store.status.lookup(SUBJECT) == (2, RED_SINCE)
    assert reason(store, code()) == "status_red"  # the entry is newer than the code's iat


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(TrustFileError) as caught:
        load_trust_dir(missing)
    assert str(caught.value) == f"{missing}: no such trust directory"


def test_a_file_instead_of_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "trust"
    path.write_bytes(bundle(1))
    with pytest.raises(TrustFileError, match="no such trust directory"):
        load_trust_dir(path)


@pytest.mark.parametrize("layout", ["no roots folder", "empty roots folder", "only a corrupt root",
                                    "a key file without .pub"])
def test_no_usable_root(tmp_path: Path, layout: str) -> None:
    directory = tmp_path / "trust"
    directory.mkdir()
    (directory / "trust.cose").write_bytes(bundle(1))
    roots = directory / "roots"
    if layout != "no roots folder":
        roots.mkdir()
    if layout == "only a corrupt root":
        (roots / "root.pub").write_text("not hex at all\n")
    if layout == "a key file without .pub":
        (roots / "root.txt").write_text(pub("root").hex() + "\n")
    with pytest.raises(TrustFileError) as caught:
        load_trust_dir(directory)
    assert caught.value.path == str(directory)
    assert caught.value.problem == "no usable pinned root key in roots/*.pub"


@pytest.mark.parametrize(("content", "problem"), [
    (b"zz" * 32 + b"\n", "found other characters"),
    (b"abcd\n", "found 4 characters"),
    (b"", "found 0 characters"),
    (b"\xff" * 64, "found other characters"),
    (b"00" * 33 + b"\n", "found 66 characters"),
])
def test_corrupt_root_among_good_ones_is_a_warning(trust_dir: Path, content: bytes, problem: str) -> None:
    bad = trust_dir / "roots" / "aaa-broken.pub"  # sorts before the good root
    bad.write_bytes(content)
    store = load_trust_dir(trust_dir)
    assert store.bundle.seq == 1
    assert store.bundle.signer == kid("root")
    assert len(store.warnings) == 1
    warning = store.warnings[0]
    assert warning.startswith(f"{bad}: expected one line of 64 hex digits")
    assert problem in warning
    assert warning.endswith("; root ignored")


def test_unreadable_root_entry_is_a_warning(trust_dir: Path) -> None:
    folder = trust_dir / "roots" / "folder.pub"
    folder.mkdir()
    store = load_trust_dir(trust_dir)
    assert store.bundle.seq == 1
    assert store.warnings == (f"{folder}: not a regular file (a directory); root ignored",)


def test_root_file_with_inner_spaces_is_a_warning(trust_dir: Path) -> None:
    # bytes.fromhex alone skips inner spaces and would make a 30-byte "key" (fixed in db44db2)
    digits = pub("stranger").hex()[:60]
    text = " ".join(digits[i:i + 12] for i in range(0, 60, 12))  # 60 digits + 4 spaces = 64 characters
    assert len(text) == 64
    bad = trust_dir / "roots" / "spaced.pub"
    bad.write_text(text + "\n")
    store = load_trust_dir(trust_dir)
    assert store.bundle.seq == 1
    assert len(store.warnings) == 1
    assert store.warnings[0].startswith(f"{bad}: expected one line of 64 hex digits")


def _two_roots_one_foreign(directory: Path) -> None:
    (directory / "roots" / "other.pub").write_text(pub("other-root").hex().upper() + "\n")


def test_bundle_signed_by_any_pinned_root(trust_dir: Path) -> None:
    _two_roots_one_foreign(trust_dir)
    (trust_dir / "trust.cose").write_bytes(bundle(4, root="other-root"))
    store = load_trust_dir(trust_dir)
    assert (store.bundle.seq, store.bundle.signer) == (4, kid("other-root"))


BAD_BUNDLES: dict[str, tuple[Callable[[], bytes | None], str]] = {
    "missing": (lambda: None, "missing"),
    "empty": (lambda: b"", "not a valid COSE_Sign1 file"),
    "garbage": (lambda: b"this is not CBOR \x00\xff\x13", "not a valid COSE_Sign1 file"),
    "truncated": (lambda: bundle(1)[:-7], "not a valid COSE_Sign1 file"),
    "trailing byte": (lambda: bundle(1) + b"\x00", "not a valid COSE_Sign1 file"),
    "tampered": (lambda: tampered(bundle(1)), "the signature does not verify"),
    "signature of another root": (lambda: bundle(1)[:-64] + bundle(1, root="stranger")[-64:],
                                  "the signature does not verify"),
    "unpinned root": (lambda: bundle(1, root="stranger"),
                      f"signed by kid {kid('stranger').hex()}, which is not a pinned root"),
    "a status list": (lambda: sign_status_list(signing_key("root"), seq=1, iat=NOW, iss=ISS, entries=[]),
                      'payload is not a map of "type": "trust"'),
    "kid does not match pub": (wrong_kid_bundle,
                               f"keys[0].kid {kid('beijing').hex()} does not match its public key"),
}


@pytest.mark.parametrize("case", list(BAD_BUNDLES))
def test_bad_trust_bundle_is_an_error_naming_the_file(trust_dir: Path, case: str) -> None:
    make, problem = BAD_BUNDLES[case]
    path = trust_dir / "trust.cose"
    data = make()
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)
    with pytest.raises(TrustFileError) as caught:
        load_trust_dir(trust_dir)
    assert caught.value.path == str(path)
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}: ")


def test_trust_bundle_that_is_a_directory(trust_dir: Path) -> None:
    path = trust_dir / "trust.cose"
    path.unlink()
    path.mkdir()
    with pytest.raises(TrustFileError) as caught:
        load_trust_dir(trust_dir)
    assert str(caught.value) == f"{path}: not a regular file (a directory)"


BAD_STATUS: dict[str, tuple[Callable[[], bytes], str]] = {
    "garbage": (lambda: b"\x00\x01garbage", "not a valid COSE_Sign1 file"),
    "truncated": (lambda: status(1)[:-3], "not a valid COSE_Sign1 file"),
    "tampered": (lambda: tampered(status(1)), "the signature does not verify"),
    "key of another iss": (lambda: status(1, signer="beijing", iss=ISS),
                           "list of issuer 'CN-120000' signed by a key of issuer 'CN-110000'"),
    "revoked key": (lambda: status(1, signer="old"),
                    f"signed by kid {kid('old').hex()}, which is not an unrevoked key of the trust bundle"),
    "key not in the bundle": (lambda: status(1, signer="stranger"),
                              f"signed by kid {kid('stranger').hex()}, which is not an unrevoked key"),
    "a bundle signed by an issuer": (lambda: bundle(1, root="issuer"), 'not signed by a pinned root'),
}


@pytest.mark.parametrize("case", list(BAD_STATUS))
def test_bad_status_list_is_a_warning_and_the_bundle_alone_verifies(trust_dir: Path, case: str) -> None:
    make, problem = BAD_STATUS[case]
    path = trust_dir / "status.cose"
    path.write_bytes(make())
    store = load_trust_dir(trust_dir)
    assert store.status is None
    assert store.bundle.seq == 1
    assert len(store.warnings) == 1
    warning = store.warnings[0]
    assert warning.startswith(f"{path}: ")
    assert problem in warning
    assert warning.endswith("; status list ignored, verifying with the trust bundle alone")
    # With the list ignored the code's own status stands: green passes, red is still red.
    assert reason(store, code()) == "ok"
    assert reason(store, code(status_=2)) == "status_red"
    assert reason(store, code("beijing", iss=OTHER_ISS)) == "ok"


def test_status_list_of_one_issuer_leaves_others_alone(tmp_path: Path) -> None:
    directory = make_dir(tmp_path / "trust", trust=bundle(1), status_list=status(1))
    store = load_trust_dir(directory)
    assert reason(store, code()) == "status_red"
    assert reason(store, code("beijing", iss=OTHER_ISS)) == "ok"  # same subject, other issuer


# --------------------------------------------------------------------------- import: success


def test_import_installs_a_bundle_into_a_directory_with_roots_only(tmp_path: Path) -> None:
    directory = make_dir(tmp_path / "trust")
    src = source(tmp_path, bundle(1))
    done = import_file(src, directory)
    assert done == Installed("trust bundle", 1, directory / "trust.cose", False, ())
    assert (directory / "trust.cose").read_bytes() == bundle(1)
    assert stat.S_IMODE((directory / "trust.cose").stat().st_mode) == 0o644
    assert load_trust_dir(directory).bundle.seq == 1
    assert temp_files(directory) == []


def test_import_newer_bundle_replaces_the_installed_one(trust_dir: Path, tmp_path: Path) -> None:
    new = bundle(7, issuers=("beijing",), revoked=())
    done = import_file(source(tmp_path, new), trust_dir)
    assert (done.kind, done.seq, done.unchanged, done.warnings) == ("trust bundle", 7, False, ())
    assert (trust_dir / "trust.cose").read_bytes() == new
    store = load_trust_dir(trust_dir)
    assert set(store.bundle.keys) == {kid("beijing")}
    assert reason(store, code()) == "unknown_key"
    assert temp_files(trust_dir) == []


def test_import_status_list(trust_dir: Path, tmp_path: Path) -> None:
    done = import_file(source(tmp_path, status(3)), trust_dir)
    assert done == Installed("status list", 3, trust_dir / "status.cose", False, ())
    assert (trust_dir / "status.cose").read_bytes() == status(3)
    store = load_trust_dir(trust_dir)
    assert store.status is not None and store.status.seq == 3
    assert reason(store, code()) == "status_red"
    # and a newer one replaces it
    cleared = status(4, entries=((SUBJECT, 0, RED_SINCE + 50),))
    assert import_file(source(tmp_path, cleared), trust_dir).seq == 4
    assert reason(load_trust_dir(trust_dir), code(status_=2)) == "ok"  # green since after the red code
    assert temp_files(trust_dir) == []


def test_status_list_signed_by_the_other_issuer_for_itself(trust_dir: Path, tmp_path: Path) -> None:
    done = import_file(source(tmp_path, status(1, signer="beijing", iss=OTHER_ISS)), trust_dir)
    assert (done.kind, done.seq) == ("status list", 1)
    store = load_trust_dir(trust_dir)
    assert reason(store, code("beijing", iss=OTHER_ISS)) == "status_red"
    assert reason(store, code()) == "ok"


@pytest.mark.parametrize("kind", ["bundle", "status"])
def test_reimporting_the_same_file_is_unchanged(full_dir: Path, tmp_path: Path, kind: str) -> None:
    name = "trust.cose" if kind == "bundle" else "status.cose"
    data = bundle(2) if kind == "bundle" else status(2)
    inode = (full_dir / name).stat().st_ino
    before = installed(full_dir)
    done = import_file(source(tmp_path, data), full_dir)
    assert done.unchanged is True
    assert done.seq == 2
    assert done.path == full_dir / name
    assert done.warnings == ()
    assert installed(full_dir) == before
    assert (full_dir / name).stat().st_ino == inode  # not even rewritten
    assert temp_files(full_dir) == []


def test_importing_the_installed_file_itself_is_unchanged(full_dir: Path) -> None:
    assert import_file(full_dir / "trust.cose", full_dir).unchanged is True


def test_import_reports_root_warnings(trust_dir: Path, tmp_path: Path) -> None:
    bad = trust_dir / "roots" / "broken.pub"
    bad.write_text("nope\n")
    done = import_file(source(tmp_path, bundle(2)), trust_dir)
    assert done.seq == 2
    assert len(done.warnings) == 1
    assert done.warnings[0].startswith(f"{bad}: ")


def test_import_replaces_a_corrupt_installed_bundle_with_a_warning(trust_dir: Path, tmp_path: Path) -> None:
    path = trust_dir / "trust.cose"
    path.write_bytes(b"\x00corrupt")
    done = import_file(source(tmp_path, bundle(1)), trust_dir)
    assert (done.seq, done.unchanged) == (1, False)
    assert len(done.warnings) == 1
    assert done.warnings[0].startswith(f"{path}: the installed file was unusable (not a valid COSE_Sign1 file")
    assert done.warnings[0].endswith("; replaced")
    assert path.read_bytes() == bundle(1)


# --------------------------------------------------------------------------- import: refusals


REFUSALS: dict[str, tuple[Callable[[], bytes], str]] = {
    "bundle rollback": (lambda: bundle(1), "trust bundle seq 1 is older than the installed seq 2 (rollback)"),
    "bundle equal seq, other bytes": (lambda: bundle(2, iat=NOW),
                                      "trust bundle seq 2 is installed already with different contents"),
    "bundle of a non-pinned root": (lambda: bundle(3, root="stranger"), f"signed by kid {kid('stranger').hex()}"),
    "bundle with a kid not matching its pub": (wrong_kid_bundle, "keys[0].kid"),
    "bundle tampered": (lambda: tampered(bundle(3)), "the signature does not verify"),
    "bundle with another root's signature": (lambda: bundle(3)[:-64] + bundle(3, root="stranger")[-64:],
                                             "the signature does not verify"),
    "bundle truncated": (lambda: bundle(3)[:-5], "not a signed trust file"),
    "garbage": (lambda: b"PK\x03\x04 definitely not a trust file", "not a signed trust file"),
    "empty file": (lambda: b"", "not a signed trust file"),
    "status rollback": (lambda: status(1), "status list seq 1 is older than the installed seq 2 (rollback)"),
    "status equal seq, other bytes": (lambda: status(2, iat=NOW),
                                      "status list seq 2 is installed already with different contents"),
    "status of another iss": (lambda: status(3, signer="beijing", iss=ISS),
                              "list of issuer 'CN-120000' signed by a key of issuer 'CN-110000'"),
    "status by a revoked key": (lambda: status(3, signer="old"),
                                f"signed by kid {kid('old').hex()}, which is not an unrevoked key"),
    "status by an unknown key": (lambda: status(3, signer="stranger"), f"signed by kid {kid('stranger').hex()}"),
    "status tampered": (lambda: tampered(status(3)), "the signature does not verify"),
    "bundle payload signed by an issuer": (lambda: bundle(3, root="issuer"), 'not signed by a pinned root'),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_import_refusal_leaves_installed_files_unchanged(full_dir: Path, tmp_path: Path, case: str) -> None:
    make, problem = REFUSALS[case]
    before = installed(full_dir)
    assert set(before) == {"trust.cose", "status.cose"}
    src = source(tmp_path, make())
    with pytest.raises(ImportRefused) as caught:
        import_file(src, full_dir)
    assert caught.value.path == str(src)
    assert problem in caught.value.problem
    assert str(caught.value) == f"{src}: {caught.value.problem}"
    assert installed(full_dir) == before
    assert temp_files(full_dir) == []
    assert load_trust_dir(full_dir).warnings == ()


@pytest.mark.parametrize("kind", ["bundle", "status"])
def test_every_single_byte_flip_is_refused(full_dir: Path, tmp_path: Path, kind: str) -> None:
    good = bundle(3) if kind == "bundle" else status(3)
    before = installed(full_dir)
    src = tmp_path / "flipped.cose"
    accepted = []
    for position in range(len(good)):
        for mask in (0x01, 0xFF):
            src.write_bytes(flip(good, position, mask))
            try:
                import_file(src, full_dir)
            except ImportRefused:
                continue
            accepted.append((position, mask))
    assert accepted == []
    assert installed(full_dir) == before
    assert temp_files(full_dir) == []
    src.write_bytes(good)  # the unflipped file does go in: the refusals were about the flips
    assert import_file(src, full_dir).seq == 3


def test_import_of_a_missing_file(full_dir: Path, tmp_path: Path) -> None:
    before = installed(full_dir)
    missing = tmp_path / "nope.cose"
    with pytest.raises(ImportRefused) as caught:
        import_file(missing, full_dir)
    assert str(caught.value) == f"{missing}: cannot read: No such file or directory"
    assert installed(full_dir) == before


def test_import_of_a_directory(full_dir: Path, tmp_path: Path) -> None:
    before = installed(full_dir)
    folder = tmp_path / "a-folder.cose"
    folder.mkdir()
    with pytest.raises(ImportRefused) as caught:
        import_file(folder, full_dir)
    assert str(caught.value) == f"{folder}: not a regular file (a directory)"
    assert installed(full_dir) == before


def test_import_into_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no-trust-here"
    src = source(tmp_path, bundle(1))
    with pytest.raises(ImportRefused) as caught:
        import_file(src, missing)
    assert caught.value.path == str(src)
    assert f"{missing}: no such trust directory" in caught.value.problem
    assert not missing.exists()


def test_status_list_needs_a_bundle_first(tmp_path: Path) -> None:
    directory = make_dir(tmp_path / "trust")
    src = source(tmp_path, status(1))
    with pytest.raises(ImportRefused) as caught:
        import_file(src, directory)
    assert caught.value.problem == (f"signed by kid {kid('issuer').hex()}, not a pinned root; "
                                    "a status list needs a trust bundle installed first")
    assert sorted(p.name for p in directory.iterdir()) == ["roots"]


def test_bundle_of_a_non_pinned_root_into_an_empty_directory(tmp_path: Path) -> None:
    directory = make_dir(tmp_path / "trust")
    with pytest.raises(ImportRefused, match=f"signed by kid {kid('stranger').hex()}, not a pinned root"):
        import_file(source(tmp_path, bundle(1, root="stranger")), directory)
    assert sorted(p.name for p in directory.iterdir()) == ["roots"]


def test_status_import_with_a_corrupt_installed_bundle_is_refused(full_dir: Path, tmp_path: Path) -> None:
    (full_dir / "trust.cose").write_bytes(b"\x00broken")
    before = installed(full_dir)
    with pytest.raises(ImportRefused) as caught:
        import_file(source(tmp_path, status(3)), full_dir)
    assert f"{full_dir / 'trust.cose'}: not a valid COSE_Sign1 file" in caught.value.problem
    assert installed(full_dir) == before


@pytest.mark.parametrize("change", ["drops the key", "revokes the key"])
def test_new_bundle_without_the_status_lists_key_warns(full_dir: Path, tmp_path: Path, change: str) -> None:
    status_path = full_dir / "status.cose"
    old_status = status_path.read_bytes()
    new = (bundle(3, issuers=("beijing", "old")) if change == "drops the key"
           else bundle(3, revoked=("old", "issuer")))
    done = import_file(source(tmp_path, new), full_dir)
    assert (done.kind, done.seq, done.unchanged) == ("trust bundle", 3, False)
    assert (full_dir / "trust.cose").read_bytes() == new
    assert status_path.read_bytes() == old_status  # left for the operator to replace
    assert len(done.warnings) == 1
    warning = done.warnings[0]
    assert warning.startswith(f"{status_path}: signed by kid {kid('issuer').hex()}")
    assert warning.endswith("under the new bundle; import a newer status list")
    store = load_trust_dir(full_dir)
    assert store.status is None
    assert len(store.warnings) == 1 and store.warnings[0].startswith(f"{status_path}: ")
    assert temp_files(full_dir) == []


def test_status_list_replaces_one_the_new_bundle_made_unusable(full_dir: Path, tmp_path: Path) -> None:
    import_file(source(tmp_path, bundle(3, issuers=("beijing",), revoked=())), full_dir)
    replacement = status(1, signer="beijing", iss=OTHER_ISS)  # seq 1 < installed 2, but the old one is unusable
    done = import_file(source(tmp_path, replacement), full_dir)
    assert (done.kind, done.seq, done.unchanged) == ("status list", 1, False)
    assert len(done.warnings) == 1
    assert done.warnings[0].startswith(f"{full_dir / 'status.cose'}: the installed file was unusable (")
    assert (full_dir / "status.cose").read_bytes() == replacement
    assert load_trust_dir(full_dir).warnings == ()


# --------------------------------------------------------------------------- pin_root


def test_pin_root_copies_and_names_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "fresh-trust"
    public_file = tmp_path / "ROOT.PUB"
    public_file.write_text("  " + pub("root").hex().upper() + "\r\n", encoding="ascii")
    target = pin_root(public_file, directory)
    assert target == directory / "roots" / f"root-{kid('root').hex()}.pub"
    assert target.read_bytes() == pub("root").hex().encode("ascii") + b"\n"
    assert temp_files(directory) == []
    # the pinned root is what an import then checks against
    done = import_file(source(tmp_path, bundle(1)), directory)
    assert done.seq == 1
    assert load_trust_dir(directory).bundle.signer == kid("root")


def test_pin_root_twice_is_one_file(trust_dir: Path, tmp_path: Path) -> None:
    public_file = tmp_path / "other.pub"
    public_file.write_text(pub("other-root").hex() + "\n")
    assert pin_root(public_file, trust_dir) == pin_root(public_file, trust_dir)
    assert sorted(p.name for p in (trust_dir / "roots").iterdir()) == [
        f"root-{kid('other-root').hex()}.pub", "root.pub"]


@pytest.mark.parametrize("content", [b"hello\n", b"ab" * 31 + b"\n", b"ab" * 33, b"\xe5\xbc\xa0" * 22,
                                     b"\x00" * 64, b""])
def test_pin_root_refuses_a_non_key_file(trust_dir: Path, tmp_path: Path, content: bytes) -> None:
    bogus = tmp_path / "bogus.pub"
    bogus.write_bytes(content)
    before = sorted(p.name for p in (trust_dir / "roots").iterdir())
    with pytest.raises(TrustFileError) as caught:
        pin_root(bogus, trust_dir)
    assert caught.value.path == str(bogus)
    assert caught.value.problem.startswith("not a root public key: ")
    assert sorted(p.name for p in (trust_dir / "roots").iterdir()) == before


def test_pin_root_of_a_missing_file(tmp_path: Path) -> None:
    directory = tmp_path / "trust"
    with pytest.raises(TrustFileError, match="not a root public key"):
        pin_root(tmp_path / "missing.pub", directory)
    assert not directory.exists()


def test_pin_root_refuses_spaced_hex(trust_dir: Path, tmp_path: Path) -> None:
    digits = pub("other-root").hex()[:60]
    spaced = tmp_path / "spaced.pub"
    spaced.write_text(" ".join(digits[i:i + 12] for i in range(0, 60, 12)) + "\n")
    with pytest.raises(TrustFileError, match="not a root public key"):
        pin_root(spaced, trust_dir)


# --------------------------------------------------------------------------- atomicity


def test_no_temp_files_after_a_series_of_imports(tmp_path: Path) -> None:
    directory = make_dir(tmp_path / "trust")
    for data in (bundle(1), status(1), bundle(2), status(2), bundle(2), status(5)):
        import_file(source(tmp_path, data), directory)
        assert temp_files(directory) == []
    assert sorted(p.name for p in directory.iterdir()) == ["roots", "status.cose", "trust.cose"]


def test_a_failed_rename_leaves_the_old_file_and_no_temp(full_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = installed(full_dir)
    src = source(tmp_path, bundle(3))

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        import_file(src, full_dir)
    monkeypatch.undo()
    assert installed(full_dir) == before
    assert temp_files(full_dir) == []
