"""Reading the log beside a running kiosk, and writing a file all at once (exports, reports)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from kiosk.audit.store import AuditLog
from kiosk.errors import KioskError


class ExportError(KioskError):
    """An export or report could not be written; nothing was left under its name."""


@contextlib.contextmanager
def read_snapshot(log: AuditLog) -> Iterator[sqlite3.Connection]:
    """A read-only connection that sees one consistent state of the log (its own, so the kiosk keeps writing)."""
    if log.path is None:
        yield log.db.conn  # an in-memory log has no other way in
        return
    conn = sqlite3.connect(f"file:{quote(str(Path(log.path).resolve()))}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA temp_store=MEMORY")  # the report's GROUP BY and DISTINCT sort in memory: 2x faster
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


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
