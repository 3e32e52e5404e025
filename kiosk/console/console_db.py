"""Opening the console's store: SQLite or PostgreSQL by the collector's database URL (kiosk/collector/database.py).

Apart from console_store.py, which both stores build on, so that neither imports the other through it.
"""

from __future__ import annotations

from kiosk.collector.database import sqlite_path
from kiosk.console.console_store import ConsoleStore
from kiosk.errors import StoreError


def open_console_store(url: str, create: bool = True) -> ConsoleStore:
    """The console's store in the collector's database at `url` (sqlite:///path/file.db, a plain path, or
    postgresql://...); `create=False` refuses a SQLite file that does not exist yet."""
    path = sqlite_path(url)
    if path is None:
        from kiosk.console.console_pg import PostgresConsoleStore

        return PostgresConsoleStore(url)
    from kiosk.console.console_sqlite import SqliteConsoleStore

    if not create and not path.exists():
        raise StoreError(f"{path}: no collector database there yet (`kiosk collector user add` or `serve` makes "
                         "it; --db or $KIOSK_COLLECTOR_DB names another)")
    return SqliteConsoleStore(path)
