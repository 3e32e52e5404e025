"""Property tests: no input makes the verifier raise or pass what it should not."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import cose
from kiosk.base45 import b45decode, b45encode
from kiosk.errors import TrustFileError
from kiosk.healthcode import DYNAMIC, PRINTED, decode_text
from kiosk.issuer import issue_code
from kiosk.policy import Policy
from kiosk.status_list import StatusList, build_index
from kiosk.trust import parse_bundle, parse_status
from kiosk.verdict import decide
from tests.factories import ISS, NOW, World, code, key, kid, pub

STORE = World(status_entries=[]).store()
POLICY = Policy()
fast = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(st.text())
def test_any_text_is_denied_as_not_a_code_or_malformed(text: str) -> None:
    verdict = decide(text, STORE, POLICY, None, NOW)
    expected = "malformed" if text.startswith("PHC1:") else "not_health_code"
    assert (verdict.verdict, verdict.reason) == ("deny", expected)


@fast
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"))
def test_any_base45_text_after_the_prefix_is_malformed(body: str) -> None:
    assert decide("PHC1:" + body, STORE, POLICY, None, NOW).reason == "malformed"


@fast
@given(st.binary(max_size=400))
def test_any_bytes_as_cose_are_malformed(raw: bytes) -> None:
    assert decide("PHC1:" + b45encode(raw), STORE, POLICY, None, NOW).reason == "malformed"


@fast
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.binary(max_size=20) | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.integers(-70000, 10), inner,
                                                                                  max_size=5), max_leaves=20))
def test_any_cbor_as_payload_never_raises(payload: object) -> None:
    signed = cose.sign(cbor2.dumps(payload), key("issuer"))
    verdict = decide("PHC1:" + b45encode(signed), STORE, POLICY, None, NOW)
    assert verdict.reason == "malformed"


@pytest.mark.parametrize("kind", [DYNAMIC, PRINTED])
def test_every_single_bit_flip_of_a_valid_code_is_denied(kind: int) -> None:
    text = code(kind=kind)
    assert decide(text, STORE, POLICY, None, NOW).reason == "ok"
    raw = b45decode(text[5:])
    seen = set()
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        verdict = decide("PHC1:" + b45encode(bytes(flipped)), STORE, POLICY, None, NOW)
        assert verdict.verdict == "deny", f"bit {bit} flipped still gives {verdict.reason}"
        seen.add(verdict.reason)
    assert {"malformed", "bad_signature", "unknown_key"} <= seen


@fast
@given(
    status=st.integers(0, 2), kind=st.integers(0, 1), age=st.integers(0, 300),
    life=st.integers(0, 10**8), subject=st.binary(min_size=16, max_size=16),
    cti=st.binary(min_size=8, max_size=16), name=st.none() | st.text(max_size=12),
)
def test_issue_then_verify_round_trips(status: int, kind: int, age: int, life: int, subject: bytes, cti: bytes,
                                      name: str | None) -> None:
    text, claims = issue_code(key("issuer"), iss=ISS, status=status, kind=kind, iat=NOW - age, exp=NOW + life,
                              subject=subject, cti=cti, name=name)
    assert decode_text(text).code == claims
    verdict = decide(text, STORE, POLICY, None, NOW)
    assert verdict.reason == ("ok", "status_amber", "status_red")[status]
    assert verdict.code == claims


@given(st.binary(max_size=300))
def test_base45_round_trips(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


@pytest.mark.parametrize(("raw", "text"), [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
                                           (b"ietf!", "QED8WEX0"), (b"", "")])
def test_base45_rfc9285_examples(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text and b45decode(text) == raw


@pytest.mark.parametrize("bad", ["GGW", "A", "ZZZZ", "abc", "ÄB8", "BB8\n", ":::"])
def test_base45_rejects_what_rfc9285_forbids(bad: str) -> None:
    with pytest.raises(ValueError):
        b45decode(bad)


entries = st.lists(
    st.tuples(st.sampled_from([bytes([i]) * 16 for i in range(6)]) | st.binary(min_size=16, max_size=16),
              st.integers(0, 2),
              st.sampled_from([0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, NOW]) | st.integers(0, 2**40)),
    max_size=30,
)


@fast
@given(entries, st.booleans())
def test_status_list_fast_path_agrees_with_the_general_path(rows: list[tuple[bytes, int, int]], same_width: bool,
                                                            ) -> None:
    if same_width:
        rows = [(s, status, 2**31 + since % 2**31) for s, status, since in rows]  # one width: the fast path
    payload = cbor2.dumps({"type": "status", "seq": 1, "iat": NOW, "iss": ISS, "entries": [list(r) for r in rows]})
    assert StatusList.from_payload(payload).index == build_index(rows)


def test_status_list_general_path_takes_negative_since_and_other_key_orders() -> None:
    rows = [[bytes(16), 2, -5], [b"\x01" * 16, 1, 7]]
    payload = cbor2.dumps({"entries": rows, "iss": ISS, "iat": NOW, "seq": 3, "type": "status"})
    status = StatusList.from_payload(payload)
    assert (status.seq, status.lookup(bytes(16)), status.lookup(b"\x01" * 16)) == (3, (2, -5), (1, 7))


@fast
@given(st.binary(max_size=600))
def test_any_bytes_as_trust_files_raise_only_trust_file_errors(raw: bytes) -> None:
    bundle = World().store().bundle
    for parse in (lambda: parse_bundle(raw, {kid("root"): pub("root")}), lambda: parse_status(raw, bundle)):
        with pytest.raises(TrustFileError):
            parse()


@fast
@given(st.integers(0, 400 * 8 - 1))
def test_a_flipped_bit_in_a_trust_bundle_is_refused(bit: int) -> None:
    raw = bytearray(World().bundle_bytes())
    bit %= len(raw) * 8
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(TrustFileError):
        parse_bundle(bytes(raw), {kid("root"): pub("root")})
