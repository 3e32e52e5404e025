"""Publishing trust files to the kiosks: an upload is checked with the kiosk's own import rules, then put where
the collector serves it (/v1/trust/), atomically.

The collector has two folders for this (`kiosk collector serve`):
- --trust-root FOLDER: the pinned root(s), as a kiosk pins them (FOLDER/roots/*.pub, `kiosk trust pin`);
- --trust-files DIR: what is published, trust.cose and status.cose, which the kiosks pull at every sync.

An upload is checked exactly as `kiosk trust import` checks a file on a kiosk (kiosk/trustdir.py import_data),
in a staging trust directory that holds the pinned roots and the files published now: a bundle must be signed
by a pinned root, a status list by an unrevoked key of the published bundle for its own issuer; a sequence
number older than the published one (a rollback) or the same one with other contents is refused. Only a file
that passes is written into DIR (a temporary file, fsync, rename: a kiosk never pulls half a file). Uploads
take turns on a lock of DIR, also between two collector processes that publish into one folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import ImportRefused, TrustFileError
from kiosk.fileio import read_untrusted, write_atomically
from kiosk.trust import TrustBundle, parse_bundle, parse_status
from kiosk.trustdir import BUNDLE, ROOTS, STATUS, Installed, import_data, load_roots

FILES = ((BUNDLE, "trust bundle"), (STATUS, "status list"))


@dataclass(frozen=True)
class Published:
    """One published file as the trust page shows it."""

    name: str  # trust.cose or status.cose
    kind: str  # "trust bundle" or "status list"
    size: int
    published_at: float  # when it was written here (the file's time)
    seq: int | None = None  # None: it does not verify (problem says why)
    issued_at: float | None = None  # its iat
    issuer: str | None = None  # a status list's issuer
    entries: int | None = None  # issuer keys of a bundle, entries of a status list
    problem: str | None = None  # why a kiosk would refuse it now


def published(root: Path, folder: Path) -> list[Published]:
    """The files published in `folder`, each read bounded and verified against the pinned roots of `root`."""
    try:
        roots: dict[bytes, bytes] | None = load_roots(root)[0]
        unpinned = None
    except TrustFileError as err:
        roots, unpinned = None, err.problem
    found: list[Published] = []
    bundle: TrustBundle | None = None
    for name, kind in FILES:
        path = folder / name
        try:
            info = path.stat()
            data = read_untrusted(path, kind)
        except FileNotFoundError:
            continue
        except (OSError, TrustFileError) as err:
            found.append(Published(name, kind, 0, 0.0, problem=getattr(err, "problem", None) or str(err)))
            continue
        shown = Published(name, kind, len(data), info.st_mtime, problem=unpinned)
        try:
            if roots is not None and name == BUNDLE:
                bundle = parse_bundle(data, roots)
                shown = Published(name, kind, len(data), info.st_mtime, bundle.seq, float(bundle.iat),
                                  entries=len(bundle.keys))
            elif roots is not None and bundle is not None:
                status = parse_status(data, bundle)
                shown = Published(name, kind, len(data), info.st_mtime, status.seq, float(status.iat), status.iss,
                                  len(status))
            elif roots is not None:
                shown = Published(name, kind, len(data), info.st_mtime, problem="no valid trust bundle is published")
        except TrustFileError as err:
            shown = Published(name, kind, len(data), info.st_mtime, problem=err.problem)
        found.append(shown)
    return found


def publish(data: bytes, source: str, root: Path, folder: Path) -> Installed:
    """Check `data` (a trust bundle or a status list, already read bounded) as a kiosk's import would against
    the pinned roots of `root` and what `folder` publishes now, then publish it into `folder`.
    ImportRefused (one line, naming `source`) when it is refused; nothing is written then."""
    try:
        load_roots(root)
    except TrustFileError as err:
        raise ImportRefused(f"the collector's pinned root cannot be read: {err.problem}", source) from None
    with _taking_turns(folder), tempfile.TemporaryDirectory(prefix="kiosk-trust-stage-") as stage_name:
        stage = Path(stage_name)
        (stage / ROOTS).mkdir()
        for pinned in sorted((root / ROOTS).glob("*.pub")):
            with contextlib.suppress(TrustFileError):  # load_roots above said what is usable
                (stage / ROOTS / pinned.name).write_bytes(read_untrusted(pinned, "root key"))
        for name, kind in FILES:  # what kiosks pull now: the rollback rules compare against it
            with contextlib.suppress(FileNotFoundError, TrustFileError):
                (stage / name).write_bytes(read_untrusted(folder / name, kind))
        installed = import_data(data, stage, source)
        target = folder / installed.path.name
        if not installed.unchanged:
            write_atomically(target, data, mode=0o644)
        warnings = tuple(w.replace(str(stage), str(folder)) for w in installed.warnings)
        return Installed(installed.kind, installed.seq, target, installed.unchanged, warnings)


@contextlib.contextmanager
def _taking_turns(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself (flock: between threads and processes alike)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise ImportRefused(f"the trust files folder cannot be opened: {err.strerror or err}", str(folder)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
