"""Which collector database a command uses, and opening it: SQLite (a file) or PostgreSQL, by its URL."""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.collector.store import CollectorStore
from kiosk.errors import StoreError
from kiosk.fileio import data_folder

DATABASE_VARIABLE = "KIOSK_COLLECTOR_DB"


def database_url(given: str | None) -> str:
    """The database every `kiosk collector` command uses: `given` (--db), else $KIOSK_COLLECTOR_DB, else the
    SQLite file collector.db in the data folder (~/.local/share/kiosk)."""
    if given:
        return given
    if os.environ.get(DATABASE_VARIABLE):
        return os.environ[DATABASE_VARIABLE]
    return f"sqlite:///{default_file()}"


def default_file() -> Path:
    """The SQLite file of a collector with no --db nor $KIOSK_COLLECTOR_DB."""
    return data_folder() / "collector.db"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (sqlite:///path/file.db, or a plain path); None for PostgreSQL."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.removeprefix("sqlite://")
    if not path or "://" in path:
        raise StoreError(f"{url}: not a database URL (sqlite:///path/collector.db or postgresql://user@host/db)")
    return Path(path)


def open_store(url: str, create: bool = True) -> CollectorStore:
    """The store at `url`: sqlite:///path/file.db (or a plain path), or postgresql://user@host:port/db.

    `create=False` (a command that only reads or changes what is there) refuses a SQLite file that does not
    exist, rather than making an empty database where a path was mistyped.
    """
    path = sqlite_path(url)
    if path is None:
        from kiosk.collector.pg_store import PostgresStore

        return PostgresStore(url)
    from kiosk.collector.sqlite_store import SqliteStore

    if not create and not path.exists():
        raise StoreError(f"{path}: no collector database there yet (`kiosk collector serve` or `enroll` makes it; "
                         f"--db or ${DATABASE_VARIABLE} names another)")
    return SqliteStore(path)
