"""Who may do what in the console: roles, their permissions and the sites an account is limited to (pure).

    role     may                                                                 sites
    viewer   overview, events                                                    its sites (--site), else all
    manager  + export, report, correct (hand registrations), kiosks (names,      its sites, else all
               revocation, a kiosk's page)
    tracer   overview, events, trace (across sites, each with a case reference)  its sites, else all
    admin    everything: + users, enrol, trust, trail                            all (no --site)

An event with no site (a kiosk with no `[log] site`) belongs to no site manager: only an admin, or a tracer
not limited to sites, sees it. A disabled account may do nothing. There is no default account: the first
admin comes from `kiosk collector user add`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

from kiosk.errors import Forbidden, KioskError

Role = Literal["viewer", "manager", "tracer", "admin"]
Action = Literal["overview", "events", "export", "report", "correct", "kiosks", "trace", "users", "enrol", "trust",
                 "trail"]
ROLES: tuple[Role, ...] = get_args(Role)
ACTIONS: tuple[Action, ...] = get_args(Action)
_VIEWER: frozenset[Action] = frozenset({"overview", "events"})
PERMISSIONS: dict[Role, frozenset[Action]] = {
    "viewer": _VIEWER,
    "manager": _VIEWER | {"export", "report", "correct", "kiosks"},
    "tracer": _VIEWER | {"trace"},
    "admin": frozenset(ACTIONS),
}
SECOND_FACTOR: frozenset[Role] = frozenset({"admin", "tracer"})  # OWASP ASVS level 2: these need a TOTP code
MAX_NAME = 64  # characters, for an account's name and a site's
MAX_SITES = 100  # sites one account may be limited to
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format (bidi overrides), unassigned, line breaks


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    sites: frozenset[str] | None  # None: every site
    disabled: bool = False
    totp: bool = False  # a second factor is enrolled

    def may(self, action: str) -> bool:
        """Whether the account's role allows `action` (one of ACTIONS; anything else: no)."""
        return not self.disabled and action in PERMISSIONS.get(self.role, frozenset())

    def sees(self, site: str | None) -> bool:
        """Whether the account may see what happened at `site` ("" or None: an event with no site)."""
        if self.disabled:
            return False
        if not site:
            return self.sites is None and self.role in ("admin", "tracer")
        return self.sites is None or site in self.sites

    def scope(self, asked: str | None) -> frozenset[str] | None:
        """The sites a query for `asked` ("" or None: no site asked, all of the account's) may read: None means
        every site. A site the account may not see raises Forbidden (never an empty answer that would tell
        the site exists)."""
        if self.disabled:
            raise Forbidden(f"the account {self.name!r} is disabled")
        if not asked:
            return self.sites
        if not self.sees(asked):
            raise Forbidden("this site is not one of the account's")
        return frozenset({asked})

    @property
    def needs_second_factor(self) -> bool:
        return self.role in SECOND_FACTOR


def text_problem(text: str, what: str) -> str | None:
    """Why `text` cannot be an account's or a site's name (None: it can): 1 to MAX_NAME characters, no
    spaces around it, nothing hidden (control or format characters, line breaks)."""
    if not text:
        return f"{what} is not empty"
    if len(text) > MAX_NAME:
        return f"{what} is at most {MAX_NAME} characters, not {len(text)}"
    if text != text.strip():
        return f"{what} does not start or end with spaces"
    bad = next((c for c in text if unicodedata.category(c) in _HIDDEN), None)
    if bad is not None:
        return f"{what} holds no control or invisible characters (U+{ord(bad):04X})"
    return None


def role_of(text: str) -> Role:
    for role in ROLES:
        if role == text:
            return role
    raise KioskError(f"not a role: {text[:20]!r} (one of {', '.join(ROLES)})")


def checked_account(name: str, role: str, sites: frozenset[str] | None) -> Account:
    """An account to add or change, once its name, role and sites are checked (KioskError: why not)."""
    if problem := text_problem(name, "an account's name"):
        raise KioskError(problem)
    checked_role = role_of(role)
    if sites is not None:
        if checked_role == "admin":
            raise KioskError("an admin sees every site: --site is for viewer, manager and tracer accounts")
        if not sites:
            raise KioskError("an account limited to sites needs at least one")
        if len(sites) > MAX_SITES:
            raise KioskError(f"an account is limited to at most {MAX_SITES} sites, not {len(sites)}")
        for site in sorted(sites):
            if problem := text_problem(site, "a site's name"):
                raise KioskError(problem)
    return Account(name, checked_role, sites)
