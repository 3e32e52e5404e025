"""Every row of the reason table (spec section 5), its order, and the policy defaults."""

from __future__ import annotations

import cbor2
import pytest

from kiosk.healthcode import AMBER, GREEN, PRINTED, RED
from kiosk.policy import Policy
from kiosk.verdict import REASONS, Reading, decide
from tests.factories import (
    DROP,
    ISS,
    NOW,
    SUBJECT,
    World,
    claims_map,
    code,
    kid,
    raw_cose,
    text_of,
)

DEFAULT = Policy()
WITH_THERMOMETER = Policy(require_temperature=True)


def warm(celsius: float = 36.6, age: float = 0.5) -> Reading:
    return Reading(celsius, NOW - age)


def test_reason_table_matches_the_spec_order_and_verdicts() -> None:
    assert list(REASONS.items()) == [
        ("not_health_code", "deny"), ("malformed", "deny"), ("unknown_key", "deny"),
        ("bad_signature", "deny"), ("key_revoked", "deny"), ("key_expired", "deny"),
        ("wrong_key_usage", "deny"),  # HC1 (spec section 9)
        ("issuer_mismatch", "deny"), ("not_yet_valid", "deny"), ("expired", "deny"), ("too_old", "deny"),
        ("printed_not_accepted", "deny"), ("status_red", "deny"), ("status_amber", "deny"),
        ("vaccination_incomplete", "deny"), ("vaccination_too_recent", "deny"), ("vaccination_too_old", "deny"),
        ("test_positive", "deny"), ("test_too_old", "deny"), ("recovery_not_valid", "deny"),  # HC1's content rules
        ("temperature_missing", "retry"), ("temperature_implausible", "retry"), ("fever", "deny"), ("ok", "pass"),
        ("log_unavailable", "deny"),  # this project's own (spec section 8): decide() never gives it
    ]


def test_policy_defaults_are_the_spec_defaults() -> None:
    assert (DEFAULT.skew, DEFAULT.max_age, DEFAULT.accept_printed, DEFAULT.fever_threshold,
            DEFAULT.plausible_min, DEFAULT.plausible_max) == (120, 300, True, 37.3, 34.0, 43.0)


def tampered(text: str) -> str:
    from kiosk.base45 import b45decode, b45encode

    raw = bytearray(b45decode(text[5:]))
    raw[-70] ^= 0x40  # inside the payload, just before the signature
    return "PHC1:" + b45encode(bytes(raw))


