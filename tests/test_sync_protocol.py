"""The sync wire format and the collector's chain check: pure functions, tables and properties."""

from __future__ import annotations

import base64
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from kiosk.audit.events import GENESIS, Event, chain_hash
from kiosk.audit.store import AuditLog
from kiosk.collector.store import Head, check_chain
from kiosk.cose import kid_of
from kiosk.errors import BatchRefused
from kiosk.sync.outbox import Outbox
from kiosk.sync.protocol import MAX_EVENTS, Linked, encode_batch, open_batch, parse_ack, parse_batch, sign

KEY = SigningKey(bytes(range(32)))
DEVICE = kid_of(bytes(KEY.verify_key)).hex()
NOW = 1_795_000_000.0


def logged(n: int, start: float = NOW - 3600, **fields: object) -> list[Linked]:
    """n events written by a real audit log, read back with their links as the kiosk sends them."""
    log = AuditLog()
    for i in range(n):
        log.append(Event("", start + i * 1.5, "scan", site="Joy City", verdict="pass", reason="ok",
                         temperature=36.4 + i / 10, **fields))  # type: ignore[arg-type]
    return Outbox(log).batch(n + 10)


def signed(events: list[Linked], *, key: SigningKey = KEY, device: str = DEVICE, sent_at: float = NOW,
           nonce: str = "0123456789abcdef0123456789abcdef") -> tuple[bytes, str]:
    body = encode_batch(device, events, sent_at, nonce)
    return body, sign(body, key)


def keys(device: str) -> bytes | None:
    return bytes(KEY.verify_key) if device == DEVICE else None


def test_a_signed_batch_opens_with_every_event_and_link_as_stored() -> None:
    events = logged(5)
    body, signature = signed(events)
    batch = open_batch(body, signature, DEVICE, keys, NOW)
    assert batch.device == DEVICE and batch.sent_at == NOW and batch.events == events
    assert len(batch.digest) == 32
    # The collector's recomputed hashes chain: each event's hash is the next one's link.
    for before, after in zip(batch.events, batch.events[1:]):
        assert chain_hash(before.prev_hash, before.event) == after.prev_hash
    assert batch.events[0].prev_hash == GENESIS


def test_the_chain_check_of_a_fresh_device_places_every_event_without_faults() -> None:
    events = logged(4)
    checked = check_chain(None, events, {})
    assert [linked.event.id for linked, _ in checked.new] == [e.event.id for e in events]
    assert checked.duplicates == 0 and checked.faults == []
    assert checked.head == Head(events[-1].event.id, chain_hash(events[-1].prev_hash, events[-1].event))


def test_batches_in_a_row_link_to_the_head() -> None:
    events = logged(6)
    first = check_chain(None, events[:3], {})
    second = check_chain(first.head, events[3:], {})
    assert second.faults == [] and len(second.new) == 3


def test_a_missing_event_is_a_gap_named_by_both_ends() -> None:
    events = logged(6)
    first = check_chain(None, events[:2], {})
    later = check_chain(first.head, events[3:], {})  # events[2] never arrives
    assert [(f.kind, f.event_id, f.after_id) for f in later.faults] == \
        [("gap", events[3].event.id, events[1].event.id)]
    assert len(later.new) == 3  # stored anyway: they are evidence


def test_an_event_altered_on_the_kiosk_shows_as_a_gap_after_it() -> None:
    events = logged(4)
    altered = [events[0], Linked(Event(**{**events[1].event.__dict__, "verdict": "deny"}), events[1].prev_hash),
               *events[2:]]
    checked = check_chain(None, altered, {})
    assert [(f.kind, f.event_id) for f in checked.faults] == [("gap", events[2].event.id)]


def test_events_sent_again_are_duplicates_and_other_contents_a_conflict() -> None:
    events = logged(3)
    first = check_chain(None, events, {})
    known = {linked.event.id: own for linked, own in first.new}
    again = check_chain(first.head, events, known)
    assert again.new == [] and again.duplicates == 3 and again.faults == [] and again.head == first.head
    changed = Linked(Event(**{**events[1].event.__dict__, "temperature": 39.0}), events[1].prev_hash)
    conflict = check_chain(first.head, [events[0], changed, events[2]], known)
    assert conflict.duplicates == 3 and [f.kind for f in conflict.faults] == ["conflict"]


