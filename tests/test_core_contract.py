"""The verifier core's contract at its edges: the encodings (RFC 9285, RFC 8949, RFC 9052), the one-line
messages, what every verdict carries, the freshness window and the policy's own checks.

Expected values come from the RFCs, the spec (docs/health-code.md) or this file, never from the module
under test: the Sig_structure is compared with cbor2's encoding of it (another implementation), CBOR heads
and Base45 pairs are written out by hand.
"""

from __future__ import annotations

import logging

import cbor2
import pytest

from kiosk import cose
from kiosk.base45 import b45decode
from kiosk.cbor import bounded, is_int, is_uint, loads_one
from kiosk.errors import ConfigError, MalformedCode
from kiosk.healthcode import decode_text
from kiosk.policy import Policy
from kiosk.trust import TrustStore
from kiosk.verdict import Reading, Verdict, decide, is_fresh
from tests.factories import DROP, NOW, World, claims_map, code, kid, raw_cose, text_of

# -- Base45 (RFC 9285) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("AB€", "a character outside the Base45 alphabet"), ("ab", "a character outside the Base45 alphabet"),
    ("ABCD", "a Base45 length of 3n+1 characters"), ("GGW", "a Base45 group above 65535"),
    ("V5", "a Base45 final pair above 255"),  # 31 + 5 * 45 = 256
    (":::", "a Base45 group above 65535"),
])
def test_base45_faults_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        b45decode(text)
    assert str(caught.value) == message


def test_base45_largest_pair_and_group_decode() -> None:
    assert b45decode("U5") == b"\xff"  # 30 + 5 * 45 = 255
    assert b45decode("FGW") == b"\xff\xff"  # 15 + 16 * 45 + 32 * 2025 = 65535


# -- strict CBOR -------------------------------------------------------------------------------------------------


def test_cbor_faults_are_named() -> None:
    with pytest.raises(ValueError, match=r"^not a byte string$"):
        loads_one("\x00")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^2 bytes after the CBOR item$"):
        loads_one(b"\x00\x00\x00")
    with pytest.raises(Exception) as by_cbor2:
        cbor2.loads(b"\x1c")
    with pytest.raises(ValueError) as caught:
        loads_one(b"\x1c")
    assert str(caught.value) == f"bad CBOR: {by_cbor2.value}"


@pytest.mark.parametrize("data", [b"\xa2\x01\x01\x01\x02", b"\xa2\x61a\x01\x61a\x02", b"\x81\xa2\x00\x00\x00\x00"],
                         ids=["integer key", "text key", "inside an array"])
def test_a_map_with_a_key_twice_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"^bad CBOR: .*[Dd]uplicate"):
        loads_one(data)


def test_a_code_whose_claims_repeat_a_label_is_malformed() -> None:
    body = cbor2.dumps(claims_map())
    repeated = bytes([body[0] + 1]) + body[1:] + b"\x06" + cbor2.dumps(NOW - 30)  # iat (6) a second time
    assert decide(text_of(raw_cose(repeated)), World().store(), Policy(), None, NOW).reason == "malformed"


@pytest.mark.parametrize(("data", "tag", "value"), [
    (b"\xc2\x49\x01" + bytes(8), 2, b"\x01" + bytes(8)), (b"\xc1\x1a" + NOW.to_bytes(4, "big"), 1, NOW),
    (b"\xd9\xd9\xf7\x01", 55799, 1)], ids=["bignum", "epoch date", "self-describe"])
def test_a_tagged_item_stays_a_tag_with_its_number_and_content(data: bytes, tag: int, value: object) -> None:
    assert loads_one(data) == cbor2.CBORTag(tag, value)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_a_message_is_cut_at_160_characters() -> None:
    assert bounded(ValueError("x" * 160)) == "x" * 160
    assert bounded(ValueError("y" * 161)) == "y" * 160 + "…"
    assert bounded(Unprintable()) == "Unprintable"


def test_the_64_bit_bounds() -> None:
    assert [is_int(n) for n in (-(2**63) - 1, -(2**63), 2**63 - 1, 2**63, True)] == [False, True, True, False, False]
    assert [is_uint(n) for n in (-1, 0, 2**63 - 1, 2**63, False)] == [False, True, True, False, False]


