"""The trust directory on disk: load it, import new files into it, pin roots.

Layout (spec section 4): roots/*.pub, trust.cose, optional status.cose.
Every install is atomic and happens only after the new file verifies, so a
refused or interrupted import leaves the installed files as they were.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk import cose
from kiosk.errors import ImportRefused, MalformedCode, TrustFileError
from kiosk.fileio import check_size, data_path, read_untrusted, write_atomically
from kiosk.trust import (
    TrustBundle,
    TrustStore,
    open_status,
    parse_bundle,
    parse_root,
    parse_status,
    read_status,
)

ROOTS = "roots"
BUNDLE = "trust.cose"
STATUS = "status.cose"


def load_roots(directory: Path) -> tuple[dict[bytes, bytes], list[str]]:
    """Pinned roots as kid -> public key, and a warning for each root file that is unusable."""
    if not directory.is_dir():
        raise TrustFileError("no such trust directory", str(directory))
    roots: dict[bytes, bytes] = {}
    warnings = []
    for path in sorted((directory / ROOTS).glob("*.pub")):
        try:
            public = parse_root(read_untrusted(path, "root key").decode("ascii", errors="replace"))
        except TrustFileError as err:
            warnings.append(f"{path}: {err.problem}; root ignored")
            continue
        except ValueError as err:
            warnings.append(f"{path}: {err}; root ignored")
            continue
        roots[cose.kid_of(public)] = public
    if not roots:
        raise TrustFileError(f"no usable pinned root key in {ROOTS}/*.pub", str(directory))
    return roots, warnings


def _load_bundle(directory: Path, roots: dict[bytes, bytes]) -> TrustBundle:
    path = directory / BUNDLE
    if not path.exists():
        raise TrustFileError("missing", str(path))
    try:
        # Its import read every DSC; here each is read when a code first names it (thousands load in ms).
        return parse_bundle(read_untrusted(path, "trust bundle"), roots, check_dscs=False)
    except TrustFileError as err:
        raise TrustFileError(err.problem, str(path)) from None


def load_trust_dir(directory: Path) -> TrustStore:
    """The trust store of a directory. A bad root or status list is a warning; a bad bundle an error."""
    directory = Path(directory)
    roots, warnings = load_roots(directory)
    bundle = _load_bundle(directory, roots)
    status = None
    status_path = directory / STATUS
    if status_path.exists():
        try:
            # Two steps, so the file's bytes are freed before a big list is indexed.
            envelope = open_status(read_untrusted(status_path, "status list"), bundle)
            status = read_status(envelope, bundle)
        except TrustFileError as err:
            warnings.append(f"{status_path}: {err.problem}; status list ignored, verifying with the trust bundle alone")
    return TrustStore(bundle, status, tuple(warnings))


@dataclass(frozen=True)
class Installed:
    """What `import_file` did, for the message to the operator."""

    kind: str  # "trust bundle" or "status list"
    seq: int
    path: Path
    unchanged: bool  # the very same file was installed already
    warnings: tuple[str, ...] = ()


def _check_sequence(kind: str, new_seq: int, new_data: bytes, old_seq: int | None, old_data: bytes | None) -> bool:
    """True when the same file is installed already; refuse a rollback or a rewritten seq."""
    if old_seq is None or old_data is None:
        return False
    if new_seq < old_seq:
        raise ImportRefused(f"{kind} seq {new_seq} is older than the installed seq {old_seq} (rollback)")
    if new_seq == old_seq:
        if new_data == old_data:
            return True
        raise ImportRefused(f"{kind} seq {new_seq} is installed already with different contents")
    return False


def import_file(source: Path, directory: Path) -> Installed:
    """Verify `source` (a trust bundle or a status list) and install it atomically."""
    try:
        data = read_untrusted(Path(source), "trust file")  # only a regular file, and no larger than a status list
    except TrustFileError as err:
        raise ImportRefused(err.problem, str(source)) from None
    return import_data(data, directory, str(source))


def import_data(data: bytes, directory: Path, source: str) -> Installed:
    """Verify `data` (a trust bundle or a status list, read bounded) and install it; refusals name `source`."""
    try:
        return _import(data, Path(directory))
    except ImportRefused as err:
        raise ImportRefused(err.problem, source) from None
    except TrustFileError as err:
        raise ImportRefused(str(err), source) from None


def _import(data: bytes, directory: Path) -> Installed:
    roots, warnings = load_roots(directory)
    try:
        sign1 = cose.decode_sign1(data)
    except MalformedCode as err:
        raise ImportRefused(f"not a signed trust file ({err})") from None
    bundle_path, status_path = directory / BUNDLE, directory / STATUS
    if sign1.kid in roots:
        seq, same = _install("trust bundle", bundle_path, data, lambda raw: parse_bundle(raw, roots).seq, warnings)
        if status_path.exists():
            try:
                parse_status(read_untrusted(status_path, "status list"), parse_bundle(data, roots))
            except TrustFileError as err:
                warnings.append(f"{status_path}: {err.problem} under the new bundle; import a newer status list")
        return Installed("trust bundle", seq, bundle_path, same, tuple(warnings))
    if not bundle_path.exists():
        raise ImportRefused(f"signed by kid {sign1.kid.hex()}, not a pinned root; "
                            "a status list needs a trust bundle installed first")
    bundle = _load_bundle(directory, roots)
    if sign1.kid not in bundle.keys:
        raise ImportRefused(f"signed by kid {sign1.kid.hex()}, which is neither a pinned root "
                            "nor a key of the installed trust bundle")
    seq, same = _install("status list", status_path, data, lambda raw: parse_status(raw, bundle).seq, warnings)
    return Installed("status list", seq, status_path, same, tuple(warnings))


def _install(kind: str, path: Path, data: bytes, seq_of: Callable[[bytes], int],
             warnings: list[str]) -> tuple[int, bool]:
    """Verify `data`, check its seq against the installed file, write it; (seq, already there)."""
    try:
        check_size(len(data), kind)  # what loading will accept: a file installed here must load
        seq = seq_of(data)
    except TrustFileError as err:
        raise ImportRefused(err.problem) from None
    old_seq, old_data = _installed(kind, path, seq_of, warnings)
    same = _check_sequence(kind, seq, data, old_seq, old_data)
    if not same:
        write_atomically(path, data)
    return seq, same


def _installed(
    kind: str, path: Path, seq_of: Callable[[bytes], int], warnings: list[str]
) -> tuple[int | None, bytes | None]:
    """(seq, bytes) of the installed file; a corrupt or unreadable one may be replaced, with a warning."""
    if not path.exists():
        return None, None
    try:
        raw = read_untrusted(path, kind)
        return seq_of(raw), raw
    except TrustFileError as err:
        warnings.append(f"{path}: the installed file was unusable ({err.problem}); replaced")
        return None, None


def pin_root(public_file: Path, directory: Path) -> Path:
    """Copy a root public key into roots/ as root-<kid>.pub, after checking it."""
    try:
        public = parse_root(read_untrusted(Path(public_file), "root key").decode("ascii"))
    except TrustFileError as err:
        raise TrustFileError(f"not a root public key: {err.problem}", str(public_file)) from None
    except (UnicodeDecodeError, ValueError) as err:
        raise TrustFileError(f"not a root public key: {err}", str(public_file)) from None
    target = Path(directory) / ROOTS / f"root-{cose.kid_of(public).hex()}.pub"
    write_atomically(target, public.hex().encode("ascii") + b"\n")
    return target


REFRESHED = "refreshed.json"  # where older versions kept the record, in the trust directory: still read
STATE_VARIABLE = "KIOSK_STATE_DIR"  # what a running kiosk learns and keeps; default ~/.local/share/kiosk/state


def refresh_record(directory: Path) -> Path:
    """Where the refresh time of the trust directory `directory` is kept: in the data folder, one file per
    trust directory, never beside the trust files (they may be shipped, read-only, or in a checkout)."""
    digest = hashlib.sha256(str(Path(directory).resolve()).encode()).hexdigest()
    return data_path(STATE_VARIABLE, "state") / f"trust-refreshed-{digest[:16]}.json"


def mark_refreshed(directory: Path, at: float, how: str) -> None:
    """Record that the installed trust files were confirmed current at `at` ("sync" or "import")."""
    record = {"trust_dir": str(Path(directory).resolve()), "at": at, "how": how}
    write_atomically(refresh_record(directory), json.dumps(record).encode() + b"\n")


def _recorded(path: Path) -> float | None:
    try:
        data = json.loads(read_untrusted(path, "refresh record"))
    except (TrustFileError, ValueError, RecursionError):  # 4 KiB of "[" nests deeper than json can go
        return None  # no record, or a damaged one
    at = data.get("at") if isinstance(data, dict) else None
    if isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at):
        return float(at)
    return None


def refreshed_at(directory: Path) -> float | None:
    """When the trust data was last refreshed; without a record, when the bundle was installed; None if none."""
    directory = Path(directory)
    for record in (refresh_record(directory), directory / REFRESHED):
        if (at := _recorded(record)) is not None:
            return at
    try:
        return (directory / BUNDLE).stat().st_mtime
    except OSError:
        return None
