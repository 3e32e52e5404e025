"""The collector's HTTP API (Starlette). Every answer carries the collector's clock.

    GET  /v1/time                 {"time": ...}: kiosks compare clocks at every contact
    POST /v1/batches              a signed batch (kiosk/sync/protocol.py) -> Ack, or {"error", "message"}
    GET  /v1/trust/trust.cose     the newest trust bundle the authority published (ETag; 304 if unchanged)
    GET  /v1/trust/status.cose    the newest status list
    GET  /v1/health               {"ok": true, "time": ...}: liveness only, nothing about the site

Database work runs in Starlette's thread pool, never on the event loop, so a
slow disk delays only the batch that waits for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kiosk.collector.store import CollectorStore, Device
from kiosk.errors import BatchRefused, StoreError
from kiosk.sync.protocol import DEVICE_HEADER, MAX_BODY, MAX_SKEW, SIGNATURE_HEADER, Ack, open_batch

TRUST_FILES = ("trust.cose", "status.cose")
BODY_BUDGET = 32 * 1024 * 1024  # bytes of batch bodies read at once, every sender together: eight full batches
log = logging.getLogger("kiosk.collector")


def make_app(store: CollectorStore, *, trust_files: Path | None = None, clock: Callable[[], float] = time.time,
             max_skew: float = MAX_SKEW, body_budget: int = BODY_BUDGET,
             console: list[BaseRoute] | None = None) -> Starlette:
    """The collector app over `store`; trust files are served from `trust_files` (where the authority publishes).

    `console`: the web console's routes (kiosk/console/web.py), served on the same port beside /v1/.
    """
    reading = [0]  # bytes of the batch bodies being read now (one event loop: no lock needed)

    def answer(status: int, payload: dict[str, Any]) -> Response:
        payload["time"] = clock()
        return Response(json.dumps(payload), status, media_type="application/json")

    def refuse(status: int, code: str, message: str, *, close: bool = False) -> Response:
        """An answer given before the body was read; `close` unless the body is known to be small.

        A small body is read on and dropped by uvicorn (within the guard's body deadline), not kept: closing
        with it unread would reset the connection, and a kiosk on a slow link could lose the answer to that.
        """
        response = answer(status, {"error": code, "message": message})
        if close:
            response.headers["Connection"] = "close"
        return response

    def ingest(body: bytes, signature: str | None, device: Device) -> Ack:
        now = clock()
        batch = open_batch(body, signature, device.id, lambda _: device.public_key, now, max_skew)
        done = store.ingest(batch, now)
        for fault in done.faults:
            log.warning("device %s: %s", batch.device, fault.message)
        return Ack(done.stored, done.duplicates, batch.events[-1].event.id if batch.events else None, clock(),
                   done.faults)

    async def admit(request: Request) -> Device | Response:
        """The enrolled device sending this batch, or the refusal; from the headers alone, the body unread.

        Who sends a batch and how big it is are in the headers: a stranger or an oversized body is refused
        before a byte of the body is read, so neither costs the collector memory or the time of an upload.
        """
        device_id, signature = request.headers.get(DEVICE_HEADER), request.headers.get(SIGNATURE_HEADER)
        length = request.headers.get("content-length")
        small = length is not None and length.isdigit() and int(length) <= MAX_BODY
        if not device_id:
            return refuse(401, "unauthenticated", f"a batch needs the {DEVICE_HEADER} header of an enrolled kiosk",
                          close=not small)
        if not signature:
            return refuse(401, "bad_signature", f"the batch is not signed (no {SIGNATURE_HEADER} header)",
                          close=not small)
        if length is None and request.headers.get("transfer-encoding", "").lower() != "chunked":
            return refuse(411, "too_large", f"send a Content-Length of at most {MAX_BODY} bytes", close=True)
        if length is not None and not small:
            return refuse(413, "too_large", f"a batch may hold {MAX_BODY} bytes at most", close=True)
        try:
            device = await run_in_threadpool(store.device, device_id)
        except StoreError as err:
            log.error("%s", err)
            return refuse(503, "store", "the collector cannot store batches now; retry later", close=True)
        if device is None or device.revoked_at is not None:
            refused = BatchRefused("unknown_device", f"device {device_id[:40]!r} is not enrolled at this collector") \
                if device is None else BatchRefused("revoked", f"device {device_id} was revoked at this collector")
            log.warning("batch refused (%s) from %.40r", refused.code, device_id)  # the id is untrusted: bounded
            return refuse(refused.status, refused.code, str(refused), close=not small)
        return device

    async def post_batch(request: Request) -> Response:
        admitted = await admit(request)
        if isinstance(admitted, Response):
            return admitted
        length = request.headers.get("content-length")
        need = int(length) if length is not None else MAX_BODY
        # A device id is no secret (exports show it): one who knows it could still make the collector hold
        # many bodies until the signature is checked. All bodies being read share one budget.
        if reading[0] + need > body_budget:
            return refuse(503, "busy", "the collector is receiving too many batches at once; retry later",
                          close=length is None)
        reading[0] += need
        try:
            body = bytearray()
            async for chunk in request.stream():  # chunk by chunk: a chunked body is cut off, never held whole
                body += chunk
                if len(body) > MAX_BODY:
                    return refuse(413, "too_large", f"a batch may hold {MAX_BODY} bytes at most", close=True)
            ack = await run_in_threadpool(ingest, bytes(body), request.headers[SIGNATURE_HEADER], admitted)
        except ClientDisconnect:  # the kiosk (or its network) hung up mid-batch: it sends the batch again
            log.info("a batch was cut off mid-way by %s", admitted.id)
            return Response(status_code=400)
        except BatchRefused as refused:
            log.warning("batch refused (%s) from %s: %s", refused.code, admitted.id, refused)
            return answer(refused.status, {"error": refused.code, "message": str(refused)})
        except StoreError as err:
            log.error("%s", err)
            return answer(503, {"error": "store", "message": "the collector cannot store batches now; retry later"})
        finally:
            reading[0] -= need
        return Response(ack.encode(), 200, media_type="application/json")

    async def get_time(request: Request) -> Response:
        return answer(200, {})

    async def health(request: Request) -> Response:
        # Liveness only: anyone can ask, so it tells nothing about the site (`kiosk collector devices` does).
        return answer(200, {"ok": True})

    async def trust_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in TRUST_FILES or trust_files is None:
            return answer(404, {"error": "not_found", "message": f"no {name} is published here"})
        try:
            data = await run_in_threadpool((trust_files / name).read_bytes)
        except FileNotFoundError:
            return answer(404, {"error": "not_found", "message": f"no {name} is published here"})
        except OSError as err:
            return answer(503, {"error": "unreadable", "message": f"{name}: {err.strerror or err}"})
        tag = f'"{hashlib.sha256(data).hexdigest()}"'
        headers = {"ETag": tag, "X-Kiosk-Time": repr(clock())}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=headers)
        return Response(data, 200, headers=headers, media_type="application/octet-stream")

    return Starlette(routes=[
        Route("/v1/time", get_time),
        Route("/v1/health", health),
        Route("/v1/batches", post_batch, methods=["POST"]),
        Route("/v1/trust/{name}", trust_file),
        *(console or []),
    ])