# -- COSE_Sign1 (RFC 9052) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 23, 24, 255, 256, 65535, 65536, 2**24])
def test_the_sig_structure_is_the_cbor_rfc_9052_names(size: int) -> None:
    payload = bytes([size % 251]) * size
    for protected in (cbor2.dumps({1: -8, 4: kid("issuer")}), b"", b"\xa0" * 24, b"\xa0" * 300):
        assert cose.to_be_signed(protected, payload) == cbor2.dumps(["Signature1", protected, b"", payload])


@pytest.mark.parametrize(("length", "head"), [
    (0, "40"), (23, "57"), (24, "5818"), (255, "58ff"), (256, "590100"), (65535, "59ffff"), (65536, "5a00010000"),
    (2**32 - 1, "5affffffff"), (2**32, "5b0000000100000000"), (2**64 - 1, "5bffffffffffffffff")])
def test_a_byte_string_head_is_the_shortest_rfc_8949_head(length: int, head: str) -> None:
    assert cose._bstr_head(length).hex() == head


def test_no_byte_string_head_past_64_bits() -> None:
    with pytest.raises(ValueError, match=r"^byte string too long for CBOR$"):
        cose._bstr_head(2**64)


SIG = bytes(64)
ENVELOPES = [
    (b"\x00\x00", "1 bytes after the CBOR item"),
    (cbor2.dumps(cbor2.CBORTag(98, [])), "a CBOR tag other than 18 (COSE_Sign1)"),  # spec 8: no untrusted value
    (cbor2.dumps([b"", {}, b""]), "not a COSE_Sign1 array of four items"),
    (cbor2.dumps({1: 2}), "not a COSE_Sign1 array of four items"),
    (cbor2.dumps(["", {}, b"", SIG]), "protected header is not a byte string"),
    (cbor2.dumps([b"", [], b"", SIG]), "unprotected header is not a map"),
    (cbor2.dumps([b"", {}, "", SIG]), "payload is not a byte string"),
    (cbor2.dumps([b"", {}, b"", SIG[:63]]), "signature is not 64 bytes"),
]


@pytest.mark.parametrize(("data", "message"), ENVELOPES, ids=[m for _, m in ENVELOPES])
def test_each_envelope_rule_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(MalformedCode) as caught:
        cose.decode_sign1(data)
    assert str(caught.value) == message


# -- the claims (spec section 3): each rule names its field, never its value --------------------------------------

CLAIMS = [
    (dict(c1=DROP), "iss (1) is missing or not text"), (dict(c4="x"), "exp (4) is missing or not an integer"),
    (dict(c6=1.5), "iat (6) is missing or not an integer"),
    (dict(c7=b"1234567"), "cti (7) is missing or not 8 to 16 bytes"),
    (dict(cm65537=[]), "phc (-65537) is missing or not a map"),
    (dict(phc_1=3), "phc status (1) is missing or not 0, 1 or 2"),
    (dict(phc_2=b"s" * 17), "phc subject (2) is missing or not 16 bytes"),
    (dict(phc_3=2), "phc kind (3) is missing or not 0 or 1"), (dict(phc_4=b"name"), "phc name (4) is not text"),
]


@pytest.mark.parametrize(("fields", "message"), CLAIMS, ids=[m for _, m in CLAIMS])
def test_each_claim_rule_is_one_line(fields: dict[str, object], message: str) -> None:
    with pytest.raises(MalformedCode) as caught:
        decode_text(text_of(raw_cose(claims_map(**fields))))
    assert str(caught.value) == message


def test_the_layers_of_a_code_name_themselves() -> None:
    for payload, message in ((b"\x00\x00", "payload: 1 bytes after the CBOR item"), ([1], "payload is not a map")):
        with pytest.raises(MalformedCode) as caught:
            decode_text(text_of(raw_cose(payload)))
        assert str(caught.value) == message
    with pytest.raises(MalformedCode, match=r"^Base45: a Base45 length of 3n\+1 characters$"):
        decode_text("PHC1:ABCD")


# -- what each verdict carries (spec section 6: kid is shown once read, temperature and warnings always) ----------

WARNED = TrustStore(World().store().bundle, None, ("status.cose: ignored, it does not verify",))
WARM = Reading(36.6, NOW - 1)


@pytest.mark.parametrize(("text", "reason", "shown_kid"), [
    ("https://example.com", "not_health_code", None), ("PHC1:%%", "malformed", None),
    (code("stranger"), "unknown_key", kid("stranger")),
    (text_of(raw_cose(claims_map(), signature=bytes(64))), "bad_signature", kid("issuer")),
    (code(), "ok", kid("issuer")), (code("revoked"), "key_revoked", kid("revoked"))],
    ids=["not_health_code", "malformed", "unknown_key", "bad_signature", "ok", "key_revoked"])
