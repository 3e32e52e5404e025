"""Deciding a verdict: the checks of spec section 5, in their order, for every format. Pure.

The text's prefix picks its format (kiosk/formats/registry.py), whose checks run
up to the temperature rules; the temperature rules and the Verdict are shared.
The clock, the trust store, the policy and the temperature reading are
arguments, so every row of the reason table is a plain function call in tests.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

from kiosk.formats.phc1 import credential_of
from kiosk.formats.registry import Credential, format_of
from kiosk.healthcode import STATUS_NAMES, HealthCode
from kiosk.policy import Policy
from kiosk.trust import TrustStore

log = logging.getLogger(__name__)

VerdictName = Literal["pass", "deny", "retry"]

# reason -> verdict: the reasons of spec section 5 in the order the checks run (HC1's among them, section 9),
# then this project's own.
REASONS: dict[str, VerdictName] = {
    "not_health_code": "deny",
    "malformed": "deny",
    "unknown_key": "deny",
    "bad_signature": "deny",
    "key_revoked": "deny",
    "key_expired": "deny",
    "wrong_key_usage": "deny",  # HC1: the DSC's extended key usage does not allow the certificate's type
    "issuer_mismatch": "deny",
    "not_yet_valid": "deny",
    "expired": "deny",
    "too_old": "deny",
    "printed_not_accepted": "deny",
    "status_red": "deny",
    "status_amber": "deny",
    # HC1's content rules (spec section 9), after the checks it shares with PHC1.
    "vaccination_incomplete": "deny",
    "vaccination_too_recent": "deny",
    "vaccination_too_old": "deny",
    "test_positive": "deny",
    "test_too_old": "deny",
    "recovery_not_valid": "deny",
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
    code: HealthCode | None = None  # PHC1's claims, set only once the signature has verified
    status: int | None = None  # PHC1's effective status, after the status list
    reading: Reading | None = None
    warnings: tuple[str, ...] = ()
    # Any format's claims, set only once the signature has verified (made from `code` when only that is given).
    credential: Credential | None = None
    format: str | None = None  # the format the text's prefix names ("phc1", "hc1"); None: not a health code

    def __post_init__(self) -> None:
        if self.credential is None and self.code is not None:  # a PHC1 verdict made by hand (tests, tools)
            object.__setattr__(self, "credential", credential_of(self.code))
        if self.format is None and self.credential is not None:
            object.__setattr__(self, "format", self.credential.format)

    @property
    def verdict(self) -> VerdictName:
        return REASONS[self.reason]

    def as_dict(self) -> dict[str, object]:
        """The JSON object of spec section 6, plus `name` and `warnings`: the same for PHC1 as before HC1."""
        shown = self.credential
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "status": STATUS_NAMES[self.status] if self.status is not None else None,
            "kid": self.kid.hex() if self.kid is not None else None,
            "iss": shown.iss if shown else None,
            "subject": shown.subject.hex() if shown and shown.subject is not None else None,
            "iat": shown.iat if shown else None,
            "exp": shown.exp if shown else None,
            "kind": shown.kind if shown else None,
            "name": shown.name if shown else None,
            "temperature": self.reading.celsius if self.reading and math.isfinite(self.reading.celsius) else None,
            "warnings": list(self.warnings),
        }

    def as_json(self) -> dict[str, object]:
        """The line `kiosk verify` prints (and headless mode): as_dict() with `format`, and HC1's `certificate`."""
        shown = self.as_dict()
        shown["format"] = self.format
        if self.format == "hc1":
            shown["certificate"] = self.credential.certificate if self.credential else None
        return shown


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
    found = format_of(text)
    if found is None:
        return Verdict("not_health_code", reading=reading, warnings=warnings)
    checked = found.check(text, trust, policy, now)
    reason = checked.reason or _temperature_reason(policy, reading, now)
    return Verdict(reason, checked.kid, checked.code, checked.status, reading, warnings, checked.credential,
                   found.name)


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

