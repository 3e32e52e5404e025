"""Small file helpers shared by the trust directory and the key files.

Reading: a trust file comes from places the kiosk does not control (a USB
stick, the collector, a path typed by an operator), so it is read bounded:
only a regular file, never more than the cap of its kind (`CAPS`).
Writing: every mode is set on the open file, so the umask (000 on some
systems) never makes a key or a trust file writable or readable by others.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kiosk.errors import TrustFileError

KiB, MiB = 1 << 10, 1 << 20

# The largest file of each kind the kiosk will read: the largest legitimate one, with room to grow.
# Anything larger is refused before it is read, so no file can fill the memory or the disk.
CAPS: dict[str, int] = {
    "status list": 64 * MiB,  # 24 bytes an entry: 1,000,000 entries are 24 MB; 64 MiB holds 2.8 million
    "trust bundle": 4 * MiB,  # ~90 bytes an issuer key: 46,000 keys, where a country has a few thousand
    "root key": 4 * KiB,  # one line of 64 hex digits
    "refresh record": 4 * KiB,  # refreshed.json, one small JSON object the kiosk writes itself
}
# A file given to `kiosk trust import` is a bundle or a status list; which one, only its signer tells.
CAPS["trust file"] = max(CAPS["status list"], CAPS["trust bundle"])

_TYPES = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def check_size(size: int, kind: str, name: str | None = None) -> None:
    """Refuse `size` bytes when a file of `kind` may not be that large (TrustFileError naming `name`)."""
    cap = CAPS[kind]
    if size > cap:
        shown = _size(size)
        if shown == _size(cap):  # 64 MiB + 1 byte would read "64 MiB, larger than the 64 MiB"
            shown = f"{size:,} bytes"
        raise TrustFileError(f"{shown}, larger than the {_size(cap)} a {kind} may be", name)


def _not_regular(path: Path, mode: int) -> TrustFileError:
    what = next((name for test, name in _TYPES if test(mode)), "something else")
    if os.path.islink(path):
        what = f"a symbolic link to {what}"
    return TrustFileError(f"not a regular file ({what})", str(path))


def read_untrusted(path: Path, kind: str) -> bytes:
    """The bytes of `path`, read bounded; TrustFileError (one line naming the file) for anything else.

    Only a regular file is read. A symbolic link is followed: where a link leads is
    checked on the opened file itself, and a link to a regular file is as safe as
    that file (and is how "the current bundle" is often pointed at). Opening never
    waits (O_NONBLOCK: a FIFO with no writer would block forever; O_NOCTTY: a
    terminal must not become ours), and at most cap + 1 bytes are read, so a file
    that grows while it is read is caught too.
    """
    cap = CAPS[kind]
    try:
        # First by name, so a device (a serial port resets what hangs on it) is not even opened...
        if not stat.S_ISREG(mode := os.stat(path).st_mode):
            raise _not_regular(path, mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise TrustFileError(f"cannot read: {err.strerror or err}", str(path)) from None
    try:
        info = os.fstat(fd)  # ...then what was opened, which counts: the name may have been swapped meanwhile
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        check_size(info.st_size, kind, str(path))
        os.set_blocking(fd, True)  # a regular file after all: plain reads
        chunks: list[bytes] = []
        total = 0
        while total <= cap:
            chunk = os.read(fd, min(max(info.st_size + 1 - total, 64 * KiB), cap + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
        raise TrustFileError(f"more than the {_size(cap)} a {kind} may be", str(path))  # it grew, or its size lied
    except OSError as err:
        raise TrustFileError(f"cannot read: {err.strerror or err}", str(path)) from None
    finally:
        os.close(fd)


def read_stream(chunks: Iterable[bytes], kind: str, name: str) -> bytes:
    """The bytes of a download of `kind`; stops and refuses as soon as it runs past the cap."""
    cap = CAPS[kind]
    kept: list[bytes] = []
    total = 0
    for chunk in chunks:
        kept.append(chunk)
        total += len(chunk)
        if total > cap:
            raise TrustFileError(f"more than the {_size(cap)} a {kind} may be", name)
    return b"".join(kept)


def make_folders(path: Path, mode: int) -> None:
    """Create `path` and its missing parents with `mode` at most.

    The umask can narrow `mode`, never widen it: Path.mkdir(parents=True) gives the
    parents 0777 less the umask, world-writable under umask 000, and a
    world-writable trust directory lets anyone pin a root.
    """
    if path.is_dir():
        return
    make_folders(path.parent, mode)
    with contextlib.suppress(FileExistsError):  # made by another process a moment ago
        os.mkdir(path, mode)


def _folder_mode(file_mode: int) -> int:
    """A folder made for a private file is private too; one for a public file can be listed by all."""
    return 0o700 if file_mode & 0o077 == 0 else 0o755


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a power cut leaves the old or the new file, never half.

    Write a temporary file in the same folder, fsync it, rename it over the
    target, then fsync the folder so the rename itself is on disk.
    """
    make_folders(path.parent, _folder_mode(mode))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # exactly `mode`, whatever the umask
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_new(path: Path, text: str, mode: int) -> None:
    """Create `path` with exactly `mode` (the umask cannot change it); refuse to overwrite an existing file."""
    make_folders(path.parent, _folder_mode(mode))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)  # owner-only until set
    with os.fdopen(fd, "w", encoding="ascii") as out:
        os.fchmod(fd, mode)  # the create's mode is narrowed by the umask (a 0277 one would leave 0400)
        out.write(text)
        out.flush()
        os.fsync(fd)


def write_new_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only (0600); refuse to overwrite an existing file."""
    write_new(path, text, 0o600)


def data_folder() -> Path:
    """The kiosk's folder under the XDG data folder: $XDG_DATA_HOME/kiosk, else ~/.local/share/kiosk."""
    return Path(os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")) / "kiosk"


def data_path(variable: str, name: str) -> Path:
    """$`variable` if set, else kiosk/`name` under the XDG data folder (~/.local/share)."""
    if os.environ.get(variable):
        return Path(os.environ[variable])
    return data_folder() / name
