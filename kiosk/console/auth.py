"""Logins and sessions of the console: the Authenticator the web layer asks on every request.

- A login checks, in this order: the backoff (backoff.py: while a wait lasts the login is refused with how
  long, and the password is not even checked), the password (argon2id; an unknown account costs and answers
  the same as a wrong password: "credentials"), then the second factor for an account that has one (admin
  and tracer accounts always do): a TOTP code of now or a step either side, each code taken once ("code").
- A session is a random token (secrets.token_urlsafe(32)) the browser keeps in its cookie; the store keeps
  only its SHA-256, so a copy of the database opens no session. Every login makes a new one (and drops the
  one it replaces). It ends at logout, when its account is disabled, changes its password or role, when an
  admin ends it, after `idle` seconds unused (30 minutes) and `absolute` seconds after the login (12 hours),
  whichever comes first. Each session has its own CSRF token, compared in constant time.
- Every login, failed login, logout and ending of sessions goes into the console's trail; nothing secret does
  (no password, code or token; a failed login names the account only if there is one by that name).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from kiosk.console.accounts import Account, text_problem
from kiosk.console.backoff import Backoff, keys_of
from kiosk.console.console_schema import SessionInfo
from kiosk.console.console_store import ConsoleStore
from kiosk.console.passwords import Passwords
from kiosk.console.totp import from_base32, matching_step
from kiosk.console.trail import Trail
from kiosk.console.users import Users

MAX_TOKEN = 128  # characters of a cookie's token: a longer one is no token of ours, and is not hashed


@dataclass(frozen=True)
class SessionRules:
    idle: float = 30 * 60.0  # seconds a session may go unused
    absolute: float = 12 * 3600.0  # seconds after its login a session ends whatever
    most: int = 16  # sessions one account may hold at once; a login past this ends its oldest
    touch_every: float = 10.0  # a session's last use is written at most this often (it may end that much early)


@dataclass(frozen=True)
class Login:
    token: str  # the raw token, for the cookie only: never stored, never logged
    csrf: str
    account: Account


@dataclass(frozen=True)
class Refused:
    reason: Literal["credentials", "wait", "code"]  # credentials: unknown account, wrong password, disabled
    wait: float = 0.0  # "wait": seconds before the next try is even looked at


@dataclass(frozen=True)
class Session:
    id_hash: str  # the SHA-256 of the token (hex): what the store keys it by
    account: Account
    csrf: str
    created: float
    seen: float

    def csrf_ok(self, given: str | None) -> bool:
        """Whether a form's token is this session's (constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    def __init__(self, store: ConsoleStore, trail: Trail, passwords: Passwords | None = None,
                 rules: SessionRules | None = None, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.trail = trail
        self.passwords = passwords or Passwords()
        self.rules = rules or SessionRules()
        self.backoff = backoff or Backoff()
        self.clock = clock

    def login(self, name: str, password: str, code: str | None, address: str, now: float,
              replacing: str | None = None) -> Login | Refused:
        """Log `name` in from `address`; `replacing`: the token of the browser's session before, dropped."""
        keys = keys_of(name, address)
        wait, address_before = self.store.take_attempt(keys, name, self.backoff, now)
        if wait > 0:
            return Refused("wait", wait)
        found = self.store.credentials(name) if text_problem(name, "name") is None else None
        right, new_hash = self.passwords.check(found.password if found else None, password)
        if found is None or not right or found.info.account.disabled:
            why = "unknown account" if found is None else "disabled" if right else "password"
            self.trail.append(name if found else "", "login_failed", {"reason": why}, address, now)
            return Refused("credentials")
        account = found.info.account
        if found.totp_secret is None and account.needs_second_factor:
            self.trail.append(name, "login_failed", {"reason": "no second factor enrolled"}, address, now)
            return Refused("credentials")
        if found.totp_secret is not None:
            step = matching_step(from_base32(found.totp_secret), (code or "")[:16], now, found.totp_step)
            if step is None or not self.store.use_totp_step(name, step):
                self.trail.append(name, "login_failed", {"reason": "code" if code else "no code"}, address, now)
                return Refused("code")
        self.store.logged_in(name, keys, now, address_before, new_hash, self.backoff)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        old = token_hash(replacing) if replacing and len(replacing) <= MAX_TOKEN else None
        self.store.add_session(token_hash(token), name, csrf, address[:128], now, idle=self.rules.idle,
                               absolute=self.rules.absolute, most=self.rules.most, replacing=old)
        self.trail.append(name, "login", {}, address, now)
        return Login(token, csrf, account)

    def session(self, token: str, now: float) -> Session | None:
        """The session of a cookie's token, if it is still good at `now` (its use is noted); else None."""
        if not token or len(token) > MAX_TOKEN:
            return None
        id_hash = token_hash(token)
        row = self.store.session(id_hash)
        if row is None:
            return None
        account = row.user.info.account
        if now - row.created >= self.rules.absolute or now - row.seen >= self.rules.idle or account.disabled:
            self.store.drop_session(id_hash)
            return None
        if now - row.seen >= self.rules.touch_every:
            self.store.touch_session(id_hash, now)
        return Session(id_hash, account, row.csrf, row.created, max(row.seen, now))

    def logout(self, token: str, address: str = "", now: float | None = None) -> None:
        if not token or len(token) > MAX_TOKEN:
            return
        name = self.store.drop_session(token_hash(token))
        if name is not None:
            self.trail.append(name, "logout", {}, address, self.clock() if now is None else now)

    def end_sessions(self, name: str, actor: str = "", address: str = "", now: float | None = None) -> int:
        """End every session of `name` (an admin's doing, `actor`); how many there were."""
        ended = self.store.drop_sessions(name)
        self.trail.append(actor, "sessions_ended", {"account": name, "sessions": ended}, address,
                          self.clock() if now is None else now)
        return ended

    def sessions(self) -> list[SessionInfo]:
        return self.store.sessions()


def console_services(store: ConsoleStore, passwords: Passwords | None = None, rules: SessionRules | None = None,
                     backoff: Backoff | None = None,
                     clock: Callable[[], float] = time.time) -> tuple[Authenticator, Users, Trail]:
    """The console's three services on one store, sharing one trail and one password hasher."""
    trail = Trail(store, clock)
    hasher = passwords or Passwords()
    return Authenticator(store, trail, hasher, rules, backoff, clock), Users(store, trail, hasher, clock), trail
