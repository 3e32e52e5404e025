"""The sync wire format between a kiosk and its collector. Pure: the time and the keys are arguments.

A batch is one JSON object, signed by the kiosk's device key (Ed25519) over a
context line and the exact body bytes, the signature in a header:

    POST /v1/batches
    X-Kiosk-Device: 3f2a...           (the device id: kid of its public key)
    X-Kiosk-Signature: <base64 of Ed25519("kiosk-sync/1\\n" + body)>

    {"protocol": "kiosk-sync/1", "device": "3f2a...", "sent_at": 1795766400.25,
     "nonce": "<32 hex>", "events": [{<every Event field>, "prev_hash": "<64 hex>"}, ...],
     "status": {"backlog": 0, "trust_issued_at": 1795700000, "trust_refreshed": null, "clock_offset": -0.4,
                "devices": {"camera": "ok", "thermometer": "disconnected"}, "raw_subjects": false}}

Events go in the order they were written, each with the link the kiosk stored
(the hash of the event before it), so the collector recomputes every event's
hash and sees a gap or an altered event. The collector answers with an Ack (or
an error with a reason code); both carry its clock, so a kiosk whose clock is off
learns the offset, warns, and signs its next batch with the collector's time.

"status" is optional (older kiosks send none, older collectors ignore it): how the
kiosk is as it sends the batch (`KioskStatus`, kiosk/sync/status.py), bounded; unknown keys are ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import SigningKey, VerifyKey

from kiosk.audit.events import COLUMNS, Event
from kiosk.errors import BatchRefused
from kiosk.sync.status import DEVICE_KINDS as DEVICE_KINDS  # the status's names, where they always were
from kiosk.sync.status import MAX_BACKLOG as MAX_BACKLOG
from kiosk.sync.status import MAX_OFFSET as MAX_OFFSET
from kiosk.sync.status import MAX_TIME as MAX_TIME
from kiosk.sync.status import STATE_WORD as STATE_WORD
from kiosk.sync.status import KioskStatus as KioskStatus
from kiosk.sync.status import parse_status

PROTOCOL = "kiosk-sync/1"
CONTEXT = PROTOCOL.encode() + b"\n"  # signed before the body: a device signature means nothing elsewhere
DEVICE_HEADER = "X-Kiosk-Device"
SIGNATURE_HEADER = "X-Kiosk-Signature"
MAX_SKEW = 300.0  # seconds a batch's sent_at may differ from the collector's clock
MAX_EVENTS = 5000  # per batch
MAX_BODY = 4 * 1024 * 1024  # bytes; the collector refuses more unread, the kiosk splits a batch to stay under it

_ULID = re.compile("[0-7][0-9A-HJKMNP-TV-Z]{25}")
_DEVICE_ID = re.compile("[0-9a-f]{16}")
_HASH = re.compile("[0-9a-f]{64}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_TEXT = {"kind", "site", "lane", "device"}  # always text
_OPTIONAL_TEXT = {"verdict", "reason", "status", "code_kind", "kid", "iss", "subject_ref", "operator"}


@dataclass(frozen=True)
class Linked:
    """An event as the kiosk stored it: the event and the hash of the one before it."""

    event: Event
    prev_hash: bytes


@dataclass(frozen=True)
class Batch:
    device: str
    sent_at: float
    nonce: str
    events: list[Linked]
    digest: bytes  # SHA-256 of the signature: how a replay is recognised (empty until open_batch checked it)
    status: KioskStatus | None = None  # None: the kiosk sent none (an older kiosk)


@dataclass(frozen=True)
class Fault:
    """A break in a device's chain, seen by the collector."""

    kind: str  # "gap": the link does not match the stored head; "conflict": same id, other contents;
    # "late": an event older than the head, never stored before
    event_id: str  # the event where it shows
    after_id: str | None  # the last event the collector had before it
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "event_id": self.event_id, "after_id": self.after_id, "message": self.message}


@dataclass(frozen=True)
class Ack:
    """The collector's answer to a batch it took: everything up to `through` is stored."""

    stored: int  # new events
    duplicates: int  # events it had already
    through: str | None  # the last event id of the batch; None for an empty batch
    time: float  # the collector's clock when it answered
    faults: list[Fault] = field(default_factory=list)

    def encode(self) -> bytes:
        return json.dumps({"stored": self.stored, "duplicates": self.duplicates, "through": self.through,
                           "time": self.time, "faults": [f.as_dict() for f in self.faults]}).encode()


def record(linked: Linked) -> dict[str, Any]:
    """The JSON object of one event."""
    fields_ = {name: getattr(linked.event, name) for name in COLUMNS}
    fields_["prev_hash"] = linked.prev_hash.hex()
    return fields_


def encode_batch(device: str, events: list[Linked], sent_at: float, nonce: str,
                 status: KioskStatus | None = None) -> bytes:
    body: dict[str, Any] = {"protocol": PROTOCOL, "device": device, "sent_at": sent_at, "nonce": nonce,
                            "events": [record(e) for e in events]}
    if status is not None:
        body["status"] = status.as_dict()
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def sign(body: bytes, key: SigningKey) -> str:
    return base64.b64encode(key.sign(CONTEXT + body).signature).decode("ascii")


