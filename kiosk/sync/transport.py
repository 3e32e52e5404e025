"""The kiosk's way to the collector: HTTP(S) with httpx. Two calls, each one request.

Whatever the network does (refused, timed out, cut, an answer that is not
JSON) comes out as SyncUnavailable with a plain message; an answer that the
collector meant (refusals included) comes out as a Reply.
"""

from __future__ import annotations

import json
import math
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from kiosk.errors import KioskError


class SyncError(KioskError):
    """A sync pass did not finish; the events stay pending and are sent again later."""


class SyncUnavailable(SyncError):
    """The collector could not be reached or did not answer in time."""


@dataclass(frozen=True)
class Reply:
    status: int
    data: dict[str, Any]  # the JSON answer ({} for a file)
    server_time: float | None  # the collector's clock, when it said
    body: bytes = b""  # a fetched file
    etag: str | None = None


class Transport(Protocol):
    def post_batch(self, body: bytes, headers: dict[str, str]) -> Reply: ...

    def fetch(self, name: str, etag: str | None) -> Reply:
        """GET a published trust file (trust.cose, status.cose); 304 when `etag` still matches."""


class HttpTransport:
    def __init__(self, url: str, *, timeout: float = 10.0, ca_file: Path | None = None) -> None:
        verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self.url = url.rstrip("/")
        # trust_env=False: an HTTP_PROXY meant for browsers must not reroute the kiosk's (often loopback or
        # LAN) collector traffic; a site that needs a proxy puts it in front of the collector instead.
        self._client = httpx.Client(base_url=self.url, timeout=timeout, verify=verify, trust_env=False,
                                    headers={"User-Agent": "kiosk-sync/1"})

    def _send(self, method: str, path: str, **kwargs: Any) -> Reply:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise SyncUnavailable(f"the collector at {self.url} did not answer in time") from None
        except (httpx.HTTPError, OSError) as err:
            raise SyncUnavailable(f"cannot reach the collector at {self.url}: {_why(err)}") from None
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

    def fetch(self, name: str, etag: str | None) -> Reply:
        return self._send("GET", f"/v1/trust/{name}", headers={"If-None-Match": etag} if etag else {})

    def clock(self) -> Reply:
        return self._send("GET", "/v1/time")

    def close(self) -> None:
        self._client.close()


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _why(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:200]