# (id, text, policy, reading, expected reason). One row per reason, then edges.
CASES = [
    ("not_health_code", "https://example.com", DEFAULT, None, "not_health_code"),
    ("not_health_code: lower-case prefix", code().replace("PHC1:", "phc1:"), DEFAULT, None, "not_health_code"),
    ("not_health_code: empty", "", DEFAULT, None, "not_health_code"),
    ("not_health_code: hc1 in lower case", "hc1:6BFOXN", DEFAULT, None, "not_health_code"),  # HC1: is a format
    ("malformed: HC1 of the EU, not Base45 of zlib", "HC1:6BFOXN", DEFAULT, None, "malformed"),  # (issue 15)
    ("malformed: bad base45", "PHC1:abc", DEFAULT, None, "malformed"),
    ("malformed: nothing after prefix", "PHC1:", DEFAULT, None, "malformed"),
    ("malformed: alg ES256", text_of(raw_cose(claims_map(), protected=cbor2.dumps({1: -7, 4: kid("issuer")}))), DEFAULT,
     None, "malformed"),
    ("unknown_key", code("stranger"), DEFAULT, None, "unknown_key"),
    ("bad_signature", tampered(code()), DEFAULT, None, "bad_signature"),
    ("key_revoked", code("revoked"), DEFAULT, None, "key_revoked"),
    ("key_expired", code("retired"), DEFAULT, None, "key_expired"),
    ("issuer_mismatch", code(iss="CN-110000"), DEFAULT, None, "issuer_mismatch"),
    ("not_yet_valid", code(iat=NOW + 121), DEFAULT, None, "not_yet_valid"),
    ("not_yet_valid: edge of skew holds", code(iat=NOW + 120, kind=PRINTED), DEFAULT, None, "ok"),
    ("expired", code(exp=NOW - 121), DEFAULT, None, "expired"),
    ("expired: edge of skew holds", code(exp=NOW - 120), DEFAULT, None, "ok"),
    ("too_old", code(iat=NOW - 301), DEFAULT, None, "too_old"),
    ("too_old: exactly max_age holds", code(iat=NOW - 300), DEFAULT, None, "ok"),
    ("too_old: printed codes have no max age", code(iat=NOW - 30 * 86400, kind=PRINTED), DEFAULT, None, "ok"),
    ("printed_not_accepted", code(kind=PRINTED), Policy(accept_printed=False), None, "printed_not_accepted"),
    ("printed accepted by default", code(kind=PRINTED), DEFAULT, None, "ok"),
    ("status_red", code(status=RED), DEFAULT, None, "status_red"),
    ("status_amber", code(status=AMBER), DEFAULT, None, "status_amber"),
    ("temperature_missing", code(), WITH_THERMOMETER, None, "temperature_missing"),
    ("temperature_missing: stale reading", code(), WITH_THERMOMETER, warm(36.6, age=3.5), "temperature_missing"),
    ("no thermometer, no reading: pass", code(), DEFAULT, None, "ok"),
    ("temperature_implausible: low", code(), WITH_THERMOMETER, warm(33.9), "temperature_implausible"),
    ("temperature_implausible: high", code(), WITH_THERMOMETER, warm(43.1), "temperature_implausible"),
    ("temperature_implausible: NaN", code(), WITH_THERMOMETER, warm(float("nan")), "temperature_implausible"),
    ("plausible range is inclusive: 34.0", code(), WITH_THERMOMETER, warm(34.0), "ok"),
    ("plausible range is inclusive: 43.0", code(), WITH_THERMOMETER, warm(43.0), "fever"),
    ("fever at exactly 37.3", code(), WITH_THERMOMETER, warm(37.3), "fever"),
    ("no fever at 37.2", code(), WITH_THERMOMETER, warm(37.2), "ok"),
    ("fever even where not required", code(), DEFAULT, warm(38.5), "fever"),
    ("ok", code(), WITH_THERMOMETER, warm(36.6), "ok"),
    # The first failing check gives the reason.
    ("order: revoked and tampered -> bad_signature", tampered(code("revoked")), DEFAULT, None, "bad_signature"),
    ("order: retired key and wrong iss -> key_expired", code("retired", iss="X"), DEFAULT, None, "key_expired"),
    ("order: expired and red -> expired", code(exp=NOW - 1000, status=RED), DEFAULT, None, "expired"),
    ("order: too old and red -> too_old", code(iat=NOW - 1000, status=RED), DEFAULT, None, "too_old"),
    ("order: amber and fever -> status_amber", code(status=AMBER), WITH_THERMOMETER, warm(39.0), "status_amber"),
    ("order: not yet valid and expired -> not_yet_valid", code(iat=NOW + 1000, exp=NOW - 1000), DEFAULT, None,
     "not_yet_valid"),
    ("order: printed refused before red", code(kind=PRINTED, status=RED), Policy(accept_printed=False), None,
     "printed_not_accepted"),
    ("order: implausible before fever", code(), WITH_THERMOMETER, warm(44.0), "temperature_implausible"),
]


@pytest.mark.parametrize(("text", "policy", "reading", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reason(world: World, text: str, policy: Policy, reading: Reading | None, expected: str) -> None:
    verdict = decide(text, world.store(), policy, reading, NOW)
    assert verdict.reason == expected
    assert verdict.verdict == REASONS[expected]


# Malformed, one rule of the envelope or the claims broken at a time (spec sections 2 and 3).
MALFORMED = [
    ("untagged array is fine", raw_cose(claims_map(), tag=None), "ok"),
    ("wrong tag", raw_cose(claims_map(), tag=98), "malformed"),
    ("three items", cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b""])), "malformed"),
    ("trailing byte", raw_cose(claims_map()) + b"\x00", "malformed"),
    ("kid of 7 bytes", raw_cose(claims_map(), protected=cbor2.dumps({1: -8, 4: kid("issuer")[:7]})),
     "malformed"),
    ("kid only unprotected", raw_cose(claims_map(), protected=cbor2.dumps({1: -8}),
                                      unprotected={4: kid("issuer")}), "malformed"),
    ("unknown protected label ignored", raw_cose(claims_map(), protected=cbor2.dumps(
        {1: -8, 4: kid("issuer"), 99: "x"})), "ok"),
    ("unprotected not a map", raw_cose(claims_map(), unprotected=[]), "malformed"),
    ("signature of 63 bytes", raw_cose(claims_map(), signature=b"\x00" * 63), "malformed"),
    ("payload not a map", raw_cose([1, 2]), "malformed"),
    ("iss missing", raw_cose(claims_map(c1=DROP)), "malformed"),
    ("iss not text", raw_cose(claims_map(c1=b"CN")), "malformed"),
    ("exp a float", raw_cose(claims_map(c4=float(NOW + 10))), "malformed"),
    ("exp a bool", raw_cose(claims_map(c4=True)), "malformed"),
    ("iat missing", raw_cose(claims_map(c6=DROP)), "malformed"),
    ("cti of 7 bytes", raw_cose(claims_map(c7=b"\x00" * 7)), "malformed"),
    ("cti of 16 bytes", raw_cose(claims_map(c7=b"\x00" * 16)), "ok"),
    ("cti of 17 bytes", raw_cose(claims_map(c7=b"\x00" * 17)), "malformed"),
    ("cti text", raw_cose(claims_map(c7="abcdefgh")), "malformed"),
    ("phc missing", raw_cose(claims_map(cm65537=DROP)), "malformed"),
    ("status 3", raw_cose(claims_map(phc_1=3)), "malformed"),
    ("status -1", raw_cose(claims_map(phc_1=-1)), "malformed"),
    ("subject of 15 bytes", raw_cose(claims_map(phc_2=SUBJECT[:15])), "malformed"),
    ("kind 2", raw_cose(claims_map(phc_3=2)), "malformed"),
    ("kind missing", raw_cose(claims_map(phc_3=DROP)), "malformed"),
    ("name not text", raw_cose(claims_map(phc_4=7)), "malformed"),
    ("name absent is fine", raw_cose(claims_map(phc_4=DROP)), "ok"),
    ("unknown claims ignored", raw_cose({**claims_map(), 99: "x"}), "ok"),
]


