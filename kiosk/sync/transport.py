"""The kiosk's way to the collector: HTTP(S) with httpx. Two calls, each one request.

Whatever the network does (refused, timed out, cut, an answer that is not
JSON) comes out as SyncUnavailable with a plain message; an answer that the
collector meant (refusals included) comes out as a Reply. A trust file is
streamed and refused (TrustFileError) once it is larger than its kind may be,
so a collector cannot make the kiosk hold an unbounded answer.
"""

from __future__ import annotations

import contextlib
import json
import math
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from kiosk.errors import SyncUnavailable, TrustFileError
from kiosk.fileio import check_size, read_stream


@dataclass(frozen=True)
class Reply:
    status: int
    data: dict[str, Any]  # the JSON answer ({} for a file)
    server_time: float | None  # the collector's clock, when it said
    body: bytes = b""  # a fetched file
    etag: str | None = None


class Transport(Protocol):
    """The way to the collector; `with` closes it (a class that names Transport as its base inherits that)."""

    def post_batch(self, body: bytes, headers: dict[str, str]) -> Reply: ...

    def fetch(self, name: str, etag: str | None, kind: str = "trust file") -> Reply:
        """GET a published trust file (trust.cose, status.cose); 304 when `etag` still matches.

        TrustFileError when the file is larger than a `kind` (kiosk.fileio.CAPS) may be.
        """

    def close(self) -> None:
        """Let go of the connections; nothing is sent after."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class HttpTransport(Transport):
    def __init__(self, url: str, *, timeout: float = 10.0, ca_file: Path | None = None) -> None:
        verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self.url = url.rstrip("/")
        # trust_env=False: an HTTP_PROXY meant for browsers must not reroute the kiosk's (often loopback or
        # LAN) collector traffic; a site that needs a proxy puts it in front of the collector instead.
        self._client = httpx.Client(base_url=self.url, timeout=timeout, verify=verify, trust_env=False,
                                    headers={"User-Agent": "kiosk-sync/1"})

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException:
            raise SyncUnavailable(f"the collector at {self.url} did not answer in time") from None
        except (httpx.HTTPError, OSError) as err:
            raise SyncUnavailable(f"cannot reach the collector at {self.url}: {_why(err)}") from None

    def _send(self, method: str, path: str, **kwargs: Any) -> Reply:
        with self._reaching():
            response = self._client.request(method, path, **kwargs)
        data: dict[str, Any] = {}
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                loaded = json.loads(response.content)
                data = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                data = {}
        server_time = _number(data.get("time")) if data else _number(response.headers.get("x-kiosk-time"))
        body = response.content if content_type == "application/octet-stream" else b""
        return Reply(response.status_code, data, server_time, body, response.headers.get("etag"))

    def post_batch(self, body: bytes, headers: dict[str, str]) -> Reply:
        return self._send("POST", "/v1/batches", content=body,
                          headers={**headers, "Content-Type": "application/json"})

    def fetch(self, name: str, etag: str | None, kind: str = "trust file") -> Reply:
        # identity: the cap counts the bytes as they arrive; a small gzip body could inflate far past it
        headers = {"Accept-Encoding": "identity", **({"If-None-Match": etag} if etag else {})}
        with self._reaching(), self._client.stream("GET", f"/v1/trust/{name}", headers=headers) as response:
            body = b""  # only a 200 file is read: nothing here needs another answer's body
            if response.status_code == 200 and response.headers.get("content-type") == "application/octet-stream":
                body = _download(response, kind, name)
            return Reply(response.status_code, {}, _number(response.headers.get("x-kiosk-time")), body,
                         response.headers.get("etag"))

    def clock(self) -> Reply:
        return self._send("GET", "/v1/time")

    def close(self) -> None:
        self._client.close()


def _download(response: httpx.Response, kind: str, name: str) -> bytes:
    """The body, never more than the cap of `kind`: refused at once by its Content-Length, else as it streams."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise TrustFileError(f"sent {encoding}-encoded, which the kiosk did not ask for", name)
    length = response.headers.get("content-length", "").strip()
    if length.isdigit():
        check_size(int(length), kind, name)
    # Counted whatever Content-Length said: it may lie, and a chunked answer has none.
    return read_stream(response.iter_raw(), kind, name)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _why(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:200]
