"""A minimal, independent health-code issuer written from the spec only.

Built on cbor2, nacl.signing and hashlib plus a Base45 encoder written from
RFC 9285.  Nothing here imports the ``kiosk`` package: the point of these
vectors is to check the verifier against an independent reading of
docs/health-code.md (the spec).

Every function takes keyword overrides so that a test can build broken
variants (wrong alg, short kid, missing claims, bad signature, odd COSE
shape, ...).  The sentinel ``MISSING`` removes a field altogether.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import cbor2
from nacl.signing import SigningKey, VerifyKey

__all__ = [
    "ALPHABET",
    "DEFAULT",
    "MISSING",
    "PREFIX",
    "Key",
    "b45decode",
    "b45encode",
    "bundle_payload",
    "claims",
    "cose_sign1",
    "health_code",
    "key_entry",
    "kid_of",
    "make_key",
    "qr_text",
    "sig_structure",
    "status_payload",
    "write_trust_dir",
]

PREFIX = "PHC1:"
COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
PHC_CLAIM = -65537


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return self._name


#: Leave this field out entirely.
MISSING: Any = _Sentinel("MISSING")
#: Use the spec-conformant default for this field.
DEFAULT: Any = _Sentinel("DEFAULT")


# --------------------------------------------------------------------------
# Base45 (RFC 9285)
# --------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    """RFC 9285: each 2 bytes -> 3 chars (least significant first); a
    trailing single byte -> 2 chars."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out.append(ALPHABET[c] + ALPHABET[d] + ALPHABET[e])
    if len(data) % 2:
        n = data[-1]
        out.append(ALPHABET[n % 45] + ALPHABET[n // 45])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Strict RFC 9285 decoder (only used to self-check the encoder)."""
    if len(text) % 3 == 1:
        raise ValueError("base45: length is 1 mod 3")
    try:
        vals = [_INDEX[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"base45: bad character {exc}") from None
    out = bytearray()
    for i in range(0, len(vals), 3):
        chunk = vals[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("base45: triple out of range")
            out += bytes((n >> 8, n & 0xFF))
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("base45: pair out of range")
            out.append(n)
    return bytes(out)


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


def kid_of(pub: bytes) -> bytes:
    """kid = first 8 bytes of SHA-256 over the 32 raw public key bytes."""
    return hashlib.sha256(pub).digest()[:8]


class Key:
    """An Ed25519 key pair derived deterministically from a seed."""

    def __init__(self, seed: bytes, name: str = "") -> None:
        if len(seed) != 32:
            raise ValueError("seed must be 32 bytes")
        self.name = name
        self.seed = seed
        self.signing = SigningKey(seed)
        self.pub: bytes = bytes(self.signing.verify_key)
        self.kid: bytes = kid_of(self.pub)

    @property
    def pub_hex(self) -> str:
        return self.pub.hex()

    def sign(self, message: bytes) -> bytes:
        return self.signing.sign(message).signature

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            VerifyKey(self.pub).verify(message, signature)
        except Exception:
            return False
        return True

    def __repr__(self) -> str:
        return f"Key({self.name!r}, kid={self.kid.hex()})"


def make_key(name: str) -> Key:
    """Deterministic key: seed = SHA-256("phc-spec-vectors/" + name)."""
    seed = hashlib.sha256(b"phc-spec-vectors/" + name.encode()).digest()
    return Key(seed, name)


# --------------------------------------------------------------------------
# COSE_Sign1
# --------------------------------------------------------------------------


def _drop_missing(d: Mapping[Any, Any]) -> dict:
    return {k: v for k, v in d.items() if v is not MISSING}


def sig_structure(
    protected: bytes,
    payload: bytes,
    *,
    context: str = "Signature1",
    external_aad: bytes = b"",
) -> bytes:
    """RFC 9052 Sig_structure: ["Signature1", protected, external_aad, payload]."""
    return cbor2.dumps([context, protected, external_aad, payload])


def cose_sign1(
    payload: bytes,
    signer: Key,
    *,
    alg: Any = ALG_EDDSA,
    kid: Any = DEFAULT,
    protected_extra: Mapping[Any, Any] | None = None,
    protected_map: Any = None,
    protected_bstr: bytes | None = None,
    protected_item: Any = DEFAULT,
    unprotected: Any = DEFAULT,
    tag: int | None = COSE_SIGN1_TAG,
    sign_with: Key | None = None,
    context: str = "Signature1",
    external_aad: bytes = b"",
    signed_bytes: bytes | None = None,
    signed_payload: bytes | None = None,
    signature: Any = DEFAULT,
    payload_item: Any = DEFAULT,
    items: Callable[[list], Any] | None = None,
    trailing: bytes = b"",
) -> bytes:
    """Build COSE_Sign1 bytes.

    Normal output: tag 18 around [h'{1: -8, 4: kid}', {}, payload, sig].

    Overrides:
      alg / kid        value in the protected map (MISSING drops the label)
      protected_extra  extra labels appended to the protected map
      protected_map    the whole protected map object (encoded as given;
                       dict insertion order is kept)
      protected_bstr   raw bytes of the protected bstr (not re-encoded)
      protected_item   what goes in array slot 0 instead of the bstr
      unprotected      slot 1 (default {})
      tag              18 by default; None = untagged; any other int
      sign_with        private key that produces the signature
      context, external_aad, signed_payload, signed_bytes
                       change what is signed (signed_bytes = raw message)
      signature        raw bytes, or a callable(real_signature) -> bytes
      payload_item     what goes in slot 2 instead of the payload bstr
      items            callable(list_of_4) -> object to encode as the COSE item
      trailing         bytes appended after the encoded item
    """
    if protected_bstr is None:
        if protected_map is None:
            protected_map = _drop_missing({1: alg, 4: signer.kid if kid is DEFAULT else kid})
            if protected_extra:
                protected_map.update(protected_extra)
        protected_bstr = cbor2.dumps(protected_map)

    if signed_bytes is None:
        signed_bytes = sig_structure(
            protected_bstr,
            payload if signed_payload is None else signed_payload,
            context=context,
            external_aad=external_aad,
        )
    real_sig = (sign_with or signer).sign(signed_bytes)
    if signature is DEFAULT:
        sig = real_sig
    elif callable(signature):
        sig = signature(real_sig)
    else:
        sig = signature

    arr = [
        protected_bstr if protected_item is DEFAULT else protected_item,
        {} if unprotected is DEFAULT else unprotected,
        payload if payload_item is DEFAULT else payload_item,
        sig,
    ]
    obj = items(arr) if items is not None else arr
    if tag is not None:
        obj = cbor2.CBORTag(tag, obj)
    return cbor2.dumps(obj) + trailing


# --------------------------------------------------------------------------
# Health code payload
# --------------------------------------------------------------------------


def claims(
    *,
    iss: Any,
    exp: Any,
    iat: Any,
    cti: Any,
    status: Any = 0,
    subject: Any,
    kind: Any = 0,
    name: Any = MISSING,
    extra: Mapping[Any, Any] | None = None,
    phc_extra: Mapping[Any, Any] | None = None,
    phc: Any = DEFAULT,
    phc_label: Any = PHC_CLAIM,
) -> dict:
    """CWT claims {1: iss, 4: exp, 6: iat, 7: cti, -65537: {1: status,
    2: subject, 3: kind, 4: name?}}.  MISSING drops a field; phc replaces
    the whole health claim (MISSING drops it); phc_label moves it."""
    if phc is DEFAULT:
        phc = _drop_missing({1: status, 2: subject, 3: kind, 4: name})
        if phc_extra:
            phc.update(phc_extra)
    c = _drop_missing({1: iss, 4: exp, 6: iat, 7: cti, phc_label: phc})
    if extra:
        c.update(extra)
    return c


def qr_text(cose: bytes, prefix: str = PREFIX) -> str:
    return prefix + b45encode(cose)


def health_code(
    signer: Key,
    payload: Mapping[Any, Any] | bytes | Any,
    *,
    prefix: str = PREFIX,
    **cose_kw: Any,
) -> str:
    """ "PHC1:" + base45(COSE_Sign1(payload)).  payload may be a claims map
    (CBOR-encoded here), raw bytes, or any CBOR-encodable object."""
    if not isinstance(payload, (bytes, bytearray)):
        payload = cbor2.dumps(payload)
    return qr_text(cose_sign1(bytes(payload), signer, **cose_kw), prefix)


# --------------------------------------------------------------------------
# Trust directory
# --------------------------------------------------------------------------


def key_entry(
    key: Key,
    *,
    iss: Any,
    nbf: Any,
    exp: Any,
    kid: Any = DEFAULT,
    pub: Any = DEFAULT,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    e = _drop_missing(
        {
            "kid": key.kid if kid is DEFAULT else kid,
            "pub": key.pub if pub is DEFAULT else pub,
            "iss": iss,
            "nbf": nbf,
            "exp": exp,
        }
    )
    if extra:
        e.update(extra)
    return e


def bundle_payload(
    keys: Iterable[Mapping[str, Any]],
    *,
    revoked: Iterable[bytes] = (),
    seq: Any = 1,
    iat: Any = 0,
    type: Any = "trust",
) -> dict:
    """{"type": "trust", "seq": uint, "iat": int, "keys": [...], "revoked": [...]}"""
    return _drop_missing(
        {
            "type": type,
            "seq": seq,
            "iat": iat,
            "keys": list(keys),
            "revoked": list(revoked),
        }
    )


def status_payload(
    *,
    iss: Any,
    entries: Iterable[Any],
    seq: Any = 1,
    iat: Any = 0,
    type: Any = "status",
) -> dict:
    """{"type": "status", "seq": uint, "iat": int, "iss": text,
    "entries": [[subject16, status, since], ...]}"""
    return _drop_missing(
        {
            "type": type,
            "seq": seq,
            "iat": iat,
            "iss": iss,
            "entries": [list(e) for e in entries],
        }
    )


def write_trust_dir(
    path: Path | str,
    *,
    roots: Mapping[str, Key] | Iterable[Key],
    bundle: Mapping[str, Any] | None = None,
    bundle_signer: Key | None = None,
    bundle_bytes: bytes | None = None,
    bundle_cose_kw: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    status_signer: Key | None = None,
    status_bytes: bytes | None = None,
    status_cose_kw: Mapping[str, Any] | None = None,
    root_lines: Mapping[str, str] | None = None,
) -> Path:
    """Write roots/NAME.pub (one line of 64 hex digits), trust.cose
    (bundle signed by bundle_signer) and, if given, status.cose (status list
    signed by status_signer).  *_bytes write raw file contents instead;
    bundle=None and bundle_bytes=None leaves trust.cose out; root_lines
    writes arbitrary root files."""
    path = Path(path)
    rootdir = path / "roots"
    rootdir.mkdir(parents=True, exist_ok=True)
    if not isinstance(roots, Mapping):
        roots = {(k.name or k.kid.hex()): k for k in roots}
    for name, k in roots.items():
        (rootdir / f"{name}.pub").write_text(k.pub_hex + "\n", encoding="ascii")
    for name, line in (root_lines or {}).items():
        (rootdir / f"{name}.pub").write_text(line, encoding="ascii")

    if bundle_bytes is None and bundle is not None:
        if bundle_signer is None:
            raise ValueError("bundle_signer is required")
        bundle_bytes = cose_sign1(cbor2.dumps(dict(bundle)), bundle_signer, **(bundle_cose_kw or {}))
    if bundle_bytes is not None:
        (path / "trust.cose").write_bytes(bundle_bytes)

    if status_bytes is None and status is not None:
        if status_signer is None:
            raise ValueError("status_signer is required")
        status_bytes = cose_sign1(cbor2.dumps(dict(status)), status_signer, **(status_cose_kw or {}))
    if status_bytes is not None:
        (path / "status.cose").write_bytes(status_bytes)
    return path