@pytest.mark.parametrize(("cose_bytes", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_envelope_and_claims(world: World, cose_bytes: bytes, expected: str) -> None:
    assert decide(text_of(cose_bytes), world.store(), DEFAULT, None, NOW).reason == expected


def test_malformed_wins_over_unknown_key(world: World) -> None:
    text = text_of(raw_cose(claims_map(phc_1=7), signer="stranger"))
    assert decide(text, world.store(), DEFAULT, None, NOW).reason == "malformed"


@pytest.mark.parametrize(("since", "expected"), [(NOW - 59, "status_red"), (NOW - 60, "ok"), (NOW - 61, "ok")])
def test_status_list_replaces_status_only_when_newer_than_iat(since: int, expected: str) -> None:
    store = World(status_entries=[(SUBJECT, RED, since)]).store()
    verdict = decide(code(iat=NOW - 60), store, DEFAULT, None, NOW)
    assert verdict.reason == expected
    assert verdict.as_dict()["status"] == ("red" if expected == "status_red" else "green")


def test_status_list_can_clear_a_red_code() -> None:
    store = World(status_entries=[(SUBJECT, GREEN, NOW - 10)]).store()
    assert decide(code(status=RED, iat=NOW - 60), store, DEFAULT, None, NOW).reason == "ok"


def test_status_list_newest_entry_for_a_subject_wins() -> None:
    entries = [(SUBJECT, GREEN, NOW - 5), (SUBJECT, RED, NOW - 10)]
    store = World(status_entries=entries).store()
    assert decide(code(status=AMBER, iat=NOW - 60), store, DEFAULT, None, NOW).reason == "ok"


def test_status_list_of_another_issuer_does_not_apply() -> None:
    world = World(status_entries=[(SUBJECT, RED, NOW - 10)], status_signer="beijing", status_iss="CN-110000")
    assert decide(code(iat=NOW - 60), world.store(), DEFAULT, None, NOW).reason == "ok"


def test_json_of_a_verified_code() -> None:
    verdict = decide(code(), World().store(), DEFAULT, warm(36.6), NOW)
    assert verdict.as_dict() == {
        "verdict": "pass", "reason": "ok", "status": "green", "kid": kid("issuer").hex(), "iss": ISS,
        "subject": SUBJECT.hex(), "iat": NOW - 60, "exp": NOW + 86400, "kind": "dynamic", "name": "张*明",
        "temperature": 36.6, "warnings": [],
    }


@pytest.mark.parametrize("text", ["nope", code("stranger"), tampered(code())])
def test_unverified_claims_are_not_reported(world: World, text: str) -> None:
    shown = decide(text, world.store(), DEFAULT, None, NOW).as_dict()
    assert shown["status"] is None and shown["iss"] is None and shown["subject"] is None and shown["kind"] is None


def test_custom_policy_values(world: World) -> None:
    policy = Policy(skew=0, max_age=30, fever_threshold=37.0, plausible_min=35.0)
    assert decide(code(iat=NOW - 31), world.store(), policy, None, NOW).reason == "too_old"
    assert decide(code(iat=NOW + 1, kind=PRINTED), world.store(), policy, None, NOW).reason == "not_yet_valid"
    assert decide(code(iat=NOW - 10), world.store(), policy, warm(37.0), NOW).reason == "fever"
    assert decide(code(iat=NOW - 10), world.store(), policy, warm(34.5), NOW).reason == "temperature_implausible"
