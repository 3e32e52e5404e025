"""Property: arbitrary CBOR in any position of a signed code gives a verdict that prints, and passes only
where the spec says that value is acceptable (docs/health-code.md sections 2, 3 and 7).

Every code is signed by a trusted key, so the checks after the signature run too.
Which values are acceptable is decided by the test's own reader (tests/cbor_raw.read_simple)
from the spec's type rules, never by the module under test.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.policy import Policy
from kiosk.verdict import Verdict, decide_strict
from tests.cbor_raw import array, bstr, cmap, integer, items, nint, read_simple, tag, tstr, uint
from tests.factories import ISS, NOW, SUBJECT, World, key, kid, text_of
from tests.test_hostile_codes import claims, phc_map, protected

STORE = World().store()
POLICY = Policy()
INT64 = range(-(2**63), 2**63)
many = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])


def judge(text: str) -> Verdict:
    verdict = decide_strict(text, STORE, POLICY, None, NOW)
    json.dumps(verdict.as_dict(), ensure_ascii=False, allow_nan=False)  # printing never fails
    return verdict


def envelope(parts: list[bytes], tagged: bool = True) -> str:
    body = array(*parts)
    return text_of(tag(18, body) if tagged else body)


def signed_parts(payload: bytes, header: bytes | None = None) -> list[bytes]:
    from kiosk.cose import to_be_signed

    header = header if header is not None else protected()
    signature = key("issuer").sign(to_be_signed(header, payload)).signature
    return [bstr(header), cmap(), bstr(payload), bstr(signature)]


def is_int(value: tuple[str, object] | None, accept: Callable[[int], bool] = lambda n: True) -> bool:
    return value is not None and value[0] == "int" and value[1] in INT64 and accept(value[1])  # type: ignore[operator]


# What the spec accepts in each field of a code that is otherwise valid and fresh at NOW.
HEADER_VALUE = {1: lambda v: is_int(v, lambda n: n == -8), 4: lambda v: v == ("bytes", kid("issuer"))}
CLAIM_VALUE = {
    1: lambda v: v == ("text", ISS),
    4: lambda v: is_int(v, lambda n: n >= NOW - POLICY.skew),
    6: lambda v: is_int(v, lambda n: NOW - POLICY.max_age <= n <= NOW + POLICY.skew),
    7: lambda v: v is not None and v[0] == "bytes" and 8 <= len(v[1]) <= 16,  # type: ignore[arg-type]
}
PHC_VALUE = {1: lambda v: is_int(v, lambda n: n == 0), 2: lambda v: v == ("bytes", SUBJECT),
             3: lambda v: is_int(v, lambda n: n in (0, 1)), 4: lambda v: v is not None and v[0] == "text"}


@many
@given(st.integers(0, 3), items, st.booleans())
def test_any_item_in_any_place_of_the_envelope(position: int, item: bytes, tagged: bool) -> None:
    parts = signed_parts(claims())
    parts[position] = item
    verdict = judge(envelope(parts, tagged))
    # Only the unprotected header may hold anything that is a map (it is ignored).
    if verdict.verdict == "pass":
        assert position == 1 and item[0] >> 5 == 5


@many
@given(items)
def test_any_item_as_the_whole_code(item: bytes) -> None:
    assert judge(text_of(item)).verdict == "deny"


@many
@given(st.sampled_from([1, 4]), items)
def test_any_item_as_a_protected_header_value(label: int, item: bytes) -> None:
    pairs = {1: nint(-8), 4: bstr(kid("issuer"))}
    pairs[label] = item
    header = cmap(*((uint(k), v) for k, v in pairs.items()))
    verdict = judge(envelope(signed_parts(claims(), header)))
    assert verdict.verdict != "pass" or HEADER_VALUE[label](read_simple(item))


@many
@given(items, items)
def test_any_extra_pair_in_the_protected_header(label: bytes, value: bytes) -> None:
    header = cmap((uint(1), nint(-8)), (uint(4), bstr(kid("issuer"))), (label, value))
    verdict = judge(envelope(signed_parts(claims(), header)))
    # An unknown label is ignored; a label equal to 1 or 4 is a duplicate key: malformed.
    assert verdict.reason in ("ok", "malformed")
    if read_simple(label) in (("int", 1), ("int", 4)):
        assert verdict.reason == "malformed"


@many
@given(st.sampled_from([1, 4, 6, 7, -65537]), items)
def test_any_item_as_a_claim(label: int, item: bytes) -> None:
    if label == 1:
        payload = claims(iss=(uint(1), item))
    elif label == -65537:
        payload = claims(phc=item)
    else:
        fields = {4: "exp", 6: "iat"}
        payload = claims(**{fields[label]: item}) if label in fields else _with_cti(item)
    verdict = judge(envelope(signed_parts(payload)))
    if verdict.verdict == "pass":
        assert label != -65537 or item[0] >> 5 == 5  # a phc map made of random items could still be valid
        if label in CLAIM_VALUE:
            assert CLAIM_VALUE[label](read_simple(item))


def _with_cti(item: bytes) -> bytes:
    return cmap((uint(1), tstr(ISS)), (uint(4), integer(NOW + 86400)), (uint(6), integer(NOW - 60)),
                (uint(7), item), (nint(-65537), phc_map()))


@many
@given(st.sampled_from([1, 2, 3, 4]), items)
def test_any_item_in_the_phc_map(label: int, item: bytes) -> None:
    pairs = {1: uint(0), 2: bstr(SUBJECT), 3: uint(0)}
    pairs[label] = item
    verdict = judge(envelope(signed_parts(claims(phc=cmap(*((uint(k), v) for k, v in pairs.items()))))))
    assert verdict.verdict != "pass" or PHC_VALUE[label](read_simple(item))


@many
@given(items, items, st.sampled_from(["claims", "phc"]))
def test_any_extra_pair_in_the_claims_or_phc(label: bytes, value: bytes, where: str) -> None:
    payload = claims(extra=((label, value),)) if where == "claims" else claims(phc=phc_map((label, value)))
    verdict = judge(envelope(signed_parts(payload)))
    assert verdict.reason in ("ok", "malformed")
    taken = {"claims": (1, 4, 6, 7, -65537), "phc": (1, 2, 3)}[where]
    if any(read_simple(label) == ("int", n) for n in taken):
        assert verdict.reason == "malformed"