def open_batch(body: bytes, signature: str | None, device_header: str | None,
               public_key_of: Callable[[str], bytes | None], now: float, max_skew: float = MAX_SKEW) -> Batch:
    """Check a batch as the collector must, cheapest refusals first; raise BatchRefused or return it.

    `public_key_of(device)` is the enrolled key, None for an unknown device; it
    raises BatchRefused("revoked", ...) itself for a revoked one.
    """
    if len(body) > MAX_BODY:
        raise BatchRefused("too_large", f"a batch may hold {MAX_BODY} bytes at most")
    if not device_header or not _DEVICE_ID.fullmatch(device_header):
        raise BatchRefused("malformed", f"the {DEVICE_HEADER} header must be a device id (16 hex digits)")
    public = public_key_of(device_header)
    if public is None:
        raise BatchRefused("unknown_device", f"device {device_header} is not enrolled at this collector")
    try:
        raw_signature = base64.b64decode(signature or "", validate=True)
        VerifyKey(public).verify(CONTEXT + body, raw_signature)
    except (binascii.Error, BadSignatureError, NaclValueError, ValueError):
        raise BatchRefused("bad_signature", f"the batch is not signed by device {device_header}'s key") from None
    batch = parse_batch(body)
    if batch.device != device_header:
        raise BatchRefused("malformed", "the batch names another device than its header")
    if not abs(batch.sent_at - now) <= max_skew:
        raise BatchRefused("stale", f"the batch was signed at {batch.sent_at:.0f}, {batch.sent_at - now:+.0f} s "
                                    f"from the collector's clock (at most {max_skew:.0f} s): resend it")
    return Batch(batch.device, batch.sent_at, batch.nonce, batch.events, hashlib.sha256(raw_signature).digest(),
                 batch.status)


def parse_batch(body: bytes) -> Batch:
    """The batch in `body`, every field checked; BatchRefused("malformed") otherwise."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise BatchRefused("malformed", f"the body is not JSON: {err}") from None
    if not isinstance(data, dict) or data.get("protocol") != PROTOCOL:
        raise BatchRefused("malformed", f"the body is not a {PROTOCOL} batch")
    device, sent_at, nonce, events = (data.get(k) for k in ("device", "sent_at", "nonce", "events"))
    if not isinstance(device, str) or not _DEVICE_ID.fullmatch(device):
        raise BatchRefused("malformed", "device must be 16 hex digits")
    if not _is_number(sent_at) or not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise BatchRefused("malformed", "sent_at must be a number and nonce a text of 16 to 64 characters")
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise BatchRefused("malformed", f"events must be a list of at most {MAX_EVENTS}")
    linked = []
    for index, item in enumerate(events):
        try:
            linked.append(parse_record(item))
        except ValueError as err:
            raise BatchRefused("malformed", f"event {index}: {err}") from None
    ids = [item.event.id for item in linked]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        raise BatchRefused("malformed", "events must be in the order they were written, each once")
    try:
        status = parse_status(data.get("status"))
    except ValueError as err:
        raise BatchRefused("malformed", f"status: {err}") from None
    return Batch(device, float(sent_at), nonce, linked, b"", status)  # type: ignore[arg-type]


def parse_record(item: object) -> Linked:
    """One event of a batch, with exactly the types the kiosk stores, so its hash is recomputed exactly."""
    if not isinstance(item, dict) or set(item) != {*COLUMNS, "prev_hash"}:
        raise ValueError(f"an event must have exactly the fields {', '.join(COLUMNS)}, prev_hash")
    if not isinstance(item["id"], str) or not _ULID.fullmatch(item["id"]):
        raise ValueError("id must be a ULID")
    if not isinstance(item["prev_hash"], str) or not _HASH.fullmatch(item["prev_hash"]):
        raise ValueError("prev_hash must be 64 hex digits")
    if not isinstance(item["at"], float) or not math.isfinite(item["at"]):
        raise ValueError("at must be a number with a fraction")
    for name in _TEXT | _OPTIONAL_TEXT:
        value = item[name]
        if value is None and name in _OPTIONAL_TEXT:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text" + (" or null" if name in _OPTIONAL_TEXT else ""))
        if _UNSTORABLE.search(value):  # the kiosk's log never holds these (see kiosk/audit/store.py normalized)
            raise ValueError(f"{name} holds a NUL or a lone surrogate")
    code_iat = item["code_iat"]
    if code_iat is not None and (not isinstance(code_iat, int) or isinstance(code_iat, bool)
                                 or not -(2**63) <= code_iat < 2**63):
        raise ValueError("code_iat must be a 64-bit integer or null")
    temperature = item["temperature"]
    if temperature is not None and not (isinstance(temperature, float) and math.isfinite(temperature)):
        raise ValueError("temperature must be a finite number with a fraction, or null")
    if not isinstance(item["details"], dict):
        raise ValueError("details must be an object")
    try:
        json.dumps(item["details"], ensure_ascii=False).encode()
    except (UnicodeEncodeError, ValueError):  # a lone surrogate, or NaN smuggled in as a constant
        raise ValueError("details cannot be stored as JSON") from None
    fields_ = {name: item[name] for name in COLUMNS}
    return Linked(Event(**fields_), bytes.fromhex(item["prev_hash"]))


def parse_ack(data: object) -> Ack:
    """The collector's Ack; ValueError if it is not one."""
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    stored, duplicates, through, time_ = (data.get(k) for k in ("stored", "duplicates", "through", "time"))
    if not (isinstance(stored, int) and isinstance(duplicates, int) and _is_number(time_)
            and (through is None or isinstance(through, str))):
        raise ValueError("the answer is not an acknowledgement")
    faults = []
    for item in data.get("faults") or []:
        if isinstance(item, dict):
            faults.append(Fault(str(item.get("kind")), str(item.get("event_id")),
                                None if item.get("after_id") is None else str(item.get("after_id")),
                                str(item.get("message"))))
    return Ack(stored, duplicates, through, float(time_), faults)  # type: ignore[arg-type]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")
