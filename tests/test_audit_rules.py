"""The audit log's rules with expected values worked out here, never read back from the module under test:
ids encode the event's time (ULID), the subject reference is the documented HMAC, a file replaced under an open
log is refused, and a log readable by others is made owner-only again when opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.audit.events import Event, new_id, subject_reference
from kiosk.audit.store import AuditLog
from kiosk.errors import LogWriteError

T0 = 1_700_000_000.0
MAX_MILLIS = 2**48 - 1  # a ULID's time is 48 bits of milliseconds

# ULID (github.com/ulid/spec): 26 characters of Crockford's base32 (no I, L, O, U), most significant first;
# the first 10 hold the 48-bit milliseconds since the epoch (after 2 zero bits), the last 16 the 80 random bits.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def decoded(text: str) -> int:
    number = 0
    for char in text:
        number = number * 32 + CROCKFORD.index(char)
    return number


def millis_of(ulid: str) -> int:
    assert len(ulid) == 26 and set(ulid) <= set(CROCKFORD), ulid
    return decoded(ulid[:10])


# --- Ids encode the time --------------------------------------------------------------------------------------

def test_the_decoder_here_reads_the_ulid_specs_example() -> None:
    # The spec's example: ulid(1469918176385) starts 01ARYZ6S41; checks the decoder, not the module.
    assert millis_of("01ARYZ6S41TSV4RRFFQ69G5FAV") == 1469918176385


@pytest.mark.parametrize(("at", "millis"), [
    (0.0, 0), (0.001, 1), (1.5, 1500), (T0, 1_700_000_000_000), (T0 + 0.25, 1_700_000_000_250),
    (1469918176.385, 1469918176385), (MAX_MILLIS / 1000, MAX_MILLIS)])
def test_an_id_encodes_its_events_time_in_milliseconds(at: float, millis: int) -> None:
    # Values exact in binary or checked against floor by hand: the id holds the millisecond the event happened.
    for randomness in (bytes(10), b"\xff" * 10, os.urandom(10)):
        assert millis_of(new_id(at, randomness)) == millis


def test_an_id_is_its_milliseconds_then_its_randomness() -> None:
    assert new_id(0.0, bytes(10)) == "0" * 26
    assert new_id(0.0, b"\xff" * 10) == "0" * 10 + "Z" * 16
    assert new_id(1469918176.385, bytes(10)) == "01ARYZ6S41" + "0" * 16
    randomness = bytes(range(1, 11))
    assert decoded(new_id(T0, randomness)[10:]) == int.from_bytes(randomness, "big")
    assert decoded(new_id(T0, randomness)) == 1_700_000_000_000 << 80 | int.from_bytes(randomness, "big")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, MAX_MILLIS), min_size=2, max_size=20, unique=True))
def test_ids_for_given_times_decode_to_those_times_and_sort_by_time(millis: list[int]) -> None:
    times = [m / 1000 for m in millis]
    ids = [new_id(at) for at in times]
    assert [millis_of(i) for i in ids] == [math.floor(at * 1000) for at in times]
    assert [millis_of(i) for i in sorted(ids)] == sorted(millis_of(i) for i in ids)
    assert sorted(ids) == [i for _, i in sorted(zip(times, ids))]


def test_an_id_without_a_time_is_the_clocks_millisecond() -> None:
    import time

    before = math.floor(time.time() * 1000)
    made = new_id()
    after = math.floor(time.time() * 1000)
    assert before <= millis_of(made) <= after


def test_the_log_gives_each_event_an_id_holding_its_time(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db")
    try:
        times = [T0, T0 + 0.5, T0 + 60, T0 + 86_400.25]
        stored = [log.append(Event("", at, "scan")) for at in times]
        assert [millis_of(e.id) for e in stored] == [1_700_000_000_000, 1_700_000_000_500, 1_700_000_060_000,
                                                     1_700_086_400_250]
        assert [e.id for e in stored] == sorted(e.id for e in stored)
        # Two events in one millisecond: the second id still rises, and still holds that millisecond.
        same = [log.append(Event("", T0 + 100_000, "scan")) for _ in range(3)]
        assert [millis_of(e.id) for e in same] == [1_700_100_000_000] * 3
        assert [e.id for e in same] == sorted({e.id for e in same})
    finally:
        log.close()


# --- The subject reference ------------------------------------------------------------------------------------

SECRET = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
SUBJECT = b"110101199003077777"
# HMAC-SHA256(SECRET, SUBJECT), its first 16 bytes in hex: worked out once with `openssl dgst -sha256 -mac HMAC
# -macopt hexkey:000102...1f` and checked against the standard library below.
PINNED = "f2ea70245806afc82558bfc1ec3b8afc"


def test_the_subject_reference_is_the_first_16_bytes_of_hmac_sha256_in_hex() -> None:
    expected = hmac.new(SECRET, SUBJECT, hashlib.sha256).digest()[:16].hex()
    assert subject_reference(SUBJECT, SECRET) == expected
    assert len(expected) == 32


def test_the_subject_reference_of_a_fixed_subject_and_key_is_pinned() -> None:
    assert hmac.new(SECRET, SUBJECT, hashlib.sha256).digest()[:16].hex() == PINNED  # the literal is right
    assert subject_reference(SUBJECT, SECRET) == PINNED


def test_without_a_secret_the_reference_is_the_raw_id_in_hex() -> None:
    assert subject_reference(SUBJECT, None) == "313130313031313939303033303737373737"
    assert subject_reference(b"", None) == ""


def test_another_key_or_subject_gives_another_reference() -> None:
    assert subject_reference(SUBJECT, SECRET) != subject_reference(SUBJECT, SECRET[::-1])
    assert subject_reference(SUBJECT, SECRET) != subject_reference(SUBJECT + b"8", SECRET)


# --- The file under an open log -------------------------------------------------------------------------------

def test_a_file_replaced_under_an_open_log_is_refused_and_left_alone(tmp_path: Path) -> None:
    # Writing on would chain events into a file that is not the log the head belongs to: the log refuses,
    # says the file was replaced and to reopen, and writes nothing into the replacement.
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    try:
        written = [log.append(Event("", T0 + i, "scan")) for i in range(3)]
        other = AuditLog(tmp_path / "other.db")
        other.append(Event("", T0 + 50, "admin"))
        other.close()
        os.replace(tmp_path / "other.db", path)
        replacement = path.read_bytes()
        with pytest.raises(LogWriteError, match="replaced while open") as raised:
            log.append(Event("", T0 + 10, "scan"))
        assert str(path) in str(raised.value)
        with pytest.raises(LogWriteError, match="replaced while open"):
            log.purge(T0 + 2, at=T0 + 11)
        assert path.read_bytes() == replacement
        assert list(log.events()) == written  # what the open log held is still there to read
    finally:
        log.close()


@pytest.mark.parametrize("loose", [0o644, 0o666, 0o640, 0o604, 0o660, 0o601, 0o610, 0o777])
def test_a_log_readable_or_writable_by_others_is_made_0600_on_open(tmp_path: Path, loose: int) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    written = [log.append(Event("", T0 + i, "scan")) for i in range(2)]
    log.close()
    path.chmod(loose)
    log = AuditLog(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for name in ("audit.db-wal", "audit.db-shm"):  # SQLite makes these with the log's mode
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        assert list(log.events()) == written
    finally:
        log.close()


@pytest.mark.parametrize("tight", [0o600, 0o400])
def test_a_log_no_one_else_can_read_keeps_its_mode(tmp_path: Path, tight: int) -> None:
    # Only the others' bits are taken away: an owner-only file is not "fixed" (a 0400 log is not made writable).
    path = tmp_path / "audit.db"
    AuditLog(path).close()
    path.chmod(tight)
    # What this test holds is the mode; whether a 0400 log opens (as root) or is refused (read-only, see
    # test_audit_durability.py) is another rule's.
    with contextlib.suppress(LogWriteError):
        AuditLog(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == tight
