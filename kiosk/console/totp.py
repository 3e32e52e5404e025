"""Time-based one-time passwords, the console's second factor: RFC 6238 (TOTP over RFC 4226's HOTP), as every
authenticator app makes them: HMAC-SHA-1, 6 digits, 30-second steps; a code of the step before or after is
taken too (a phone's clock a little off), and a code is taken once only (the caller keeps the last step used).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import quote, urlencode

STEP = 30  # seconds
DIGITS = 6
DRIFT = 1  # steps either side of now that are taken too
SECRET_BYTES = 20  # 160 bits, the size of an HMAC-SHA-1 key (RFC 4226 section 4)
ISSUER = "Kiosk collector"
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def hotp(secret: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 section 5.3: HMAC the 8-byte counter, take 31 bits at the offset the last nibble gives."""
    mac = hmac.new(secret, counter.to_bytes(8, "big"), _DIGESTS[digest]).digest()
    offset = mac[-1] & 0x0F
    number = int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10 ** digits).zfill(digits)


def step_of(at: float) -> int:
    return int(at // STEP)


def totp(secret: bytes, at: float, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 6238 section 4: HOTP of the number of 30-second steps since the epoch."""
    return hotp(secret, step_of(at), digits, digest)


def matching_step(secret: bytes, code: str, at: float, last_used: int | None) -> int | None:
    """The step whose code `code` is (now's, or one either side), if it is later than `last_used` (a code is
    taken once); else None. Every candidate is compared in constant time."""
    code = code.replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    now = step_of(at)
    found = None
    for step in range(now - DRIFT, now + DRIFT + 1):
        if hmac.compare_digest(hotp(secret, step), code) and (last_used is None or step > last_used) \
                and found is None:
            found = step
    return found


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def to_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it typed: base32, no padding."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def from_base32(text: str) -> bytes:
    cleaned = text.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def uri(secret: bytes, account: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app scans (Google Authenticator's Key Uri Format)."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode({"secret": to_base32(secret), "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"
