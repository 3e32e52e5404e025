"""Reading a database's next page while the caller works on this one: PostgreSQL's export pages.

PostgreSQL computes a page in its own process while psycopg waits with the GIL released, and a console export
waits too, for the browser to take each chunk: a thread that reads the next page meanwhile fills both waits
(a 1,100,000-row CSV over HTTP, three runs each on the shared 2-core machine: 81,000 rows/s on average without
it, 96,000 with it). SQLite is not read this way: its module lets go of the GIL and takes it back at every row,
and each taking back waits for the busy thread beside it (10-25% slower, over HTTP and in process).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def read_ahead(pages: Iterator[T]) -> Generator[T, None, None]:
    """`pages`, each next one read in a thread of its own while the caller works on this one. One page ahead at
    most, never more: memory stays that of two pages. Closed (a client that left), it waits for the page being
    read, then closes `pages`: no read goes on after it."""
    with ThreadPoolExecutor(1, thread_name_prefix="kiosk-read-ahead") as reader:
        coming = reader.submit(next, pages, None)
        try:
            while (page := coming.result()) is not None:
                coming = reader.submit(next, pages, None)
                yield page
        finally:
            with contextlib.suppress(Exception):  # its error, if any, is not the one that ends the reading
                coming.result()
            close = getattr(pages, "close", None)
            if close is not None:
                close()