def test_a_first_sync_after_a_local_purge_starts_mid_chain_without_a_fault() -> None:
    events = logged(5)
    checked = check_chain(None, events[2:], {})
    assert checked.faults == [] and len(checked.new) == 3


@pytest.mark.parametrize("change, code", [
    (lambda b, s, d: (b + b" ", s, d), "bad_signature"),  # a byte more
    (lambda b, s, d: (b.replace(b'"pass"', b'"deny"', 1), s, d), "bad_signature"),  # a verdict changed in transit
    (lambda b, s, d: (b, base64.b64encode(b"x" * 64).decode(), d), "bad_signature"),
    (lambda b, s, d: (b, "not base64!", d), "bad_signature"),
    (lambda b, s, d: (b, None, d), "bad_signature"),
    (lambda b, s, d: (b, s, "00" * 8), "unknown_device"),
    (lambda b, s, d: (b, s, None), "malformed"),
    (lambda b, s, d: (b, s, "xyz"), "malformed"),
    (lambda b, s, d: (b"x" * (16 * 1024 * 1024 + 1), s, d), "too_large"),
])
def test_refusals_name_their_reason(change: object, code: str) -> None:
    body, signature = signed(logged(2))
    with pytest.raises(BatchRefused) as refused:
        open_batch(*change(body, signature, DEVICE), keys, NOW)  # type: ignore[operator]
    assert refused.value.code == code and str(refused.value)
    assert refused.value.status == {"bad_signature": 401, "unknown_device": 403, "malformed": 400,
                                    "too_large": 413}[code]


def test_another_kiosks_key_cannot_sign_for_this_one() -> None:
    body, signature = signed(logged(2), key=SigningKey(bytes(32)))
    with pytest.raises(BatchRefused, match="not signed by device"):
        open_batch(body, signature, DEVICE, keys, NOW)


def test_a_batch_naming_another_device_inside_is_refused() -> None:
    other = SigningKey(bytes(32))
    body, signature = signed(logged(1), device=kid_of(bytes(other.verify_key)).hex())
    with pytest.raises(BatchRefused) as refused:
        open_batch(body, signature, DEVICE, lambda d: bytes(KEY.verify_key), NOW)
    assert refused.value.code in ("bad_signature", "malformed")


@pytest.mark.parametrize("skew, ok", [(0, True), (299, True), (-299, True), (301, False), (-301, False),
                                      (3600, False), (-86400, False)])
def test_the_signing_time_must_be_within_the_window(skew: float, ok: bool) -> None:
    body, signature = signed(logged(1), sent_at=NOW + skew)
    if ok:
        assert open_batch(body, signature, DEVICE, keys, NOW).sent_at == NOW + skew
    else:
        with pytest.raises(BatchRefused) as refused:
            open_batch(body, signature, DEVICE, keys, NOW)
        assert refused.value.code == "stale" and "resend" in str(refused.value)


def _body(**changes: object) -> bytes:
    data = json.loads(encode_batch(DEVICE, logged(2), NOW, "n" * 32))
    for key, value in changes.items():
        if key.startswith("event_"):
            data["events"][0][key.removeprefix("event_")] = value
        elif value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize("body", [
    b"", b"[]", b"{}", b"not json", b'{"protocol": "kiosk-sync/2"}', b"\xff\xfe",
    _body(protocol=...), _body(device="ABC"), _body(sent_at="now"), _body(sent_at=True), _body(nonce="short"),
    _body(events={}), _body(events=[1]), _body(events=[{}]),
    _body(event_id="not-a-ulid"), _body(event_at=5), _body(event_at="5"), _body(event_prev_hash="00"),
    _body(event_kind=None), _body(event_verdict=3), _body(event_code_iat=1.5), _body(event_code_iat=True),
    _body(event_temperature=37), _body(event_details=[]), _body(event_extra=1),
    b'{"protocol": "kiosk-sync/1", "sent_at": NaN}', b"[" * 100_000,
])
def test_malformed_batches_are_refused_never_crash(body: bytes) -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(body)
    assert refused.value.code == "malformed"


