"""The collector's HTTP API (Starlette). Every answer carries the collector's clock.

    GET  /v1/time                 {"time": ...}: kiosks compare clocks at every contact
    POST /v1/batches              a signed batch (kiosk/sync/protocol.py) -> Ack, or {"error", "message"}
    GET  /v1/trust/trust.cose     the newest trust bundle the authority published (ETag; 304 if unchanged)
    GET  /v1/trust/status.cose    the newest status list
    GET  /v1/health               devices enrolled, events stored

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
from starlette.routing import Route

from kiosk.collector.store import CollectorStore, StoreError
from kiosk.sync.protocol import DEVICE_HEADER, MAX_BODY, MAX_SKEW, SIGNATURE_HEADER, Ack, BatchRefused, open_batch

TRUST_FILES = ("trust.cose", "status.cose")
log = logging.getLogger("kiosk.collector")


def make_app(store: CollectorStore, *, trust_files: Path | None = None, clock: Callable[[], float] = time.time,
             max_skew: float = MAX_SKEW) -> Starlette:
    """The collector app over `store`; trust files are served from `trust_files` (where the authority publishes)."""

    def answer(status: int, payload: dict[str, Any]) -> Response:
        payload["time"] = clock()
        return Response(json.dumps(payload), status, media_type="application/json")

    def public_key_of(device_id: str) -> bytes | None:
        device = store.device(device_id)
        if device is not None and device.revoked_at is not None:
            raise BatchRefused("revoked", f"device {device_id} was revoked at this collector")
        return device.public_key if device else None

    def ingest(body: bytes, signature: str | None, device_header: str | None) -> Ack:
        now = clock()
        batch = open_batch(body, signature, device_header, public_key_of, now, max_skew)
        done = store.ingest(batch, now)
        for fault in done.faults:
            log.warning("device %s: %s", batch.device, fault.message)
        return Ack(done.stored, done.duplicates, batch.events[-1].event.id if batch.events else None, clock(),
                   done.faults)

    async def post_batch(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_BODY:
            return answer(413 if length and length.isdigit() else 411,
                          {"error": "too_large", "message": f"send a Content-Length of at most {MAX_BODY} bytes"})
        try:
            body = await request.body()
        except ClientDisconnect:  # the kiosk (or its network) hung up mid-batch: it sends the batch again
            log.info("a batch was cut off mid-way by %s", request.headers.get(DEVICE_HEADER))
            return Response(status_code=400)
        try:
            ack = await run_in_threadpool(ingest, body, request.headers.get(SIGNATURE_HEADER),
                                          request.headers.get(DEVICE_HEADER))
        except BatchRefused as refused:
            log.warning("batch refused (%s) from %s: %s", refused.code, request.headers.get(DEVICE_HEADER), refused)
            return answer(refused.status, {"error": refused.code, "message": str(refused)})
        except StoreError as err:
            log.error("%s", err)
            return answer(503, {"error": "store", "message": "the collector cannot store batches now; retry later"})
        return Response(ack.encode(), 200, media_type="application/json")

    async def get_time(request: Request) -> Response:
        return answer(200, {})

    async def health(request: Request) -> Response:
        try:
            devices = await run_in_threadpool(store.devices)
        except StoreError as err:
            return answer(503, {"error": "store", "message": str(err)})
        return answer(200, {"ok": True, "devices": sum(d.revoked_at is None for d in devices),
                            "events": sum(d.events for d in devices)})

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
    ])
