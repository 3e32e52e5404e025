"""Downloads of the console that stream (exports, the trail, a trace): the file goes out as it is made, a batch of
rows at a time, so the server's memory does not grow with the rows; each is recorded in the console's trail
once it ends, with how many rows went out and whether the whole file did.

The rows are made by a plain (blocking) generator of chunks: every step of it (a page read from the database,
turned into CSV or JSON lines) runs in the thread pool, never on the event loop; the next step is taken only
when the chunk before has been handed to the connection (uvicorn waits while the client is slow to read), so
at most a chunk or two is ever held. A client that goes away stops the generator (its database reads with it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

BOM = "\ufeff"  # how Excel knows a CSV file is UTF-8 (else Chinese is mojibake), as the kiosk's export writes it


@dataclass
class Tally:
    """What a download sent: rows counted by the generator, `complete` once it ran to its end."""

    rows: int = 0
    complete: bool = False


class Download(StreamingResponse):
    """A streamed attachment named `filename`; `on_end(tally)` (blocking: the trail) runs once it is over,
    whether it ran to its end, failed or the client left."""

    def __init__(self, chunks: Callable[[Tally], Iterator[bytes]], filename: str, media_type: str,
                 on_end: Callable[[Tally], object]) -> None:
        self.tally = Tally()
        self._chunks, self._on_end, self._ended = chunks(self.tally), on_end, False
        ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename)
        super().__init__(self._pulled(), media_type=media_type, headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"})

    async def _pulled(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await run_in_threadpool(next, self._chunks, None)
            if chunk is None:
                self.tally.complete = True
                # Recorded before the file's end is sent: whoever has the whole file finds it in the trail.
                await run_in_threadpool(self._end)
                return
            if chunk:
                yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):  # recorded also when the client went away mid-file
                await run_in_threadpool(self._end)

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self._on_end(self.tally)


def csv_chunks(header: Sequence[str], pages: Iterable[Sequence[Sequence[Any]]], tally: Tally) -> Iterator[bytes]:
    """A CSV file as the kiosk's export writes one (UTF-8 with a byte-order mark, a header row), a chunk a page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(header)
    for page in pages:
        writer.writerows(page)
        tally.rows += len(page)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def csv_text_chunks(header: Sequence[str], pages: Iterable[Sequence[Sequence[Any]]],
                    lines: Callable[[Sequence[Sequence[Any]]], str], tally: Tally) -> Iterator[bytes]:
    """csv_chunks, each page's rows made CSV text by `lines` (kiosk/audit/csv_rows.py: the same text, faster)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    first = BOM + buffer.getvalue()
    for page in pages:
        text = first + lines(page)
        first = ""
        tally.rows += len(page)
        yield text.encode("utf-8")
    yield first.encode("utf-8")


def defused(value: object) -> object:
    """Text made inert in a spreadsheet, as the kiosk's CSV export does: '=cmd|...' would run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
