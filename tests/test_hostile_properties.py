"""Property: arbitrary CBOR in any position of a signed code gives a verdict that prints, and passes only
where the spec says that value is acceptable (docs/health-code.md sections 2, 3 and 7), for PHC1 and for HC1
(the EU DCC, issue 15: any item in the envelope, the headers, the claims, the DCC and its entry, any bytes
after the prefix or in the compressed stream).

Every code is signed by a trusted key (HC1: by a trusted DSC), so the checks after the signature run too.
Which values are acceptable is decided by the test's own reader (tests/cbor_raw.read_simple)
from the spec's type rules, never by the module under test.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.base45 import b45encode
from kiosk.formats.hc1_issue import make_csca, make_dsc
from kiosk.issuer import sign_bundle
from kiosk.policy import Policy
from kiosk.trust import TrustStore, parse_bundle
from kiosk.verdict import Verdict, decide_strict
from tests.cbor_raw import array, bstr, cmap, integer, items, nint, read_simple, tag, tstr, uint
from tests.factories import ISS, NOW, SUBJECT, World, key, kid, pub, text_of
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


# -- HC1 (issue 15): an EU DCC signed by a trusted DSC, valid at NOW, then one part of it replaced ----------------

DAY = 86400
HC1_DSC = make_dsc(make_csca("DE", not_before=NOW - 800 * DAY, not_after=NOW + 800 * DAY), country="DE",
                   not_before=NOW - 365 * DAY, not_after=NOW + 365 * DAY)
HC1_STORE = TrustStore(parse_bundle(sign_bundle(key("root"), seq=1, iat=NOW, keys=[], dscs=[HC1_DSC.der]),
                                    {kid("root"): pub("root")}))
HC1_HEADER = cmap((uint(1), nint(-7)), (uint(4), bstr(HC1_DSC.kid)))
DOSE_DAY = datetime.fromtimestamp(NOW - 60 * DAY, timezone.utc).date().isoformat()  # dose 2 of 2, 60 days ago
ENTRY = {"tg": tstr("840539006"), "vp": tstr("1119349007"), "mp": tstr("EU/1/20/1528"), "ma": tstr("ORG-100030215"),
         "dn": uint(2), "sd": uint(2), "dt": tstr(DOSE_DAY), "co": tstr("DE"), "is": tstr("Robert Koch-Institut"),
         "ci": tstr("URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W")}
NAMES = cmap((tstr("fn"), tstr("Müller")), (tstr("fnt"), tstr("MUELLER")), (tstr("gn"), tstr("Max")))


def hc1_dcc(entry: bytes | None = None, **fields: bytes) -> bytes:
    values = {"ver": tstr("1.3.0"), "nam": NAMES, "dob": tstr("1964-08-12"),
              "v": array(entry if entry is not None else cmap(*((tstr(k), v) for k, v in ENTRY.items())))}
    values.update(fields)
    return cmap(*((tstr(k), v) for k, v in values.items()))


def hc1_claims(*extra: tuple[bytes, bytes], **replaced: bytes) -> bytes:
    """The CWT claims; `replaced` by label (c1, c4, c6, c260 for -260) with any item, `extra` pairs added."""
    values = {1: tstr("DE"), 4: integer(NOW + 30 * DAY), 6: integer(NOW - 60), -260: cmap((uint(1), hc1_dcc()))}
    values.update({-int(k[1:]) if k == "c260" else int(k[1:]): v for k, v in replaced.items()})
    return cmap(*((integer(k), v) for k, v in values.items()), *extra)


def hc1_parts(payload: bytes, header: bytes = HC1_HEADER) -> list[bytes]:
    """[protected, unprotected, payload, signature], signed ES256 (r || s) over RFC 9052's Sig_structure."""
    signed = array(tstr("Signature1"), bstr(header), bstr(b""), bstr(payload))
    assert isinstance(HC1_DSC.key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(HC1_DSC.key.sign(signed, ec.ECDSA(hashes.SHA256())))
    return [bstr(header), cmap(), bstr(payload), bstr(r.to_bytes(32, "big") + s.to_bytes(32, "big"))]


def hc1_text(cose_bytes: bytes) -> str:
    return "HC1:" + b45encode(zlib.compress(cose_bytes))


def hc1_judge(parts: list[bytes], tagged: bool = True) -> Verdict:
    body = array(*parts)
    verdict = decide_strict(hc1_text(tag(18, body) if tagged else body), HC1_STORE, POLICY, None, NOW)
    json.dumps(verdict.as_json(), ensure_ascii=False, allow_nan=False)  # printing never fails
    return verdict


def test_hc1_the_unchanged_code_passes() -> None:
    # The properties below change one part of this code: it must pass as it is, else they prove nothing.
    assert hc1_judge(hc1_parts(hc1_claims())).reason == "ok"
    assert hc1_judge(hc1_parts(hc1_claims()), tagged=False).reason == "ok"


@many
@given(st.integers(0, 3), items, st.booleans())
def test_hc1_any_item_in_any_place_of_the_envelope(position: int, item: bytes, tagged: bool) -> None:
    parts = hc1_parts(hc1_claims())
    parts[position] = item
    verdict = hc1_judge(parts, tagged)
    if verdict.verdict == "pass":  # only the unprotected header may hold anything, and only a map
        assert position == 1 and item[0] >> 5 == 5


@many
@given(st.one_of(items.map(hc1_text), st.binary(max_size=600).map(lambda b: "HC1:" + b45encode(b)),
                 st.text(max_size=300).map(lambda t: "HC1:" + t)))
def test_hc1_anything_after_the_prefix_is_denied(text: str) -> None:
    verdict = decide_strict(text, HC1_STORE, POLICY, None, NOW)
    json.dumps(verdict.as_json(), ensure_ascii=False, allow_nan=False)
    assert verdict.verdict == "deny"


@many
@given(st.sampled_from([1, 4]), items)
def test_hc1_any_item_as_a_protected_header_value(label: int, item: bytes) -> None:
    pairs = {1: nint(-7), 4: bstr(HC1_DSC.kid)}
    pairs[label] = item
    verdict = hc1_judge(hc1_parts(hc1_claims(), cmap(*((uint(k), v) for k, v in pairs.items()))))
    assert verdict.verdict != "pass" or read_simple(item) == {1: ("int", -7), 4: ("bytes", HC1_DSC.kid)}[label]


# What issue 15 accepts in each claim of a code that is otherwise valid at NOW (the DSC is German, from NOW - 365
# days; the issuing country is compared without case).
HC1_CLAIM_VALUE = {
    1: lambda v: v is not None and v[0] == "text" and str(v[1]).upper() == "DE",
    4: lambda v: is_int(v, lambda n: n >= NOW - POLICY.skew),
    6: lambda v: is_int(v, lambda n: NOW - 365 * DAY <= n <= NOW + POLICY.skew),
    -260: lambda v: False,  # a map made of random items is never a DCC with a vaccination that counts
}


# Any item, and many of the kind a claim wants: short texts (countries) and times around NOW.
claim_items = st.one_of(items, st.text(max_size=3).map(tstr),
                        st.integers(NOW - 400 * DAY, NOW + 400 * DAY).map(integer))


@many
@given(st.sampled_from([1, 4, 6, -260]), claim_items)
def test_hc1_any_item_as_a_claim(label: int, item: bytes) -> None:
    verdict = hc1_judge(hc1_parts(hc1_claims(**{f"c{abs(label)}": item})))
    assert verdict.verdict != "pass" or HC1_CLAIM_VALUE[label](read_simple(item))


@many
@given(st.sampled_from(["v", "nam", "dn", "sd", "dt", "tg", "ci"]), items)
def test_hc1_any_item_in_the_dcc_or_its_entry(field: str, item: bytes) -> None:
    if field in ("v", "nam"):
        payload = hc1_claims(c260=cmap((uint(1), hc1_dcc(**{field: item}))))
    else:
        entry = cmap(*((tstr(k), item if k == field else v) for k, v in ENTRY.items()))
        payload = hc1_claims(c260=cmap((uint(1), hc1_dcc(entry))))
    verdict = hc1_judge(hc1_parts(payload))
    if verdict.verdict == "pass":  # the DCC schema's types; dn < sd is an incomplete series (issue 15)
        value = read_simple(item)
        assert {"v": item[0] >> 5 == 4, "nam": item[0] >> 5 == 5, "dn": is_int(value, lambda n: n >= 2),
                "sd": is_int(value, lambda n: 0 <= n <= 2)}.get(field, value is not None and value[0] == "text")


@many
@given(items, items, st.sampled_from(["claims", "hcert", "dcc", "entry"]))
def test_hc1_any_extra_pair_anywhere(label: bytes, value: bytes, where: str) -> None:
    extra = ((label, value),)
    entry = cmap(*((tstr(k), v) for k, v in ENTRY.items()), *(extra if where == "entry" else ()))
    dcc = cmap((tstr("ver"), tstr("1.3.0")), (tstr("nam"), NAMES), (tstr("v"), array(entry)),
               *(extra if where == "dcc" else ()))
    hcert = cmap((uint(1), dcc), *(extra if where == "hcert" else ()))
    payload = hc1_claims(*(extra if where == "claims" else ()), c260=hcert)
    verdict = hc1_judge(hc1_parts(payload))
    assert verdict.reason in ("ok", "malformed")
    taken = {"claims": [("int", n) for n in (1, 4, 6, -260)], "hcert": [("int", 1)],
             "dcc": [("text", k) for k in ("ver", "nam", "v", "t", "r")], "entry": [("text", k) for k in ENTRY]}[where]
    if read_simple(label) in taken:  # the same key twice, or a second certificate: malformed
        assert verdict.reason == "malformed"

