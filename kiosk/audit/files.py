"""Writing a file all at once (exports, reports): nothing half-written ever sits under its name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kiosk.errors import ExportError


@contextlib.contextmanager
def write_atomically(out: Path) -> Iterator[Path]:
    """A temporary path beside `out`, renamed to `out` only if the block finishes; removed otherwise."""
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"cannot write {out}: it is a folder")
    try:
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    except OSError as err:
        raise ExportError(f"cannot write {out}: {err.strerror or err}") from None
    os.close(fd)
    temp = Path(name)  # hidden, and named .part: never taken for a finished export
    try:
        yield temp
        with open(temp, "rb+") as done:
            os.fsync(done.fileno())
        os.replace(temp, out)
    except OSError as err:
        raise ExportError(f"cannot write {out}: {err.strerror or err}") from None
    finally:
        temp.unlink(missing_ok=True)
