"""What differs between the collector's two databases, and the one way the shared code talks to either.

The SQL of kiosk/collector/schema.py and console_sql.py is written once, with `?`
placeholders; `Dialect.sql` turns them into the driver's (psycopg wants `%s`), and
`Tx` is a connection (or a transaction on one) as the shared code uses it, so the read
model's queries and writes (kiosk/collector/reads.py, rollup.py) run on both stores alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Dialect:
    blob: str
    real: str
    bigint: str
    serial: str  # an auto-numbered primary key: the order faults were seen in
    key: str  # text compared and sorted byte by byte (ids, names), whatever the database's locale
    placeholder: str
    json_text: str = "json_extract({column}, '$.{name}')"  # one text member of a JSON object column

    def sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)


SQLITE = Dialect("BLOB", "REAL", "INTEGER", "INTEGER PRIMARY KEY", "TEXT", "?")
POSTGRES = Dialect("BYTEA", "DOUBLE PRECISION", "BIGINT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                   'TEXT COLLATE "C"', "%s", "(({column})::json ->> '{name}')")


class Tx(Protocol):
    """A connection as the shared code uses it: statements with `?` placeholders, values always as parameters."""

    def all(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        """Every row the statement gives."""

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run one statement; the rows it changed."""

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one statement for each of `rows`."""
