"""USB sticks for the admin screens: which mounted folders can take an export.

Debian's desktop automounter (udisks2) mounts a stick at /media/USER/LABEL
(/run/media/USER/LABEL on some others), usbmount at /media/usb0, and by hand
it often goes under /mnt. Only mount points count: usbmount keeps empty
/media/usb0..7 folders on the root disk, and an export written into one of
those would never leave the kiosk.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

DEFAULT_ROOTS = ("/media", "/run/media", "/mnt")


def _folders(path: Path) -> list[Path]:
    """Sub-folders, sorted; none when unreadable (another user's /media/USER is mode 0700)."""
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink())  # /media/cdrom -> cdrom0
    except OSError:
        return []


def writable(path: Path) -> bool:
    """Whether files can be made in `path`: permissions and a read-write mount (a write-protected stick)."""
    try:
        return os.access(path, os.W_OK | os.X_OK) and not os.statvfs(path).f_flag & os.ST_RDONLY
    except OSError:
        return False


def usb_drives(roots: Iterable[str | Path] = DEFAULT_ROOTS, *,
               is_mount: Callable[[Path], bool] = os.path.ismount) -> list[Path]:
    """Mounted, writable folders one or two levels below `roots`, in order; `is_mount` is a seam for tests."""
    found: list[Path] = []
    seen: set[Path] = set()  # /media may be a link to /run/media: one stick, listed once
    for root in map(Path, roots):
        for child in _folders(root):
            if is_mount(child):  # /media/usb0, /mnt/stick; its own folders are not other sticks
                candidates = [child]
            else:  # /media/USER: the sticks are inside
                candidates = [grandchild for grandchild in _folders(child) if is_mount(grandchild)]
            for candidate in candidates:
                if candidate.resolve() not in seen and writable(candidate):
                    seen.add(candidate.resolve())
                    found.append(candidate)
    return found


def sync_folder(path: Path) -> None:
    """Flush a folder's entries to the stick, so a file renamed into it survives the stick pulled right away."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
