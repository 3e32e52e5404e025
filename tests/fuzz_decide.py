"""Coverage-guided fuzzing of the verifier (atheris, libFuzzer): decide() must give one verdict that prints.

    .venv/bin/python tests/fuzz_decide.py -max_total_time=60      # what ./run.sh test runs
    .venv/bin/python tests/fuzz_decide.py -runs=100000 CORPUS_DIR  # longer, keeping what it found

Each input is split by its first byte into one of ten shapes, so that the fuzzer
reaches past the signature check, where a trusted key has vouched for the bytes:
  0  any text                                   -> passes only with what a key signed
  1  "PHC1:" + Base45 of any bytes              -> likewise
  2  any claims payload, signed by a trusted key with a valid protected header
  3  any protected header, signed by a trusted key over valid claims
  4  a signed code built field by field by a CBOR grammar the input steers
and the same for HC1 (the EU DCC, issue 15), signed by a trusted document signer certificate (DSC):
  5  "HC1:" + Base45 of zlib of any bytes (the COSE)   -> passes only with what the DSC signed
  6  "HC1:" + Base45 of any bytes (the zlib stream)     -> likewise
  7  any claims payload, signed by the DSC with a valid protected header
  8  any protected header, signed by the DSC over valid claims
  9  a DSC-signed DCC built field by field (claims, hcert, the DCC's text-keyed maps, its entry)
A crash (an exception out of decide_strict, a verdict whose JSON does not print, a log_unavailable,
or a pass in shapes 0, 1, 5 and 6 of content no key signed) is reported by libFuzzer with the input that caused it.
Not collected by pytest (no test_ prefix); the property tests cover the same
ground with hand-built CBOR in tests/test_hostile_properties.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import zlib
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["kiosk"]):
    from nacl.signing import SigningKey

    from kiosk import cose
    from kiosk.base45 import b45encode
    from kiosk.formats import hc1
    from kiosk.formats.hc1_issue import make_csca, make_dsc, sign_hc1
    from kiosk.healthcode import HealthCode, decode_text, encode_claims
    from kiosk.issuer import KeyGrant, sign_bundle
    from kiosk.policy import Policy
    from kiosk.trust import TrustStore, parse_bundle
    from kiosk.verdict import decide_strict

NOW = 1_780_000_000
ISS = "CN-120000"


def _key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(name.encode()).digest())


ISSUER, ROOT = _key("issuer"), _key("root")
_root_kid = cose.kid_of(bytes(ROOT.verify_key))
DSC = make_dsc(make_csca("DE", not_before=NOW - 2 * 86400, not_after=NOW + 2 * 86400), country="DE",
               not_before=NOW - 86400, not_after=NOW + 86400)
STORE = TrustStore(parse_bundle(
    sign_bundle(ROOT, seq=1, iat=NOW, keys=[KeyGrant(bytes(ISSUER.verify_key), ISS, NOW - 86400, NOW + 86400)],
                revoked=[], dscs=[DSC.der]),
    {_root_kid: bytes(ROOT.verify_key)}))
POLICY = Policy()
CLAIMS = encode_claims(HealthCode(ISS, NOW + 3600, NOW - 60, b"\x01" * 12, 0, bytes(16), 0, "张*明"))
HEADER = bytes.fromhex("a20127") + b"\x04\x48" + cose.kid_of(bytes(ISSUER.verify_key))


def _signed(protected: bytes, payload: bytes) -> str:
    signature = ISSUER.sign(cose.to_be_signed(protected, payload)).signature
    # [protected, {}, payload, signature] under tag 18, written by hand: the parts are any bytes.
    body = b"\xd2\x84" + _bstr(protected) + b"\xa0" + _bstr(payload) + _bstr(signature)
    return "PHC1:" + b45encode(body)


def _bstr(data: bytes) -> bytes:
    return cose._bstr_head(len(data)) + data


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    width = 1 if arg < 1 << 8 else 2 if arg < 1 << 16 else 4 if arg < 1 << 32 else 8
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[width]]) + arg.to_bytes(width, "big")


def _item(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> bytes:
    """One CBOR item chosen by the input: the fuzzer steers a grammar rather than raw bytes.

    cbor2 is C code that atheris cannot see into, so raw bytes give it no coverage to
    climb; choices made here do (bignums of any size, odd keys, tags, floats, nesting).
    """
    kind = fdp.ConsumeIntInRange(0, 11 if depth < 8 else 6)
    if kind == 0:
        return _head(fdp.ConsumeIntInRange(0, 1), fdp.ConsumeIntInRange(0, 2**64 - 1))
    if kind == 1:
        return _head(6, fdp.ConsumeIntInRange(2, 3)) + _bstr(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 3000)))
    if kind == 2:
        return _bstr(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40)))
    if kind == 3:
        text = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
        return _head(3, len(text)) + text  # may not be UTF-8
    if kind == 4:
        width = fdp.ConsumeIntInRange(0, 2)  # a half, single or double float
        return bytes([0xF9 + width]) + fdp.ConsumeBytes((2, 4, 8)[width])
    if kind == 5:
        return bytes([0xE0 | fdp.ConsumeIntInRange(0, 24)]) + fdp.ConsumeBytes(1)
    if kind == 6:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8))  # stray bytes, maybe a truncated item
    if kind in (7, 8):
        count = fdp.ConsumeIntInRange(0, 4)
        parts = [_item(fdp, depth + 1) for _ in range(count * (kind - 6))]
        return _head(4 + kind - 7, count) + b"".join(parts)
    if kind == 9:
        return _head(6, fdp.ConsumeIntInRange(0, 2**64 - 1)) + _item(fdp, depth + 1)
    if kind == 10:
        return b"\x81" * fdp.ConsumeIntInRange(0, 2000) + b"\x00"
    return b"\xbf" + _item(fdp, depth + 1) + _item(fdp, depth + 1) + b"\xff"


def _structured(fdp: atheris.FuzzedDataProvider) -> str:
    """A signed code whose header and claims are valid field by field, unless the input says otherwise."""
    def field(valid: bytes) -> bytes:
        return valid if fdp.ConsumeBool() else _item(fdp)

    kid = cose.kid_of(bytes(ISSUER.verify_key))
    header = [(b"\x01", field(b"\x27")), (b"\x04", field(b"\x48" + kid))]
    phc = [(b"\x01", field(b"\x00")), (b"\x02", field(b"\x50" + bytes(16))), (b"\x03", field(b"\x00"))]
    claims = [(b"\x01", field(b"\x69" + ISS.encode())), (b"\x04", field(_head(0, NOW + 3600))),
              (b"\x06", field(_head(0, NOW - 60))), (b"\x07", field(b"\x4c" + b"\x01" * 12))]
    for pairs in (header, phc, claims):
        if fdp.ConsumeBool():  # a label that is not an integer, or any other extra pair
            pairs.insert(fdp.ConsumeIntInRange(0, len(pairs)), (_item(fdp), _item(fdp)))
    phc_bytes = _head(5, len(phc)) + b"".join(k + v for k, v in phc)
    claims.append((b"\x3a\x00\x01\x00\x00", field(phc_bytes)))
    return _signed(_head(5, len(header)) + b"".join(k + v for k, v in header),
                   _head(5, len(claims)) + b"".join(k + v for k, v in claims))


# HC1: a vaccination that counts at NOW (dose 2 of 2, 60 days before), signed ES256 by the DSC.
HC1_ENTRY = {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2, "sd": 2,
             "dt": "2026-03-29", "co": "DE", "is": "Robert Koch-Institut", "ci": "URN:UVCI:01DE/IZ12345A/5CWLU12R#W"}
HC1_NAMES = {"fn": "Müller", "fnt": "MUELLER", "gn": "Max"}
HC1_DCC = {"ver": "1.3.0", "nam": HC1_NAMES, "dob": "1964-08-12", "v": [HC1_ENTRY]}
HC1_VALID = sign_hc1(DSC, iat=NOW - 60, exp=NOW + 30 * 86400, hcert=HC1_DCC, iss="DE")
HC1_SIGNED = hc1.decode_text(HC1_VALID)  # what the DSC signed: shapes 5 and 6 may pass only with these bytes
HC1_HEADER, HC1_CLAIMS = HC1_SIGNED.protected, HC1_SIGNED.payload


def _hc1_signed(protected: bytes, payload: bytes) -> str:
    signature = sign_hc1_parts(protected, payload)
    body = b"\xd2\x84" + _bstr(protected) + b"\xa0" + _bstr(payload) + _bstr(signature)
    return "HC1:" + b45encode(zlib.compress(body))


def sign_hc1_parts(protected: bytes, payload: bytes) -> bytes:
    """ES256 (r || s) by the DSC over the Sig_structure of any protected header and payload bytes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    assert isinstance(DSC.key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(DSC.key.sign(cose.to_be_signed(protected, payload), ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _text(value: str) -> bytes:
    data = value.encode()
    return _head(3, len(data)) + data


def _pairs(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return _head(5, len(pairs)) + b"".join(k + v for k, v in pairs)


def _value(value: object) -> bytes:
    return _head(0, value) if isinstance(value, int) else _text(str(value))


def _structured_hc1(fdp: atheris.FuzzedDataProvider) -> str:
    """A DSC-signed DCC whose every field is valid, unless the input says otherwise.

    The first 8 bytes are a mask, a bit per choice (a field replaced by any item, an extra pair in a map); the
    items come from the rest. So one flipped bit changes one field, whatever the others are: from the seed of
    all valid fields the fuzzer reaches each field's checks in one step.
    """
    mask = int.from_bytes(fdp.ConsumeBytes(8), "little")
    choice = iter(range(64))

    def field(valid: bytes) -> bytes:
        return _item(fdp) if mask >> next(choice) & 1 else valid

    def extra(pairs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        if mask >> next(choice) & 1:  # a key of any kind, a second certificate, a duplicate: any other pair
            pairs.insert(fdp.ConsumeIntInRange(0, len(pairs)), (_item(fdp), _item(fdp)))
        return pairs

    entry = extra([(_text(k), field(_value(v))) for k, v in HC1_ENTRY.items()])
    names = extra([(_text(k), field(_text(v))) for k, v in HC1_NAMES.items()])
    dcc = extra([(_text("ver"), field(_text("1.3.0"))), (_text("nam"), field(_pairs(names))),
                 (_text("dob"), field(_text("1964-08-12"))), (_text("v"), field(b"\x81" + _pairs(entry)))])
    hcert = extra([(b"\x01", field(_pairs(dcc)))])
    claims = extra([(b"\x01", field(_text("DE"))), (b"\x04", field(_head(0, NOW + 30 * 86400))),
                    (b"\x06", field(_head(0, NOW - 60))), (b"\x39\x01\x03", field(_pairs(hcert)))])
    header = extra([(b"\x01", field(b"\x26")), (b"\x04", field(b"\x48" + DSC.kid))])
    return _hc1_signed(_pairs(header), _pairs(claims))


def one_input(data: bytes) -> None:
    if not data:
        return
    shape, rest = data[0] % 10, data[1:]
    if shape == 0:
        text = rest.decode("utf-8", errors="replace")
    elif shape == 1:
        text = "PHC1:" + b45encode(rest)
    elif shape == 2:
        text = _signed(HEADER, rest)
    elif shape == 3:
        text = _signed(rest, CLAIMS)
    elif shape == 4:
        text = _structured(atheris.FuzzedDataProvider(rest))
    elif shape == 5:
        text = "HC1:" + b45encode(zlib.compress(rest))
    elif shape == 6:
        text = "HC1:" + b45encode(rest)
    elif shape == 7:
        text = _hc1_signed(HC1_HEADER, rest)
    elif shape == 8:
        text = _hc1_signed(rest, HC1_CLAIMS)
    else:
        text = _structured_hc1(atheris.FuzzedDataProvider(rest))
    verdict = decide_strict(text, STORE, POLICY, None, NOW)
    json.dumps(verdict.as_json(), ensure_ascii=False, allow_nan=False)
    if verdict.reason == "log_unavailable":  # the recording step's reason (spec section 8), never the verifier's
        raise AssertionError(f"decide() said the log is down: {text[:80]}")
    if shape in (0, 1, 5, 6) and verdict.verdict == "pass":
        # Only what a trusted key signed may pass; the envelope around it may vary (COSE allows that).
        if text.startswith(hc1.PREFIX):
            scanned = hc1.decode_text(text)
            signed = (scanned.protected, scanned.payload) == (HC1_HEADER, HC1_CLAIMS)
        else:
            sign1 = decode_text(text).sign1
            signed = (sign1.protected, sign1.payload) == (HEADER, CLAIMS)
        if not signed:
            raise AssertionError(f"an input no key signed passed: {text[:80]}")


def seeds() -> list[bytes]:
    """Valid inputs of each shape, to start from: random bytes rarely get through CBOR to the claims."""
    valid = _signed(HEADER, CLAIMS)
    assert decide_strict(valid, STORE, POLICY, None, NOW).reason == "ok"  # the harness itself works
    assert decide_strict(HC1_VALID, STORE, POLICY, None, NOW).reason == "ok"
    assert decide_strict(_hc1_signed(HC1_HEADER, HC1_CLAIMS), STORE, POLICY, None, NOW).reason == "ok"
    grammar = [b"\x04" + _noise(number, size) for number, size in enumerate((64, 512, 3000))]
    compressed = _b45_body(HC1_VALID)
    valid_fields = bytes(8)  # the grammar's mask: nothing replaced, nothing added
    grammar_hc1 = _structured_hc1(atheris.FuzzedDataProvider(valid_fields))
    assert decide_strict(grammar_hc1, STORE, POLICY, None, NOW).reason == "ok"
    hc1_seeds = [b"\x00" + HC1_VALID.encode(), b"\x05" + zlib.decompress(compressed), b"\x06" + compressed,
                 b"\x07" + HC1_CLAIMS, b"\x08" + HC1_HEADER, b"\x09" + valid_fields]
    return [b"\x00" + valid.encode(), b"\x02" + CLAIMS, b"\x03" + HEADER, *grammar, *hc1_seeds]


def _b45_body(text: str) -> bytes:
    from kiosk.base45 import b45decode

    return b45decode(text[len(hc1.PREFIX):])


def _noise(number: int, size: int) -> bytes:
    """Fixed pseudo-random bytes: choices for the grammar to start from, the same on every run."""
    blocks = (hashlib.sha256(f"{number}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


atheris.instrument_func(_item)
atheris.instrument_func(_structured)
atheris.instrument_func(_structured_hc1)


def main() -> None:
    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):  # no corpus folder given: start from the seeds
        folder = tempfile.mkdtemp(prefix="fuzz-decide-")
        for number, seed in enumerate(seeds()):
            Path(folder, f"seed{number}").write_bytes(seed)
        argv.append(folder)
    if not any(arg.startswith("-dict=") for arg in argv):
        argv.append(f"-dict={Path(__file__).with_suffix('.dict')}")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
