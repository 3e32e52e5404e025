"""The trust bundle and the trust store (spec section 4): every rule of a root-signed bundle, one at a time.

A bundle that a root really signed can still be wrong; each such bundle must be refused with one line
(TrustFileError) when it is read, never load and then make decide() raise. The envelopes here are
signed by this file's own `envelope()` (cbor2's encoding of the RFC 9052 Sig_structure and PyNaCl),
not by kiosk.cose, and the expected messages are the lines an operator reads from `kiosk trust import`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import cbor2
import pytest

from kiosk.errors import TrustFileError
from kiosk.healthcode import AMBER, GREEN, RED
from kiosk.policy import Policy
from kiosk.trust import IssuerKey, TrustStore, parse_bundle, parse_status
from kiosk.verdict import decide
from tests.factories import ISS, NOW, SUBJECT, claims, code, key, pub

ROOTS = {hashlib.sha256(pub("root")).digest()[:8]: pub("root")}
NBF, EXP = NOW - 86400, NOW + 86400


def kid(name: str) -> bytes:
    return hashlib.sha256(pub(name)).digest()[:8]  # spec section 2, written out here


def envelope(payload: object, signer: str = "root") -> bytes:
    """COSE_Sign1 bytes over `payload`, made without kiosk.cose."""
    body = payload if isinstance(payload, bytes) else cbor2.dumps(payload)
    protected = cbor2.dumps({1: -8, 4: kid(signer)})
    signature = key(signer).sign(cbor2.dumps(["Signature1", protected, b"", body])).signature
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, body, signature]))


def grant(name: str = "issuer", **changes: object) -> dict[str, object]:
    entry: dict[str, object] = {"kid": kid(name), "pub": pub(name), "iss": ISS, "nbf": NBF, "exp": EXP}
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not DROP}


DROP = object()


def body(**changes: object) -> dict[str, object]:
    fields: dict[str, Any] = {"type": "trust", "seq": 3, "iat": NOW - 60,
                              "keys": [grant("beijing", iss="CN-110000"), grant()], "revoked": [kid("revoked")]}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not DROP}


def test_a_good_bundle_reads_field_by_field() -> None:
    bundle = parse_bundle(envelope(body()), ROOTS)
    assert (bundle.seq, bundle.iat, bundle.signer, bundle.revoked) == (3, NOW - 60, kid("root"),
                                                                       frozenset({kid("revoked")}))
    assert bundle.keys == {kid("issuer"): IssuerKey(kid("issuer"), pub("issuer"), ISS, NBF, EXP),
                           kid("beijing"): IssuerKey(kid("beijing"), pub("beijing"), "CN-110000", NBF, EXP)}


KEY_FIELDS = "keys[1] needs iss (text), nbf and exp (integers)"
BAD_BUNDLES = [
    ("payload not a map", [body()], 'payload is not a map of "type": "trust"'),
    ("type missing", body(type=DROP), 'payload is not a map of "type": "trust"'),
    ("type status", body(type="status"), 'payload is not a map of "type": "trust"'),
    ("seq negative", body(seq=-1), "seq (unsigned) or iat (integer) is missing or ill-typed"),
    ("seq missing", body(seq=DROP), "seq (unsigned) or iat (integer) is missing or ill-typed"),
    ("iat text", body(iat="yesterday"), "seq (unsigned) or iat (integer) is missing or ill-typed"),
    ("iat a bignum", body(iat=2**64), "seq (unsigned) or iat (integer) is missing or ill-typed"),
    ("keys missing", body(keys=DROP), "keys or revoked is missing or not an array"),
    ("keys a map", body(keys={}), "keys or revoked is missing or not an array"),
    ("revoked missing", body(revoked=DROP), "keys or revoked is missing or not an array"),
    ("revoked null", body(revoked=None), "keys or revoked is missing or not an array"),
    ("a key not a map", body(keys=[grant(), [kid("issuer")]]), "keys[1] is not a map"),
    ("kid of 7 bytes", body(keys=[grant(), grant(kid=kid("issuer")[:7])]), "keys[1].kid is not 8 bytes"),
    ("kid as 8 characters", body(keys=[grant(), grant(kid="01234567")]), "keys[1].kid is not 8 bytes"),
    ("pub of 31 bytes", body(keys=[grant(), grant(pub=pub("issuer")[:31])]), "keys[1].pub is not 32 bytes"),
    ("pub as 32 characters", body(keys=[grant(), grant(pub="0" * 32)]), "keys[1].pub is not 32 bytes"),
    ("iss missing", body(keys=[grant(), grant(iss=DROP)]), KEY_FIELDS),
    ("iss a number", body(keys=[grant(), grant(iss=120000)]), KEY_FIELDS),
    ("nbf null", body(keys=[grant(), grant(nbf=None)]), KEY_FIELDS),
    ("nbf a float", body(keys=[grant(), grant(nbf=float(NBF))]), KEY_FIELDS),
    ("exp missing", body(keys=[grant(), grant(exp=DROP)]), KEY_FIELDS),
    ("exp true", body(keys=[grant(), grant(exp=True)]), KEY_FIELDS),
    ("exp past 64 bits", body(keys=[grant(), grant(exp=2**64)]), KEY_FIELDS),
    ("kid of another key", body(keys=[grant(), grant(kid=kid("beijing"))]),
     f"keys[1].kid {kid('beijing').hex()} does not match its public key"),
    ("revoked kid of 9 bytes", body(revoked=[kid("x"), kid("y") + b"\x00"]), "revoked[1] is not an 8-byte kid"),
    ("revoked kid as text", body(revoked=[kid("x"), "01234567"]), "revoked[1] is not an 8-byte kid"),
    ("payload not CBOR", b"\xff", "payload: bad CBOR: "),
    ("bytes after the payload", cbor2.dumps(body()) + b"\x00", "payload: 1 bytes after the CBOR item"),
    ("a key twice", b"\xa6" + cbor2.dumps(body())[1:] + cbor2.dumps("seq") + cbor2.dumps(4), "payload: bad CBOR: "),
]


@pytest.mark.parametrize(("payload", "message"), [c[1:] for c in BAD_BUNDLES], ids=[c[0] for c in BAD_BUNDLES])
def test_a_root_signed_bundle_that_breaks_a_rule_is_refused_with_one_line(payload: object, message: str) -> None:
    with pytest.raises(TrustFileError) as caught:
        parse_bundle(envelope(payload), ROOTS)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    if not message.endswith(": "):
        assert str(caught.value) == message


def test_an_envelope_that_fails_is_named() -> None:
    good = envelope(body())
    with pytest.raises(TrustFileError, match=r"^not a valid COSE_Sign1 file \(1 bytes after the CBOR item\)$"):
        parse_bundle(good + b"\x00", ROOTS)
    with pytest.raises(TrustFileError) as caught:
        parse_bundle(envelope(body(), signer="issuer"), ROOTS)
    assert str(caught.value) == f"signed by kid {kid('issuer').hex()}, which is not a pinned root"
    broken = bytearray(good)
    broken[len(good) // 2] ^= 1
    with pytest.raises(TrustFileError) as caught:
        parse_bundle(bytes(broken), ROOTS)
    assert str(caught.value) == f"the signature does not verify (kid {kid('root').hex()}): tampered or corrupt"


# -- the key's validity window is [nbf, exp], both ends included (spec section 5, row 6) -----------------------

@pytest.mark.parametrize(("iat", "reason"), [(NBF - 1, "key_expired"), (NBF, "ok"), (EXP, "ok"),
                                             (EXP + 1, "key_expired")])
def test_the_key_window_includes_both_ends(iat: int, reason: str) -> None:
    store = TrustStore(parse_bundle(envelope(body()), ROOTS))
    policy = Policy(max_age=10**9, skew=10**9)  # only the key's window decides here
    assert decide(code(iat=iat), store, policy, None, NOW).reason == reason


# -- the status list against the bundle ------------------------------------------------------------------------

def status_body(iss: str = ISS, **changes: Any) -> dict[str, object]:
    fields: dict[str, object] = {"type": "status", "seq": 1, "iat": NOW, "iss": iss,
                                 "entries": [[SUBJECT, RED, NOW - 30]]}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not DROP}


BUNDLE = parse_bundle(envelope(body(keys=[grant(), grant("beijing", iss="CN-110000"), grant("revoked")])), ROOTS)


def test_a_status_list_signed_by_a_revoked_key_is_refused() -> None:
    with pytest.raises(TrustFileError) as caught:
        parse_status(envelope(status_body(), signer="revoked"), BUNDLE)
    assert str(caught.value) == (f"signed by kid {kid('revoked').hex()}, "
                                 "which is not an unrevoked key of the trust bundle")


def test_a_status_list_of_another_issuer_than_its_signer_is_refused() -> None:
    with pytest.raises(TrustFileError) as caught:
        parse_status(envelope(status_body(iss="CN-110000"), signer="issuer"), BUNDLE)
    assert str(caught.value) == "list of issuer 'CN-110000' signed by a key of issuer 'CN-120000'"


@pytest.mark.parametrize(("changes", "message"), [
    ({"entries": DROP}, "payload: entries is missing or not an array"),
    ({"entries": [[SUBJECT, 3, NOW]]}, "payload: entries[0] status is not 0, 1 or 2"),
    ({"seq": None}, "payload: seq (unsigned), iat (integer) or iss (text) is missing or ill-typed"),
])
def test_a_signed_status_list_that_breaks_a_rule_is_one_line(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TrustFileError) as caught:
        parse_status(envelope(status_body(**changes), signer="issuer"), BUNDLE)
    assert str(caught.value) == message


@pytest.mark.parametrize(("since", "code_status", "expected"), [
    (NOW - 61, GREEN, GREEN), (NOW - 60, GREEN, GREEN), (NOW - 59, GREEN, RED), (NOW - 59, AMBER, RED)])
def test_an_entry_replaces_the_status_only_when_later_than_iat(since: int, code_status: int, expected: int) -> None:
    store = TrustStore(BUNDLE, parse_status(envelope(status_body(entries=[[SUBJECT, RED, since]]), signer="issuer"),
                                                BUNDLE))
    assert store.effective_status(claims(iat=NOW - 60, status=code_status)) == expected
    assert store.effective_status(claims(iat=NOW - 60, status=code_status, subject=b"\x01" * 16)) == code_status
    assert store.effective_status(claims(iat=NOW - 60, status=code_status, iss="CN-110000")) == code_status
    assert TrustStore(BUNDLE).effective_status(claims(iat=NOW - 60, status=code_status)) == code_status
