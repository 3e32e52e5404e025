"""What every health-code format gives the shared verdict pipeline: the Format protocol and its results. Pure.

A format (kiosk/formats/phc1.py, kiosk/formats/hc1_checks.py) takes a text that starts with its prefix and runs
its own checks, in the order of spec section 5, up to the temperature rules; kiosk/verdict.py does the rest,
the same for every format. What the screens, the audit log and the JSON line say of a code comes from its
Credential, so none of them knows which format it came from. These types live apart from the registry
(kiosk/formats/registry.py), which imports every format: a format importing the registry would be a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kiosk.healthcode import HealthCode
    from kiosk.policy import Policy
    from kiosk.trust import TrustStore


@dataclass(frozen=True)
class Credential:
    """What a code says once its signature has verified, in the words every format shares."""

    format: str  # "phc1" | "hc1"
    iss: str | None  # PHC1's issuing authority; HC1's issuing country (claim 1, else its DSC's country)
    iat: int
    exp: int
    subject: bytes | None  # PHC1's subject; HC1: the first 16 bytes of SHA-256 of the UVCI, when there is one
    kind: str | None  # PHC1's "dynamic" / "printed"; None for HC1, whose type is `certificate`
    certificate: str | None  # HC1's "vaccination" / "test" / "recovery"; None for PHC1
    name: str | None  # masked for the screen ("张*明", "M***** ***"); never the full name
    status: int | None  # PHC1's own status (before the status list); None for HC1


@dataclass(frozen=True)
class Checked:
    """A format's checks done: the first that failed, or None when all held (the temperature rules decide)."""

    reason: str | None
    kid: bytes | None = None  # the kid the code names, once it was read
    credential: Credential | None = None  # set only once the signature has verified
    code: HealthCode | None = None  # PHC1's own claims (kiosk.verdict.Verdict.code keeps them for its callers)
    status: int | None = None  # PHC1's effective status, after the status list


class Format(Protocol):
    """One health-code format: the prefix that routes a text to it and its checks."""

    @property
    def name(self) -> str: ...  # "phc1": the JSON line's "format" and the audit event's

    @property
    def prefix(self) -> str: ...  # "PHC1:": a text starting with it is this format's

    def check(self, text: str, trust: TrustStore, policy: Policy, now: float) -> Checked:
        """Every check of the format up to the temperature rules; never raises on any text with its prefix."""
        ...
