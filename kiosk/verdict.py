"""Deciding a verdict: the checks of spec section 5, in their order. Pure.

The clock, the trust store, the policy and the temperature reading are
arguments, so every row of the reason table is a plain function call in tests.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

from kiosk import cose
from kiosk.errors import MalformedCode
from kiosk.healthcode import (
    AMBER,
    DYNAMIC,
    KIND_NAMES,
    PREFIX,
    PRINTED,
    RED,
    STATUS_NAMES,
    HealthCode,
    decode_text,
)
from kiosk.policy import Policy
from kiosk.trust import TrustStore

log = logging.getLogger(__name__)

VerdictName = Literal["pass", "deny", "retry"]

# reason -> verdict: the reasons of spec section 5 in the order the checks run, then this project's own.
REASONS: dict[str, VerdictName] = {
    "not_health_code": "deny",
    "malformed": "deny",
    "unknown_key": "deny",
    "bad_signature": "deny",
    "key_revoked": "deny",
    "key_expired": "deny",
    "issuer_mismatch": "deny",
    "not_yet_valid": "deny",
    "expired": "deny",
    "too_old": "deny",
    "printed_not_accepted": "deny",
    "status_red": "deny",
    "status_amber": "deny",
    "temperature_missing": "retry",
    "temperature_implausible": "retry",
    "fever": "deny",
    "ok": "pass",
    # A pass refused because the audit log cannot be written ([log] on_failure = "deny"; spec section 8). The
    # recording step gives it, after decide(), which never does: the code itself was fine.
    "log_unavailable": "deny",
}


@dataclass(frozen=True)
class Reading:
    """A body temperature (after any skin compensation) and when it was measured."""

    celsius: float
    taken_at: float  # epoch seconds


@dataclass(frozen=True)
class Verdict:
    reason: str
    kid: bytes | None = None
    code: HealthCode | None = None  # set only once the signature has verified
    status: int | None = None  # effective status, after the status list
    reading: Reading | None = None
    warnings: tuple[str, ...] = ()

    @property
    def verdict(self) -> VerdictName:
        return REASONS[self.reason]

    def as_dict(self) -> dict[str, object]:
        """The JSON object of `kiosk verify` (spec section 6), plus `warnings`."""
        code = self.code
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "status": STATUS_NAMES[self.status] if self.status is not None else None,
            "kid": self.kid.hex() if self.kid is not None else None,
            "iss": code.iss if code else None,
            "subject": code.subject.hex() if code else None,
            "iat": code.iat if code else None,
            "exp": code.exp if code else None,
            "kind": KIND_NAMES[code.kind] if code else None,
            "name": code.name if code else None,
            "temperature": self.reading.celsius if self.reading and math.isfinite(self.reading.celsius) else None,
            "warnings": list(self.warnings),
        }


def decide(text: str, trust: TrustStore, policy: Policy, reading: Reading | None, now: float) -> Verdict:
    """The one verdict for a scanned text. Never raises: every scan ends in exactly one verdict (spec section 5).

    `decide_strict` is total by construction (bounded integers, integer labels, no
    untrusted value formatted); this guard is the last line, so that a bug found
    later still gives a deny and an audit event rather than a scan with no verdict.
    Tests and the fuzz target call `decide_strict`, where such a bug shows.
    """
    try:
        return decide_strict(text, trust, policy, reading, now)
    except Exception:
        log.exception("decide() failed on a scanned text; denied as malformed")
        return Verdict("malformed", reading=reading, warnings=trust.warnings)


def decide_strict(text: str, trust: TrustStore, policy: Policy, reading: Reading | None, now: float) -> Verdict:
    """The checks of spec section 5 in order; raises only on a bug (which the tests and fuzzing look for)."""
    warnings = trust.warnings
    if not isinstance(text, str) or not text.startswith(PREFIX):
        return Verdict("not_health_code", reading=reading, warnings=warnings)
    try:
        scanned = decode_text(text)
    except MalformedCode:
        return Verdict("malformed", reading=reading, warnings=warnings)
    kid = scanned.sign1.kid
    key = trust.bundle.keys.get(kid)
    if key is None:
        return Verdict("unknown_key", kid, reading=reading, warnings=warnings)
    if not cose.verify(scanned.sign1, key.pub):
        return Verdict("bad_signature", kid, reading=reading, warnings=warnings)
    code = scanned.code
    status = trust.effective_status(code)

    def verdict(reason: str) -> Verdict:
        return Verdict(reason, kid, code, status, reading, warnings)

    if kid in trust.bundle.revoked:
        return verdict("key_revoked")
    if not key.covers(code.iat):
        return verdict("key_expired")
    if code.iss != key.iss:
        return verdict("issuer_mismatch")
    if code.iat > now + policy.skew:
        return verdict("not_yet_valid")
    if code.exp < now - policy.skew:
        return verdict("expired")
    if code.kind == DYNAMIC and now - code.iat > policy.max_age:
        return verdict("too_old")
    if code.kind == PRINTED and not policy.accept_printed:
        return verdict("printed_not_accepted")
    if status == RED:
        return verdict("status_red")
    if status == AMBER:
        return verdict("status_amber")
    return verdict(_temperature_reason(policy, reading, now))


def is_fresh(reading: Reading, policy: Policy, now: float) -> bool:
    """Measured within the policy's window before now (a little clock jitter forgiven after)."""
    return now - policy.reading_window <= reading.taken_at <= now + 1.0


def _temperature_reason(policy: Policy, reading: Reading | None, now: float) -> str:
    fresh = reading is not None and is_fresh(reading, policy, now)
    if not fresh:
        return "temperature_missing" if policy.require_temperature else "ok"
    assert reading is not None
    celsius = reading.celsius
    if not (math.isfinite(celsius) and policy.plausible_min <= celsius <= policy.plausible_max):
        return "temperature_implausible"
    if celsius >= policy.fever_threshold:
        return "fever"
    return "ok"

