"""Independent conformance vectors for docs/health-code.md (the spec).

Written from the spec only; nothing here imports ``kiosk``.  Codes and
trust directories are forged with tests/spec_vectors/forge.py and the CLI is
run as a subprocess:

    python -m kiosk verify --trust DIR --now EPOCH [options] TEXT

Tests marked ``ambiguous`` encode a reading of a point the spec leaves open;
the reading is written next to each one.  (This file does not register the
marker itself; without a registration pytest only warns about it.)

Readings used throughout (see also the comments at each test):
  * "verified" fields (status/kid/iss/subject/iat/exp/kind) are asserted on
    pass; on a deny after the signature and key checks they are asserted only
    in tests marked ambiguous.
  * kid and subject are compared as hex case-insensitively (the spec says
    "hex" without a case).
  * A usage/I-O error must give exit 2, empty stdout and exactly one
    non-empty line on stderr (the spec says "a one-line message").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cbor2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spec_vectors import forge as F
from spec_vectors.forge import MISSING

REPO = Path(__file__).resolve().parents[1]
AMB = pytest.mark.ambiguous

# --------------------------------------------------------------------------
# The fixed world: keys, times, subjects
# --------------------------------------------------------------------------

NOW = int(dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp())
assert NOW == 1709294400
DAY = 86400
YEAR = 365 * DAY

ISS_A = "CN-120000"
ISS_B = "CN-110000"

ROOT1 = F.make_key("root-1")
ROOT2 = F.make_key("root-2")
A1 = F.make_key("issuer-a-1")  # issuer A, valid for +-1 year
A_REV = F.make_key("issuer-a-revoked")  # issuer A, in keys and in revoked
A_WIN = F.make_key("issuer-a-window")  # issuer A, valid [WIN_NBF, WIN_EXP]
B1 = F.make_key("issuer-b-1")  # issuer B
STRANGER = F.make_key("stranger")  # in no bundle
REVOKED_ONLY = F.make_key("revoked-not-listed")  # in revoked, not in keys

WIN_NBF = NOW - 1000
WIN_EXP = NOW - 100

SUBJ = bytes.fromhex("00112233445566778899aabbccddeeff")
SUBJ2 = bytes.fromhex("ffeeddccbbaa99887766554433221100")
CTI = bytes(range(1, 13))
IAT = NOW - 60
EXP = NOW + 3600

FIELDS = ("verdict", "reason", "status", "kid", "iss", "subject", "iat", "exp", "kind", "temperature")
EXIT = {"pass": 0, "deny": 1, "retry": 3}


def std_keys():
    return [
        F.key_entry(A1, iss=ISS_A, nbf=NOW - YEAR, exp=NOW + YEAR),
        F.key_entry(A_REV, iss=ISS_A, nbf=NOW - YEAR, exp=NOW + YEAR),
        F.key_entry(A_WIN, iss=ISS_A, nbf=WIN_NBF, exp=WIN_EXP),
        F.key_entry(B1, iss=ISS_B, nbf=NOW - YEAR, exp=NOW + YEAR),
    ]


def std_bundle(keys=None):
    return F.bundle_payload(
        std_keys() if keys is None else keys,
        revoked=[A_REV.kid, REVOKED_ONLY.kid],
        seq=7,
        iat=NOW - DAY,
    )


def write_std(path, **kw):
    args = dict(roots={"root-1": ROOT1, "root-2": ROOT2}, bundle=std_bundle(), bundle_signer=ROOT1)
    args.update(kw)
    return F.write_trust_dir(path, **args)


def claims(**over):
    c = dict(iss=ISS_A, exp=EXP, iat=IAT, cti=CTI, status=0, subject=SUBJ, kind=0)
    c.update(over)
    return F.claims(**c)


def payload_bytes(**over):
    return cbor2.dumps(claims(**over))


def code(signer=A1, *, prefix="PHC1:", cose=None, payload=None, **over):
    """A health code from `signer`; keyword args override claims."""
    p = claims(**over) if payload is None else payload
    return F.health_code(signer, p, prefix=prefix, **(cose or {}))


def raw(cose_bytes):
    return F.qr_text(cose_bytes)


def flip(sig):
    return bytes([sig[0] ^ 0x01]) + sig[1:]


def b45_body(text):
    assert text.startswith("PHC1:")
    return text[5:]


# --------------------------------------------------------------------------
# Running the CLI
# --------------------------------------------------------------------------


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class Result:
    def __init__(self, cmd, proc, stdin):
        self.cmd = cmd
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.stdin = stdin

    def describe(self):
        s = f"\n$ {shlex.join(self.cmd)}"
        if self.stdin is not None:
            s += f"  <<< {self.stdin!r}"
        return s + f"\nexit={self.rc}\nstdout={self.stdout[:2000]!r}\nstderr={self.stderr[-3000:]!r}"

    def obj(self):
        lines = self.stdout.splitlines()
        assert len(lines) == 1, "expected one JSON line on stdout" + self.describe()
        try:
            # Strict RFC 8259 JSON: NaN / Infinity are not JSON values.
            o = json.loads(lines[0], parse_constant=_reject_constant)
        except ValueError as exc:
            pytest.fail(f"stdout is not strict JSON ({exc})" + self.describe())
        assert isinstance(o, dict), self.describe()
        missing = [f for f in FIELDS if f not in o]
        assert not missing, f"JSON lacks {missing}" + self.describe()
        return o


def run(trust, text=None, *, now=NOW, opts=(), stdin=None, env=None, extra=()):
    cmd = [sys.executable, "-m", "kiosk", "verify"]
    if trust is not None:
        cmd += ["--trust", str(trust)]
    if now is not None:
        cmd += ["--now", str(now)]
    cmd += [str(o) for o in opts]
    cmd += list(extra)
    if text is not None:
        cmd.append(text)
    e = dict(os.environ)
    e.pop("PYTHONPATH", None)
    if env:
        e.update(env)
    proc = subprocess.run(cmd, cwd=REPO, input=stdin, capture_output=True, text=True, timeout=60, env=e)
    return Result(cmd, proc, stdin)


def expect(res, verdict, reason):
    o = res.obj() if res.stdout.strip() else None
    got = (res.rc, o and o.get("verdict"), o and o.get("reason"))
    assert got == (EXIT[verdict], verdict, reason), (
        f"expected exit {EXIT[verdict]} {verdict}/{reason}, got {got}" + res.describe()
    )
    return o


def expect_usage_error(res):
    assert res.rc == 2, "expected exit 2" + res.describe()
    assert res.stdout == "", "stdout must be empty on exit 2" + res.describe()
    lines = res.stderr.strip("\n").splitlines()
    assert len(lines) == 1 and lines[0].strip(), "stderr must be exactly one non-empty line" + res.describe()


def same_hex(a, b: bytes):
    return isinstance(a, str) and a.lower() == b.hex()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return write_std(tmp_path_factory.mktemp("world"))


# --------------------------------------------------------------------------
# Self-checks of the forge (no subprocess)
# --------------------------------------------------------------------------


def test_forge_base45_rfc9285_examples():
    assert F.b45encode(b"AB") == "BB8"
    assert F.b45encode(b"Hello!!") == "%69 VD92EX0"
    assert F.b45encode(b"base-45") == "UJCLQE7W581"
    assert F.b45decode("QED8WEX0") == b"ietf!"
    for n in range(0, 40):
        data = bytes((i * 37 + n) % 256 for i in range(n))
        assert F.b45decode(F.b45encode(data)) == data


def test_forge_code_shape():
    text = code()
    assert text.startswith("PHC1:")
    assert all(c in F.ALPHABET for c in text[5:])
    item = cbor2.loads(F.b45decode(text[5:]))
    assert isinstance(item, cbor2.CBORTag) and item.tag == 18
    prot, unprot, payload, sig = item.value
    assert cbor2.loads(prot) == {1: -8, 4: A1.kid} and unprot == {}
    assert len(A1.kid) == 8 and A1.kid == __import__("hashlib").sha256(A1.pub).digest()[:8]
    assert len(sig) == 64
    assert A1.verify(cbor2.dumps(["Signature1", prot, b"", payload]), sig)
    p = cbor2.loads(payload)
    assert p == {1: ISS_A, 4: EXP, 6: IAT, 7: CTI, -65537: {1: 0, 2: SUBJ, 3: 0}}


def test_forge_trust_dir_layout(tmp_path):
    d = write_std(tmp_path, status=F.status_payload(iss=ISS_A, entries=[[SUBJ, 2, NOW]]), status_signer=A1)
    line = (d / "roots" / "root-1.pub").read_text()
    assert line == ROOT1.pub.hex() + "\n" and len(line.strip()) == 64
    t = cbor2.loads((d / "trust.cose").read_bytes())
    assert cbor2.loads(t.value[0])[4] == ROOT1.kid
    b = cbor2.loads(t.value[2])
    assert b["type"] == "trust" and b["keys"][0]["kid"] == A1.kid
    assert b["revoked"] == [A_REV.kid, REVOKED_ONLY.kid]
    s = cbor2.loads(cbor2.loads((d / "status.cose").read_bytes()).value[2])
    assert s == {"type": "status", "seq": 1, "iat": 0, "iss": ISS_A, "entries": [[SUBJ, 2, NOW]]}


# --------------------------------------------------------------------------
# Verdict vectors: one code, one expected (verdict, reason)
# --------------------------------------------------------------------------


def V(id, build, verdict, reason, opts=(), amb=False):
    return pytest.param(build, list(opts), verdict, reason, id=id, marks=[AMB] if amb else [])


def _bad_b45_len():
    body = b45_body(code())
    return "PHC1:" + body + "0" * ((1 - len(body)) % 3)


OK = ("pass", "ok")

VECTORS = [
    # ---- 1 not_health_code ------------------------------------------------
    V("nhc-lowercase-prefix", lambda: "phc1:" + b45_body(code()), "deny", "not_health_code"),
    V("nhc-leading-space", lambda: " " + code(), "deny", "not_health_code"),
    V("nhc-empty-text", lambda: "", "deny", "not_health_code"),
    # ---- 2 malformed: Base45 ---------------------------------------------
    # RFC 9285 has no lower-case letters; a lenient decoder that upper-cases
    # would accept this code.
    V("b45-lowercase-body", lambda: "PHC1:" + b45_body(code()).lower(), "deny", "malformed"),
    V("b45-length-1-mod-3", _bad_b45_len, "deny", "malformed"),
    V("b45-triple-over-65535", lambda: "PHC1:" + ":::" + b45_body(code())[3:], "deny", "malformed"),
    V("b45-empty-body", lambda: "PHC1:", "deny", "malformed"),
    # ---- 2 malformed: CBOR / COSE shape ------------------------------------
    V("cbor-garbage", lambda: raw(b"\xff\xff\x1c\x00"), "deny", "malformed"),
    # Reading: trailing bytes after the single COSE item mean the text is not
    # "the COSE_Sign1 bytes" -> malformed.
    V("cbor-trailing-byte", lambda: code(cose=dict(trailing=b"\x00")), "deny", "malformed"),
    V("cose-array-of-3", lambda: code(cose=dict(items=lambda a: a[:3])), "deny", "malformed"),
    V("cose-wrong-tag-17", lambda: code(cose=dict(tag=17)), "deny", "malformed"),
    V(
        "cose-protected-is-map-not-bstr",
        lambda: code(cose=dict(protected_item={1: -8, 4: A1.kid})),
        "deny",
        "malformed",
    ),
    V(
        "cose-protected-bstr-holds-array",
        lambda: code(cose=dict(protected_bstr=cbor2.dumps([1, -8, 4, A1.kid]))),
        "deny",
        "malformed",
    ),
    V("cose-payload-nil-detached", lambda: code(cose=dict(payload_item=None)), "deny", "malformed"),
    # Ambiguous: a 63-byte signature could be "COSE shape" (malformed, check 2)
    # or simply a signature that does not verify (bad_signature, check 4).
    # Reading: section 2 fixes the signature at 64 bytes -> malformed.
    V("cose-signature-63-bytes", lambda: code(cose=dict(signature=lambda s: s[:63])), "deny", "malformed", amb=True),
    # ---- 2 malformed: protected header -------------------------------------
    V("hdr-alg-es256", lambda: code(cose=dict(alg=-7)), "deny", "malformed"),
    V("hdr-alg-missing", lambda: code(cose=dict(alg=MISSING)), "deny", "malformed"),
    V("hdr-kid-7-bytes", lambda: code(cose=dict(kid=A1.kid[:7])), "deny", "malformed"),
    V("hdr-kid-only-unprotected", lambda: code(cose=dict(kid=MISSING, unprotected={4: A1.kid})), "deny", "malformed"),
    # ---- 2 malformed: claims -----------------------------------------------
    V("claim-iss-missing", lambda: code(iss=MISSING), "deny", "malformed"),
    V("claim-iss-int", lambda: code(iss=120000), "deny", "malformed"),
    V("claim-exp-missing", lambda: code(exp=MISSING), "deny", "malformed"),
    # CBOR float / bool are not CBOR ints (Python's bool-is-int and
    # float-with-integral-value must not leak through).
    V("claim-exp-float", lambda: code(exp=float(EXP)), "deny", "malformed"),
    V("claim-exp-bool", lambda: code(exp=True), "deny", "malformed"),
    V("claim-iat-bool", lambda: code(iat=True), "deny", "malformed"),
    V("claim-cti-missing", lambda: code(cti=MISSING), "deny", "malformed"),
    V("claim-cti-7-bytes", lambda: code(cti=CTI[:7]), "deny", "malformed"),
    V("claim-cti-17-bytes", lambda: code(cti=bytes(17)), "deny", "malformed"),
    V("claim-phc-missing", lambda: code(phc=MISSING), "deny", "malformed"),
    V("claim-phc-not-map", lambda: code(phc=[0, SUBJ, 0]), "deny", "malformed"),
    V("payload-is-array", lambda: code(payload=[ISS_A, EXP, IAT, CTI]), "deny", "malformed"),
    V("payload-not-cbor", lambda: code(payload=b"\xff\x00"), "deny", "malformed"),
    V("phc-status-missing", lambda: code(status=MISSING), "deny", "malformed"),
    V("phc-status-negative", lambda: code(status=-1), "deny", "malformed"),
    V("phc-status-bool", lambda: code(status=True), "deny", "malformed"),
    # Ambiguous: 3 is a well-typed uint but not one of the defined values.
    # Reading: an undefined status is not a valid status -> malformed.
    V("phc-status-3", lambda: code(status=3), "deny", "malformed", amb=True),
    V("phc-subject-15-bytes", lambda: code(subject=SUBJ[:15]), "deny", "malformed"),
    V("phc-subject-text", lambda: code(subject=SUBJ.hex()), "deny", "malformed"),
    V("phc-kind-bool", lambda: code(kind=True), "deny", "malformed"),
    # Ambiguous: as for status 3.  Reading: kind 2 -> malformed.
    V("phc-kind-2", lambda: code(kind=2), "deny", "malformed", amb=True),
    # Ambiguous: the spec says "missing or ill-typed *required* fields" make a
    # code malformed, and name is optional.  Reading: an optional field that
    # is present must still have its table type (text) -> malformed.
    V("phc-name-int", lambda: code(name=42), "deny", "malformed", amb=True),
    # ---- well-formed variants that must be accepted -------------------------
    V("accept-untagged-array", lambda: code(cose=dict(tag=None)), *OK),
    V("accept-unknown-protected-label", lambda: code(cose=dict(protected_extra={99: "x"})), *OK),
    # The signature covers the protected bstr *as received*; a verifier that
    # re-encodes the header (sorted keys) breaks this.
    V("accept-protected-map-order-4-1", lambda: code(cose=dict(protected_map={4: A1.kid, 1: -8})), *OK),
    # kid is read from the protected header only; a different kid in the
    # unprotected header is ignored.
    V("accept-conflicting-unprotected-kid", lambda: code(cose=dict(unprotected={4: STRANGER.kid})), *OK),
    V("accept-cti-8-bytes", lambda: code(cti=bytes(8)), *OK),
    V("accept-cti-16-bytes", lambda: code(cti=bytes(range(16))), *OK),
    V("accept-name-text", lambda: code(name="张*明"), *OK),
    # Ambiguous: the spec does not say what to do with unknown CWT claims.
    # Reading: CWT semantics, unknown claims are ignored.
    V("accept-unknown-claim", lambda: code(extra={99: "x", 2: "sub"}), *OK, amb=True),
    # ---- 3 unknown_key -----------------------------------------------------
    V("unknown-key-stranger", lambda: code(STRANGER), "deny", "unknown_key"),
    # Root keys only sign bundles; they are not code-signing keys.
    V("unknown-key-root-signed-code", lambda: code(ROOT1), "deny", "unknown_key"),
    # kid in "revoked" but not in "keys": check 3 (unknown_key) runs before 5.
    V("unknown-key-beats-revoked", lambda: code(REVOKED_ONLY), "deny", "unknown_key"),
    V("order-malformed-beats-unknown-key", lambda: code(STRANGER, cti=bytes(7)), "deny", "malformed"),
    # ---- 4 bad_signature ---------------------------------------------------
    V("badsig-flipped-bit", lambda: code(cose=dict(signature=flip)), "deny", "bad_signature"),
    V("badsig-signed-by-other-key", lambda: code(cose=dict(sign_with=STRANGER)), "deny", "bad_signature"),
    V("badsig-signed-raw-payload", lambda: code(cose=dict(signed_bytes=payload_bytes())), "deny", "bad_signature"),
    V("badsig-context-Signature", lambda: code(cose=dict(context="Signature")), "deny", "bad_signature"),
    V("badsig-nonempty-external-aad", lambda: code(cose=dict(external_aad=b"x")), "deny", "bad_signature"),
    V(
        "badsig-payload-swapped",
        lambda: code(status=0, cose=dict(signed_payload=payload_bytes(status=2))),
        "deny",
        "bad_signature",
    ),
    # ---- 5 key_revoked -----------------------------------------------------
    V("key-revoked", lambda: code(A_REV), "deny", "key_revoked"),
    V("order-badsig-beats-revoked", lambda: code(A_REV, cose=dict(signature=flip)), "deny", "bad_signature"),
    V("order-revoked-beats-key-expired", lambda: code(A_REV, iat=NOW - YEAR - DAY, kind=1), "deny", "key_revoked"),
    # ---- 6 key_expired (iat within the key's [nbf, exp], inclusive) --------
    V("key-expired-iat-after-key-exp", lambda: code(A_WIN, iat=WIN_EXP + 1), "deny", "key_expired"),
    V("key-expired-iat-before-nbf", lambda: code(A_WIN, iat=WIN_NBF - 1, kind=1), "deny", "key_expired"),
    V("key-window-iat-eq-nbf-ok", lambda: code(A_WIN, iat=WIN_NBF, kind=1), *OK),
    # now is past the key's exp: the key window applies to the code's iat.
    V("key-window-iat-eq-exp-ok", lambda: code(A_WIN, iat=WIN_EXP), *OK),
    V(
        "order-key-expired-beats-issuer-mismatch",
        lambda: code(A_WIN, iat=WIN_EXP + 1, iss=ISS_B),
        "deny",
        "key_expired",
    ),
    # ---- 7 issuer_mismatch -------------------------------------------------
    V("issuer-mismatch", lambda: code(A1, iss=ISS_B), "deny", "issuer_mismatch"),
    V(
        "order-issuer-mismatch-beats-not-yet-valid",
        lambda: code(B1, iss=ISS_A, iat=NOW + 1000),
        "deny",
        "issuer_mismatch",
    ),
    # ---- 8 not_yet_valid: iat > now + skew (skew 120) -----------------------
    V("not-yet-valid-iat-now+121", lambda: code(iat=NOW + 121), "deny", "not_yet_valid"),
    V("not-yet-valid-edge-iat-now+120-ok", lambda: code(iat=NOW + 120), *OK),
    V("order-not-yet-valid-beats-expired", lambda: code(iat=NOW + 1000, exp=NOW - 1000), "deny", "not_yet_valid"),
    # ---- 9 expired: exp < now - skew ----------------------------------------
    V("expired-exp-now-121", lambda: code(iat=NOW - 200, exp=NOW - 121), "deny", "expired"),
    V("expired-edge-exp-now-120-ok", lambda: code(iat=NOW - 200, exp=NOW - 120), *OK),
    V("order-expired-beats-too-old", lambda: code(iat=NOW - 10000, exp=NOW - 5000), "deny", "expired"),
    V("order-expired-beats-red", lambda: code(iat=NOW - 200, exp=NOW - 121, status=2), "deny", "expired"),
    # ---- 10 too_old: dynamic and now - iat > max_age (300); no skew ---------
    V("too-old-age-301", lambda: code(iat=NOW - 301), "deny", "too_old"),
    V("too-old-edge-age-300-ok", lambda: code(iat=NOW - 300), *OK),
    V("order-too-old-beats-red", lambda: code(iat=NOW - 301, status=2), "deny", "too_old"),
    V("printed-ignores-max-age", lambda: code(kind=1, iat=NOW - 200 * DAY, exp=NOW + DAY), *OK),
    # ---- 11 printed_not_accepted -------------------------------------------
    V("printed-not-accepted", lambda: code(kind=1), "deny", "printed_not_accepted", opts=["--no-printed"]),
    V("no-printed-dynamic-ok", lambda: code(kind=0), *OK, opts=["--no-printed"]),
    V(
        "order-printed-not-accepted-beats-red",
        lambda: code(kind=1, status=2),
        "deny",
        "printed_not_accepted",
        opts=["--no-printed"],
    ),
    V(
        "order-old-printed-not-too-old",
        lambda: code(kind=1, iat=NOW - 5000),
        "deny",
        "printed_not_accepted",
        opts=["--no-printed"],
    ),
    V(
        "order-expired-beats-printed-not-accepted",
        lambda: code(kind=1, iat=NOW - 5000, exp=NOW - 4000),
        "deny",
        "expired",
        opts=["--no-printed"],
    ),
    # ---- 12/13 status ------------------------------------------------------
    V("status-red", lambda: code(status=2), "deny", "status_red"),
    V("status-amber", lambda: code(status=1), "deny", "status_amber"),
    V("order-red-beats-fever", lambda: code(status=2), "deny", "status_red", opts=["--temperature", "38.5"]),
    V("order-amber-beats-fever", lambda: code(status=1), "deny", "status_amber", opts=["--temperature", "38.5"]),
    V("order-amber-beats-implausible", lambda: code(status=1), "deny", "status_amber", opts=["--temperature", "30.0"]),
    # ---- 15/16 temperature (plausible [34.0, 43.0], fever >= 37.3) ---------
    V("temp-37.29-ok", lambda: code(), *OK, opts=["--temperature", "37.29"]),
    V("temp-37.3-fever", lambda: code(), "deny", "fever", opts=["--temperature", "37.3"]),
    V("temp-34.0-plausible-ok", lambda: code(), *OK, opts=["--temperature", "34.0"]),
    V("temp-33.9-implausible", lambda: code(), "retry", "temperature_implausible", opts=["--temperature", "33.9"]),
    # 43.0 is inside the plausible range, so the fever check decides.
    V("temp-43.0-plausible-fever", lambda: code(), "deny", "fever", opts=["--temperature", "43.0"]),
    V(
        "order-temp-43.1-implausible-beats-fever",
        lambda: code(),
        "retry",
        "temperature_implausible",
        opts=["--temperature", "43.1"],
    ),
    # ---- --skew / --max-age -------------------------------------------------
    V("skew0-iat-now+1", lambda: code(iat=NOW + 1), "deny", "not_yet_valid", opts=["--skew", "0"]),
    V("skew0-iat-now-ok", lambda: code(iat=NOW), *OK, opts=["--skew", "0"]),
    V("skew0-exp-now-1", lambda: code(exp=NOW - 1), "deny", "expired", opts=["--skew", "0"]),
    V("skew600-iat-now+601", lambda: code(iat=NOW + 601), "deny", "not_yet_valid", opts=["--skew", "600"]),
    V("maxage60-age60-ok", lambda: code(iat=NOW - 60), *OK, opts=["--max-age", "60"]),
    V("maxage60-age61", lambda: code(iat=NOW - 61), "deny", "too_old", opts=["--max-age", "60"]),
]


@pytest.mark.parametrize("build, opts, verdict, reason", VECTORS)
def test_vector(world, build, opts, verdict, reason):
    expect(run(world, build(), opts=opts), verdict, reason)


# --------------------------------------------------------------------------
# Output fields
# --------------------------------------------------------------------------


def test_fields_pass_dynamic_with_temperature(world):
    o = expect(run(world, code(), opts=["--temperature", "36.5"]), "pass", "ok")
    assert o["status"] == "green"
    assert same_hex(o["kid"], A1.kid)
    assert o["iss"] == ISS_A
    assert same_hex(o["subject"], SUBJ)
    assert o["iat"] == IAT and o["exp"] == EXP
    assert type(o["iat"]) is int and type(o["exp"]) is int
    assert o["kind"] == "dynamic"
    assert o["temperature"] == 36.5


def test_fields_pass_printed_no_temperature(world):
    iat = NOW - 30 * DAY
    o = expect(run(world, code(B1, iss=ISS_B, kind=1, iat=iat, name="张*明")), "pass", "ok")
    assert (o["status"], o["iss"], o["kind"], o["iat"], o["exp"], o["temperature"]) == (
        "green",
        ISS_B,
        "printed",
        iat,
        EXP,
        None,
    )
    assert same_hex(o["kid"], B1.kid) and same_hex(o["subject"], SUBJ)


def test_fields_not_health_code_are_null(world):
    # Nothing was decoded, so there is nothing to report but the verdict.
    o = expect(run(world, "HELLO"), "deny", "not_health_code")
    for f in ("status", "kid", "iss", "subject", "iat", "exp", "kind"):
        assert o[f] is None, f"{f}={o[f]!r}"


# Ambiguous: the spec does not say whether a deny after the signature has
# verified still reports the code's fields.  Reading: once the signature and
# key checks (1-7) have held, the fields are authentic and are reported.
@AMB
@pytest.mark.parametrize(
    "over, opts, verdict, reason, status, temp",
    [
        pytest.param(dict(iat=NOW - 200, exp=NOW - 121), [], "deny", "expired", "green", None, id="expired"),
        pytest.param(dict(status=2), [], "deny", "status_red", "red", None, id="status_red"),
        pytest.param(dict(), ["--temperature", "38.0"], "deny", "fever", "green", 38.0, id="fever"),
    ],
)
def test_fields_after_verified_deny(world, over, opts, verdict, reason, status, temp):
    c = dict(iat=IAT, exp=EXP)
    c.update(over)
    o = expect(run(world, code(**c), opts=opts), verdict, reason)
    assert o["status"] == status and o["iss"] == ISS_A and o["kind"] == "dynamic"
    assert same_hex(o["kid"], A1.kid) and same_hex(o["subject"], SUBJ)
    assert o["iat"] == c["iat"] and o["exp"] == c["exp"] and o["temperature"] == temp


# --------------------------------------------------------------------------
# Temperature corner cases
# --------------------------------------------------------------------------


# Ambiguous: reason 14 (temperature_missing) cannot be produced through this
# CLI: "Without --temperature, no temperature is required", and with it there
# is always a reading.  What the CLI can show is the first half of that rule:
# a code that is otherwise good passes with no temperature at all (the kiosk's
# own tests cover temperature_missing through its checkpoint).
@AMB
@pytest.mark.parametrize("over", [dict(), dict(kind=1), dict(status=0, name="张*明")])
def test_without_temperature_no_temperature_is_required(world, over):
    o = expect(run(world, code(iat=IAT, exp=EXP, **over)), "pass", "ok")
    assert o["temperature"] is None


# Ambiguous: "--temperature nan" / "inf" are floats to Python but not
# readings.  Reading: they must never pass (a naive `t < 34 or t > 43` /
# `t >= 37.3` lets NaN through); accepted outcomes are a usage error (exit 2)
# or a retry with temperature_missing / temperature_implausible.  Either way
# stdout must stay strict JSON (no bare NaN / Infinity tokens).
@AMB
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_temperature_non_finite_never_passes(world, value):
    res = run(world, code(), opts=["--temperature", value])
    if res.rc == 2:
        expect_usage_error(res)
    else:
        o = res.obj()
        assert (res.rc, o["verdict"]) == (3, "retry") and o["reason"] in (
            "temperature_missing",
            "temperature_implausible",
        ), res.describe()


# --------------------------------------------------------------------------
# --now forms
# --------------------------------------------------------------------------


# The code is 60 s old and valid for an hour: any mistake of an hour or more
# in reading --now gives too_old or not_yet_valid.
@pytest.mark.parametrize(
    "now",
    [
        pytest.param(str(NOW), id="epoch"),
        pytest.param("2024-03-01T12:00:00Z", id="iso-Z"),
        pytest.param("2024-03-01T20:00:00+08:00", id="iso-+08:00"),
    ],
)
def test_now_forms(world, now):
    expect(run(world, code(), now=now), "pass", "ok")


# Ambiguous: an ISO 8601 time without an offset.  Reading: UTC, as every
# time in the spec is UTC.  Run with TZ=Asia/Shanghai so that a local-time
# reading (04:00Z) would give not_yet_valid.
@AMB
def test_now_iso_without_offset_is_utc(world):
    res = run(world, code(), now="2024-03-01T12:00:00", env={"TZ": "Asia/Shanghai"})
    expect(res, "pass", "ok")


def test_now_defaults_to_current_time(tmp_path):
    real = int(time.time())
    keys = [F.key_entry(A1, iss=ISS_A, nbf=real - DAY, exp=real + DAY)]
    d = write_std(tmp_path, bundle=std_bundle(keys))
    expect(run(d, code(iat=real - 30, exp=real + 3600), now=None), "pass", "ok")


# --------------------------------------------------------------------------
# Input: stdin and --image
# --------------------------------------------------------------------------


def test_stdin_dash(world):
    expect(run(world, "-", stdin=code()), "pass", "ok")


# Ambiguous: a line read from stdin normally ends in "\n", which is not in
# the Base45 alphabet.  Reading: one trailing newline (LF or CRLF) is the line
# terminator, not part of the text.
@AMB
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_stdin_dash_trailing_newline(world, eol):
    expect(run(world, "-", stdin=code() + eol), "pass", "ok")


def _segno():
    return pytest.importorskip("segno")


def _blank_png(path, w=80, h=80):
    rows = b"".join(b"\x00" + b"\xff" * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


def test_image_valid_code(world, tmp_path):
    segno = _segno()
    png = tmp_path / "code.png"
    text = code()
    qr = segno.make_qr(text, error="m")
    assert qr.mode == "alphanumeric"  # spec 1: the text fits alphanumeric mode
    qr.save(str(png), scale=6, border=4)
    o = expect(run(world, None, opts=["--image", png]), "pass", "ok")
    assert same_hex(o["subject"], SUBJ)


def test_image_qr_that_is_not_a_health_code(world, tmp_path):
    segno = _segno()
    png = tmp_path / "hello.png"
    segno.make_qr("HELLO WORLD").save(str(png), scale=6, border=4)
    expect(run(world, None, opts=["--image", png]), "deny", "not_health_code")


def test_image_without_qr_is_exit_2(world, tmp_path):
    expect_usage_error(run(world, None, opts=["--image", _blank_png(tmp_path / "blank.png")]))


def test_image_missing_file_is_exit_2(world, tmp_path):
    expect_usage_error(run(world, None, opts=["--image", tmp_path / "nope.png"]))


# --------------------------------------------------------------------------
# Usage and I/O errors (exit 2, empty stdout, one-line stderr)
# --------------------------------------------------------------------------


def test_missing_trust_dir_is_exit_2(tmp_path):
    expect_usage_error(run(tmp_path / "no-such-dir", code()))


def test_trust_path_is_a_file_is_exit_2(tmp_path):
    f = tmp_path / "trust"
    f.write_text("x")
    expect_usage_error(run(f, code()))


@pytest.mark.parametrize(
    "opts, text",
    [
        pytest.param([], None, id="no-text"),
        pytest.param(["--temperature", "warm"], "CODE", id="bad-temperature"),
        pytest.param(["--max-age", "five"], "CODE", id="bad-max-age"),
        pytest.param(["--now", "yesterday"], "CODE", id="bad-now"),
        pytest.param(["--image", "IMG"], "CODE", id="text-and-image"),
    ],
)
def test_usage_errors(world, tmp_path, opts, text):
    opts = [str(_blank_png(tmp_path / "b.png")) if o == "IMG" else o for o in opts]
    now = None if "--now" in opts else NOW
    expect_usage_error(run(world, code() if text == "CODE" else text, now=now, opts=opts))


# --------------------------------------------------------------------------
# Trust directory
# --------------------------------------------------------------------------


def test_bundle_signed_by_second_root(tmp_path):
    d = write_std(tmp_path, bundle_signer=ROOT2)
    expect(run(d, code()), "pass", "ok")


def _fail_closed(res):
    """The CLI may refuse the trust directory (exit 2) or run with no usable
    keys (deny unknown_key); it must never pass."""
    if res.rc == 2:
        expect_usage_error(res)
    else:
        expect(res, "deny", "unknown_key")


# Ambiguous: the spec says what a valid trust directory is, not what the
# one-shot command does with an invalid one.  Reading: either "unreadable
# trust directory" (exit 2) or "no trusted keys" (unknown_key); never pass.
@AMB
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param(dict(bundle_signer=STRANGER), id="bundle-signed-by-unpinned-key"),
        pytest.param(dict(bundle_cose_kw=dict(signature=flip)), id="bundle-bad-signature"),
        pytest.param(dict(roots={}), id="no-roots"),
        pytest.param(dict(bundle=None), id="no-trust-cose"),
        pytest.param(dict(bundle_bytes=b"\x00garbage"), id="trust-cose-garbage"),
        pytest.param(dict(bundle=F.status_payload(iss=ISS_A, entries=[])), id="trust-cose-is-a-status-list"),
    ],
)
def test_bad_trust_dir_fails_closed(tmp_path, kw):
    _fail_closed(run(write_std(tmp_path, **kw), code()))


# Ambiguous (as above): a bundle entry whose kid is not sha256(pub)[:8].
# The code is signed by A1's private key but carries the entry's claimed kid.
# Reading: the entry (or the whole bundle) is rejected; never pass.
@AMB
def test_bundle_entry_kid_not_hash_of_pub_fails_closed(tmp_path):
    bad = F.key_entry(A1, iss=ISS_A, nbf=NOW - YEAR, exp=NOW + YEAR, kid=STRANGER.kid)
    d = write_std(tmp_path, bundle=std_bundle([bad]))
    _fail_closed(run(d, code(A1, cose=dict(kid=STRANGER.kid))))


# --------------------------------------------------------------------------
# Status list (spec section 4): since > iat replaces the code's status
# --------------------------------------------------------------------------


def _status_dir(tmp_path, entries, *, iss=ISS_A, signer=A1):
    return write_std(
        tmp_path, status=F.status_payload(iss=iss, entries=entries, seq=3, iat=NOW - 10), status_signer=signer
    )


@pytest.mark.parametrize(
    "code_status, entries, verdict, reason",
    [
        pytest.param(0, [[SUBJ, 2, IAT + 1]], "deny", "status_red", id="since>iat-red"),
        pytest.param(0, [[SUBJ, 1, IAT + 1]], "deny", "status_amber", id="since>iat-amber"),
        pytest.param(0, [[SUBJ, 2, IAT]], "pass", "ok", id="since==iat-ignored"),
        pytest.param(0, [[SUBJ, 2, IAT - 100]], "pass", "ok", id="since<iat-ignored"),
        pytest.param(2, [[SUBJ, 0, IAT + 1]], "pass", "ok", id="since>iat-red-cleared"),
        pytest.param(0, [[SUBJ2, 2, IAT + 1]], "pass", "ok", id="other-subject"),
        pytest.param(0, [[SUBJ2, 0, IAT + 1], [SUBJ, 2, IAT + 5]], "deny", "status_red", id="second-entry-matches"),
    ],
)
def test_status_list(tmp_path, code_status, entries, verdict, reason):
    expect(run(_status_dir(tmp_path, entries), code(status=code_status)), verdict, reason)


def test_status_list_of_another_issuer_is_ignored(tmp_path):
    # A list from issuer B (signed by B's key) names our subject; the code
    # is from issuer A, so its own status stands ...
    d = _status_dir(tmp_path, [[SUBJ, 2, IAT + 1]], iss=ISS_B, signer=B1)
    expect(run(d, code(A1, iss=ISS_A)), "pass", "ok")


def test_status_list_applies_to_its_own_issuer(tmp_path):
    # ... while the same list does apply to a code from issuer B.
    d = _status_dir(tmp_path, [[SUBJ, 2, IAT + 1]], iss=ISS_B, signer=B1)
    expect(run(d, code(B1, iss=ISS_B)), "deny", "status_red")


# Ambiguous: "status" in the JSON after a status-list override.  Reading:
# the effective status (the one the verdict is based on).
@AMB
def test_status_field_is_effective_status(tmp_path):
    d = _status_dir(tmp_path, [[SUBJ, 0, IAT + 1]])
    o = expect(run(d, code(status=1)), "pass", "ok")
    assert o["status"] == "green"


# Ambiguous: several entries for one subject.  Reading: the entry with the
# latest `since` (among those after iat) is the current status, whatever its
# position in the list.
@AMB
def test_status_list_latest_since_wins(tmp_path):
    d = _status_dir(tmp_path, [[SUBJ, 0, IAT + 20], [SUBJ, 2, IAT + 10]])
    expect(run(d, code(status=0)), "pass", "ok")


# Ambiguous: what to do with a status list that is not signed by a key of
# the bundle with the list's iss.  Reading: such a list is not trusted: it
# is ignored (the code's own status stands) or the trust directory is
# refused (exit 2).  It must never turn a red code green.
@AMB
@pytest.mark.parametrize(
    "signer",
    [
        pytest.param(B1, id="signed-by-other-issuers-key"),
        pytest.param(STRANGER, id="signed-by-key-not-in-bundle"),
        pytest.param(A_REV, id="signed-by-revoked-key"),
    ],
)
def test_untrusted_status_list_cannot_clear_red(tmp_path, signer):
    d = _status_dir(tmp_path, [[SUBJ, 0, IAT + 1]], iss=ISS_A, signer=signer)
    res = run(d, code(status=2))
    if res.rc == 2:
        expect_usage_error(res)
    else:
        expect(res, "deny", "status_red")
