"""Hostile codes: every scan ends in one verdict that prints (spec section 7, amendments).

The codes here are signed by a TRUSTED key: a parser differential or a crash
after the signature check is what an attacker with one genuine code (or one
leaked key) would use. Every byte of the odd CBOR is written by hand
(tests/cbor_raw.py), never by the library under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.policy import Policy
from kiosk.verdict import decide, decide_strict
from tests.cbor_raw import (
    FALSE,
    TRUE,
    array,
    bignum,
    bstr,
    cmap,
    half,
    head,
    integer,
    nint,
    tag,
    tstr,
    uint,
)
from tests.factories import ISS, NOW, SUBJECT, World, kid, raw_cose, text_of

STORE = World().store()
POLICY = Policy()
KIOSK = [sys.executable, "-m", "kiosk"]


def protected(*pairs: tuple[bytes, bytes], signer: str = "issuer") -> bytes:
    return cmap(*pairs) if pairs else cmap((uint(1), nint(-8)), (uint(4), bstr(kid(signer))))


def phc_map(*extra: tuple[bytes, bytes], status: bytes | None = None, kind: bytes | None = None) -> bytes:
    pairs = [(uint(1), uint(0) if status is None else status), (uint(2), bstr(SUBJECT)),
             (uint(3), uint(0) if kind is None else kind), *extra]
    return cmap(*pairs)


def claims(*, iss: tuple[bytes, bytes] | None = None, exp: bytes | None = None, iat: bytes | None = None,
           phc: bytes | None = None, extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """The CWT claims map, field by field, each replaceable by raw bytes."""
    return cmap(iss or (uint(1), tstr(ISS)),
                (uint(4), exp if exp is not None else integer(NOW + 86400)),
                (uint(6), iat if iat is not None else integer(NOW - 60)),
                (uint(7), bstr(b"\x01" * 12)),
                (nint(-65537), phc if phc is not None else phc_map()),
                *extra)


def signed(payload: bytes, header: bytes | None = None, signer: str = "issuer") -> str:
    return text_of(raw_cose(payload, protected=header if header is not None else protected(signer=signer),
                            signer=signer))


def reason(text: str) -> str:
    verdict = decide_strict(text, STORE, POLICY, None, NOW)
    json.dumps(verdict.as_dict(), ensure_ascii=False, allow_nan=False)  # printing it must never fail
    return verdict.reason


def test_the_hand_written_code_passes_so_the_cases_below_test_one_change_each() -> None:
    assert reason(signed(claims())) == "ok"
    assert reason(signed(claims(), protected((uint(1), nint(-8)), (uint(4), bstr(kid("issuer")))))) == "ok"


# -- 1. no integer too large to format, compare or store ----------------------------------------------------

HUGE = 10**4400  # str() of it raises ValueError in Python (the int-to-str limit is 4,300 digits)


@pytest.mark.parametrize("alg", [bignum(HUGE), bignum(-HUGE), bignum(-8), head(1, 7, 8)])
def test_an_alg_that_is_a_bignum_is_malformed_not_an_exception(alg: bytes) -> None:
    # head(1, 7, 8) is -8 in a long head: still an integer on the wire, so it is -8 (CBOR allows it).
    header = protected((uint(1), alg), (uint(4), bstr(kid("issuer"))))
    expected = "ok" if alg == head(1, 7, 8) else "malformed"
    assert reason(signed(claims(), header)) == expected


@pytest.mark.parametrize("field", ["exp", "iat"])
@pytest.mark.parametrize("value", [bignum(HUGE), bignum(-HUGE), bignum(NOW), uint(2**63), head(1, 2**63),
                                   head(0, 2**64 - 1)])
def test_an_integer_claim_past_64_bits_or_a_bignum_is_malformed(field: str, value: bytes) -> None:
    assert reason(signed(claims(**{field: value}))) == "malformed"


def test_the_64_bit_edges_themselves_are_integers() -> None:
    assert reason(signed(claims(exp=uint(2**63 - 1)))) == "ok"
    assert reason(signed(claims(iat=nint(-(2**63))))) == "key_expired"  # read as an integer, then judged


@pytest.mark.parametrize("value", [bignum(0), bignum(HUGE), head(0, 2**63)])
def test_phc_status_and_kind_past_64_bits_are_malformed(value: bytes) -> None:
    assert reason(signed(claims(phc=phc_map(status=value)))) == "malformed"
    assert reason(signed(claims(phc=phc_map(kind=value)))) == "malformed"


def test_a_revoked_key_with_a_huge_exp_is_denied_and_prints(trust_dir: Path) -> None:
    """The campaign's second crash: claims shown for a revoked key, exp a 1,790-byte bignum."""
    text = signed(claims(exp=bignum(HUGE)), signer="revoked")
    assert reason(text) == "malformed"
    run = subprocess.run([*KIOSK, "verify", "--trust", str(trust_dir), "--now", str(NOW), text],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["reason"] == "malformed"


def test_kiosk_verify_answers_a_bignum_alg_with_one_json_line(trust_dir: Path) -> None:
    text = signed(claims(), protected((uint(1), bignum(HUGE)), (uint(4), bstr(kid("issuer")))))
    assert len(text) < 4296  # it fits a QR code (version 40, alphanumeric)
    run = subprocess.run([*KIOSK, "verify", "--trust", str(trust_dir), "--now", str(NOW), "-"], input=text,
                         capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stderr) == (1, "")
    assert json.loads(run.stdout) | {"warnings": []} == {
        "verdict": "deny", "reason": "malformed", "status": None, "kid": None, "iss": None, "subject": None,
        "iat": None, "exp": None, "kind": None, "name": None, "temperature": None, "warnings": [], "format": "phc1"}


# -- 2. strict labels: a label is an integer on the wire, not something equal to one ------------------------

NOT_INTEGERS = {
    "float 1.0": (half(1.0), half(4.0), half(-1.0)),
    "true": (TRUE, TRUE, TRUE),  # true == 1 in Python; there is no boolean 4 or -65537
    "bignum": (bignum(1), bignum(4), bignum(-65537)),
    "text": (tstr("1"), tstr("4"), tstr("-65537")),
}


@pytest.mark.parametrize("kind", list(NOT_INTEGERS))
def test_protected_header_labels_must_be_integers(kind: str) -> None:
    one, four, _ = NOT_INTEGERS[kind]
    assert reason(signed(claims(), protected((one, nint(-8)), (uint(4), bstr(kid("issuer")))))) == "malformed"
    if kind != "true":
        assert reason(signed(claims(), protected((uint(1), nint(-8)), (four, bstr(kid("issuer")))))) == "malformed"


@pytest.mark.parametrize("kind", list(NOT_INTEGERS))
def test_claim_labels_must_be_integers(kind: str) -> None:
    one, four, minus = NOT_INTEGERS[kind]
    assert reason(signed(claims(iss=(one, tstr(ISS))))) == "malformed"  # iss only under a non-integer key
    if kind == "true":
        return  # true stands only for 1
    exp_moved = cmap((uint(1), tstr(ISS)), (four, integer(NOW + 86400)), (uint(6), integer(NOW - 60)),
                     (uint(7), bstr(b"\x01" * 12)), (nint(-65537), phc_map()))
    phc_moved = cmap((uint(1), tstr(ISS)), (uint(4), integer(NOW + 86400)), (uint(6), integer(NOW - 60)),
                     (uint(7), bstr(b"\x01" * 12)), (minus, phc_map()))
    assert reason(signed(exp_moved)) == "malformed"
    assert reason(signed(phc_moved)) == "malformed"


@pytest.mark.parametrize("kind", list(NOT_INTEGERS))
def test_phc_labels_must_be_integers(kind: str) -> None:
    one = NOT_INTEGERS[kind][0]
    phc = cmap((one, uint(0)), (uint(2), bstr(SUBJECT)), (uint(3), uint(0)))
    assert reason(signed(claims(phc=phc))) == "malformed"


def test_a_non_integer_key_beside_the_real_label_is_an_unknown_label_or_a_duplicate() -> None:
    # Unknown labels are ignored (spec section 2): a text key "iss" beside label 1 changes nothing.
    assert reason(signed(claims(extra=((tstr("iss"), tstr("CN-999999")),)))) == "ok"
    assert reason(signed(claims(extra=((half(2.5), tstr("x")), (FALSE, tstr("y")))))) == "ok"
    # 1.0 beside 1: a decoder with Python's dict would see the same key twice; refusing is the safe side.
    assert reason(signed(claims(extra=((half(1.0), tstr("CN-999999")),)))) == "malformed"


def test_a_tagged_item_as_label_or_value_does_not_pass_for_an_integer() -> None:
    assert reason(signed(claims(exp=tag(1, integer(NOW + 86400))))) == "malformed"  # an epoch date, not an int
    assert reason(signed(claims(iat=tag(55799, integer(NOW - 60))))) == "malformed"  # self-described CBOR


def test_decide_itself_never_raises_even_on_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last line of defence: a bug found later still gives a deny (and so an audit event)."""
    import kiosk.verdict as verdict_module

    def broken(*args: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(verdict_module, "decide_strict", broken)
    got = decide(signed(claims()), STORE, POLICY, None, NOW)
    assert (got.verdict, got.reason) == ("deny", "malformed")


@pytest.mark.parametrize("since", [2**63, 2**64 - 1])
def test_a_status_list_since_past_64_bits_is_refused_by_both_readings(since: int) -> None:
    from kiosk.status_list import StatusList

    entry = array(bstr(SUBJECT), uint(2), uint(since))  # the fast path's layout: 83 50 <16> <status> 1b <8>
    base = [(tstr("type"), tstr("status")), (tstr("seq"), uint(1)), (tstr("iat"), integer(NOW)),
            (tstr("iss"), tstr(ISS))]
    for entries in (array(entry), array(entry, entry)):
        with pytest.raises(ValueError, match="since"):
            StatusList.from_payload(cmap(*base, (tstr("entries"), entries)))
    with pytest.raises(ValueError, match="since"):  # and the general path alone (an indefinite array)
        StatusList.from_payload(cmap(*base, (tstr("entries"), b"\x9f" + entry + b"\xff")))


# -- the same codes through the commands a checkpoint runs ----------------------------------------------------

def hostile_codes() -> list[str]:
    return [signed(claims(), protected((uint(1), bignum(HUGE)), (uint(4), bstr(kid("issuer"))))),
            signed(claims(exp=bignum(HUGE)), signer="revoked"),
            signed(claims(), protected((half(1.0), nint(-8)), (half(4.0), bstr(kid("issuer")))))]


def test_kiosk_run_gives_each_hostile_code_a_verdict_and_an_audit_event(tmp_path: Path, trust_dir: Path) -> None:
    """The campaign: one crafted QR code got no verdict and no audit event from `kiosk run` and `kiosk scan`."""
    from kiosk.audit.store import AuditLog

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "audit.db"\n')
    texts = hostile_codes()
    run = subprocess.run([*KIOSK, "--config", str(config), "run", "--headless", "--stdin"],
                         input="".join(t + "\n" for t in texts), capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [(x["verdict"], x["reason"]) for x in lines] == [("deny", "malformed")] * len(texts)
    log = AuditLog(tmp_path / "audit.db")
    try:
        assert [e.reason for e in log.events() if e.kind == "scan"] == ["malformed"] * len(texts)
    finally:
        log.close()


def test_kiosk_verify_image_of_a_hostile_code(tmp_path: Path, trust_dir: Path) -> None:
    import segno

    picture = tmp_path / "code.png"
    segno.make_qr(hostile_codes()[2], error="l").save(str(picture), scale=4, border=4)
    run = subprocess.run([*KIOSK, "verify", "--trust", str(trust_dir), "--now", str(NOW), "--image", str(picture)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["reason"] == "malformed"


def test_a_reader_that_goes_away_does_not_stop_kiosk_run(tmp_path: Path, trust_dir: Path) -> None:
    """`kiosk run --headless | head -1`: the rest of the verdicts are still decided and logged, no traceback."""
    from kiosk.audit.store import AuditLog

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "audit.db"\n')
    texts = ["hello"] * 5
    script = (f"{sys.executable} -m kiosk --config {config} run --headless --stdin | head -n 1")
    run = subprocess.run(["bash", "-c", script], input="".join(t + "\n" for t in texts), capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert json.loads(run.stdout)["reason"] == "not_health_code"
    assert "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr
    log = AuditLog(tmp_path / "audit.db")
    try:
        assert [e.reason for e in log.events() if e.kind == "scan"] == ["not_health_code"] * len(texts)
    finally:
        log.close()