def test_every_verdict_keeps_the_reading_the_warnings_and_a_read_kid(text: str, reason: str,
                                                                     shown_kid: bytes | None) -> None:
    verdict = decide(text, WARNED, Policy(), WARM, NOW)
    assert (verdict.reason, verdict.kid) == (reason, shown_kid)
    assert (verdict.reading, verdict.warnings) == (WARM, WARNED.warnings)


def test_a_bug_in_the_checks_still_gives_a_malformed_verdict_with_its_reading_and_warnings(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import kiosk.verdict as verdict_module

    def broken(*args: object) -> Verdict:
        raise RuntimeError("a bug")

    monkeypatch.setattr(verdict_module, "decide_strict", broken)
    with caplog.at_level(logging.ERROR, logger="kiosk.verdict"):
        verdict = decide(code(), WARNED, Policy(), WARM, NOW)
    assert verdict == Verdict("malformed", reading=WARM, warnings=WARNED.warnings)
    assert [r.getMessage() for r in caplog.records] == ["decide() failed on a scanned text; denied as malformed"]
    assert caplog.records[0].exc_info is not None


# -- a reading is fresh from `reading_window` seconds before now to one second after, both ends included -----------


@pytest.mark.parametrize(("taken_at", "fresh"), [
    (NOW - 3.0, True), (NOW - 3.01, False), (NOW + 1.0, True), (NOW + 1.01, False), (NOW + 1.5, False), (NOW, True)])
def test_the_reading_window_edges(taken_at: float, fresh: bool) -> None:
    policy = Policy(reading_window=3.0, require_temperature=True)
    assert is_fresh(Reading(36.6, taken_at), policy, NOW) is fresh
    reason = decide(code(), World().store(), policy, Reading(36.6, taken_at), NOW).reason
    assert reason == ("ok" if fresh else "temperature_missing")


# -- the policy checks its own values (one line naming the [policy] setting) ---------------------------------------

SECONDS, CELSIUS = "a number of seconds, 0 or more", "a temperature in Celsius, e.g. 37.3"
BAD_POLICIES = [
    (dict(skew=-1), f"[policy] skew = -1: expected {SECONDS}"),
    (dict(max_age=float("inf")), f"[policy] max_age = Infinity: expected {SECONDS}"),
    (dict(reading_window="3"), f'[policy] reading_window = "3": expected {SECONDS}'),
    (dict(skew=True), f"[policy] skew = true: expected {SECONDS}"),
    (dict(fever_threshold=float("nan")), f"[policy] fever_threshold = NaN: expected {CELSIUS}"),
    (dict(plausible_max="43"), f'[policy] plausible_max = "43": expected {CELSIUS}'),
    (dict(plausible_min=True), f"[policy] plausible_min = true: expected {CELSIUS}"),
    (dict(plausible_min=40.0, plausible_max=35.0),
     "[policy] plausible_min = 40.0: expected a temperature at most plausible_max (35.0)"),
    (dict(accept_printed=1), "[policy] accept_printed = 1: expected true or false"),
    (dict(require_temperature="yes"), '[policy] require_temperature = "yes": expected true or false'),
]


@pytest.mark.parametrize(("values", "message"), BAD_POLICIES, ids=[m for _, m in BAD_POLICIES])
def test_a_bad_policy_value_is_one_line(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Policy(**values)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_policy_edges_that_hold() -> None:
    assert Policy(skew=0, max_age=0, reading_window=0, plausible_min=36.0, plausible_max=36.0).plausible_max == 36.0


def test_policy_values_from_a_table() -> None:
    assert Policy().with_values({}) == Policy()
    assert Policy().with_values({"skew": 30, "accept_printed": False}) == Policy(skew=30, accept_printed=False)
    with pytest.raises(ConfigError) as caught:
        Policy().with_values({"skw": 30, "colour": "red", 7: 1})  # type: ignore[dict-item]
    assert str(caught.value) == ("[policy] unknown setting(s): 7, colour, skw; expected one of: skew, max_age, "
                                 "accept_printed, require_temperature, fever_threshold, plausible_min, "
                                 "plausible_max, reading_window")