def test_events_out_of_order_or_repeated_are_malformed() -> None:
    events = logged(3)
    for wrong in ([events[1], events[0]], [events[0], events[0]]):
        with pytest.raises(BatchRefused, match="order"):
            parse_batch(encode_batch(DEVICE, wrong, NOW, "n" * 32))


def test_a_batch_of_the_most_events_allowed_fits_the_body_limit() -> None:
    events = logged(1, details={"name": "张" * 40, "phone": "138" * 4})
    body = encode_batch(DEVICE, events * MAX_EVENTS, NOW, "n" * 32)
    assert len(body) < 16 * 1024 * 1024


tricky = st.text(st.characters(codec="utf-8") | st.sampled_from("健康码\x00\x1b\u2028'\"\\"), max_size=12)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                           allow_infinity=False) | tricky,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky, inner, max_size=3),
                           max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.builds(
    Event, id=st.just(""), at=st.floats(0, 4e9) | st.integers(0, 4_000_000_000), kind=tricky, site=tricky,
    lane=tricky, device=tricky, verdict=st.none() | tricky, reason=st.none() | tricky,
    code_iat=st.none() | st.integers(-(2**63), 2**63 - 1), subject_ref=st.none() | tricky,
    temperature=st.none() | st.floats(-300, 300) | st.integers(-300, 300),
    details=st.dictionaries(tricky, json_values, max_size=4)), min_size=1, max_size=8))
def test_any_logged_events_cross_the_wire_and_chain_exactly(written: list[Event]) -> None:
    """Whatever the kiosk logs, the collector recomputes the very hashes the kiosk's chain holds."""
    log = AuditLog()
    for event in written:
        log.append(event)
    events = Outbox(log).batch(100)
    body, signature = signed(events)
    batch = open_batch(body, signature, DEVICE, keys, NOW)
    assert batch.events == events
    checked = check_chain(None, batch.events, {})
    assert checked.faults == [] and checked.head is not None
    head = log.db.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()[0]
    assert checked.head.hash == head


def test_an_ack_round_trips_and_garbage_is_not_an_ack() -> None:
    assert parse_ack({"stored": 2, "duplicates": 1, "through": "X", "time": NOW, "faults": [
        {"kind": "gap", "event_id": "A", "after_id": None, "message": "m"}]}).faults[0].kind == "gap"
    for bad in (None, [], {"stored": "2"}, {"stored": 1, "duplicates": 0, "through": 3, "time": NOW},
                {"stored": 1, "duplicates": 0, "through": None, "time": math.inf}):
        with pytest.raises(ValueError):
            parse_ack(bad)


def test_a_late_event_is_stored_and_flagged_and_the_head_stays_at_the_newest() -> None:
    events = logged(8)
    first = check_chain(None, [*events[:4], *events[6:]], {})  # 4 and 5 held back
    late = check_chain(first.head, events[4:6], {})
    assert [(f.kind, f.event_id) for f in late.faults] == [("late", events[4].event.id), ("late", events[5].event.id)]
    assert len(late.new) == 2 and late.head == first.head


@pytest.mark.parametrize("field, value", [
    ("site", "a\x00b"), ("iss", "\ud800"), ("code_iat", 2**63), ("code_iat", -(2**63) - 1),
    ("details", {"name": "\udfff"}),
])
def test_values_no_kiosk_logs_are_refused_before_they_reach_a_database(field: str, value: object) -> None:
    data = json.loads(encode_batch(DEVICE, logged(1), NOW, "n" * 32))
    data["events"][0][field] = value
    with pytest.raises(BatchRefused, match="event 0"):
        parse_batch(json.dumps(data).encode())


def test_the_kiosk_log_turns_nul_into_a_replacement_character_so_every_event_can_sync() -> None:
    log = AuditLog()
    stored = log.append(Event("", NOW, "manual", site="gate\x002", operator="vol\x00", details={"n": "\x00"}))
    assert stored.site == "gate\ufffd2" and stored.operator == "vol\ufffd" and stored.details == {"n": "\x00"}
    body, signature = signed(Outbox(log).batch(1))
    assert open_batch(body, signature, DEVICE, keys, NOW).events[0].event == stored
