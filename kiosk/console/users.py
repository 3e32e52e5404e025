"""Console accounts as an admin manages them (the `kiosk collector user` commands and the users page): add,
list, change a password, disable, enable, give a new second-factor secret, change a role or sites.

Every change is recorded in the console's trail with who made it and from where. A changed password, a
disabled account or a changed role ends the account's sessions; an admin or tracer account always has a
TOTP secret (one is made when the account is added, or given that role).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.console.accounts import Account, checked_account
from kiosk.console.console_schema import UserInfo, sites_text
from kiosk.console.console_store import ConsoleStore
from kiosk.console.passwords import Passwords, password_problem
from kiosk.console.totp import new_secret, to_base32
from kiosk.console.trail import Trail
from kiosk.errors import KioskError, NoSuchAccount


@dataclass(frozen=True)
class Added:
    account: Account
    totp_secret: bytes | None  # to show once (admin and tracer accounts), never stored anywhere but the store


class Users:
    def __init__(self, store: ConsoleStore, trail: Trail, passwords: Passwords | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.trail = trail
        self.passwords = passwords or Passwords()
        self.clock = clock

    def add(self, name: str, role: str, sites: frozenset[str] | None, password: str, *, actor: str,
            address: str) -> Added:
        """A new account (KioskError: a bad name, role, site or password, or the name is taken)."""
        account = checked_account(name, role, sites)
        hashed = self._hash(password)
        secret = new_secret() if account.needs_second_factor else None
        at = self.clock()
        self.store.add_user(account, hashed, to_base32(secret) if secret else None, at)
        self.trail.append(actor, "user_add", {"account": name, "role": account.role,
                                              "sites": sorted(sites) if sites is not None else None}, address, at)
        return Added(Account(name, account.role, sites, totp=secret is not None), secret)

    def list(self) -> list[UserInfo]:
        return self.store.users()

    def get(self, name: str) -> UserInfo | None:
        found = self.store.credentials(name)
        return found.info if found is not None else None

    def passwd(self, name: str, password: str, *, actor: str, address: str) -> int:
        """A new password; the account's sessions end (their number)."""
        return self._change(name, "user_passwd", {}, actor, address, end_sessions=True, password=self._hash(password))

    def disable(self, name: str, *, actor: str, address: str) -> int:
        """The account may no longer log in; its sessions end (their number)."""
        return self._change(name, "user_disable", {}, actor, address, end_sessions=True, disabled=1)

    def enable(self, name: str, *, actor: str, address: str) -> None:
        self._change(name, "user_enable", {}, actor, address, end_sessions=False, disabled=0)

    def reset_totp(self, name: str, *, actor: str, address: str) -> bytes:
        """A new second-factor secret (to show once); the old one's codes no longer work, its sessions end."""
        secret = new_secret()
        self._change(name, "user_totp", {}, actor, address, end_sessions=True, totp_secret=to_base32(secret),
                     totp_step=None)
        return secret

    def change(self, name: str, role: str, sites: frozenset[str] | None, *, actor: str,
               address: str) -> bytes | None:
        """A new role and sites; its sessions end. The new TOTP secret when the role now needs one it had not."""
        account = checked_account(name, role, sites)
        current = self.get(name)
        if current is None:
            raise NoSuchAccount(name)
        secret = new_secret() if account.needs_second_factor and not current.account.totp else None
        columns: dict[str, object] = {"role": account.role, "sites": sites_text(sites)}
        if secret is not None:
            columns.update(totp_secret=to_base32(secret), totp_step=None)
        self._change(name, "user_change", {"role": account.role, "sites": sorted(sites) if sites else None},
                     actor, address, end_sessions=True, **columns)
        return secret

    def _hash(self, password: str) -> str:
        if problem := password_problem(password):
            raise KioskError(problem)
        return self.passwords.hash(password)

    def _change(self, name: str, action: str, detail: dict[str, object], actor: str, address: str,
                end_sessions: bool, **columns: object) -> int:
        at = self.clock()
        ended = self.store.change_user(name, at, end_sessions, **columns)
        if ended is None:
            raise NoSuchAccount(name)
        self.trail.append(actor, action, {"account": name, **detail, **({"sessions_ended": ended} if ended else {})},
                          address, at)
        return ended
