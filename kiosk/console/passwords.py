"""Console passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommended setting: 64 MiB, 3 passes,
4 lanes), checked in the same time whether the account exists or not, and rehashed when the setting changes.
"""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10  # characters (OWASP ASVS 2.1.1 asks for 12 or more when set by the user; 10 is the floor here)
MAX_LENGTH = 256  # characters: longer is refused, and never hashed (no hashing work for a megabyte of text)


def password_problem(password: str) -> str | None:
    """Why `password` cannot be a console password (None: it can)."""
    if len(password) < MIN_LENGTH:
        return f"a console password is at least {MIN_LENGTH} characters, not {len(password)}"
    if len(password) > MAX_LENGTH:
        return f"a console password is at most {MAX_LENGTH} characters"
    if any(c in "\r\n\x00" for c in password):
        return "a console password holds no line break nor NUL character"
    return None


class Passwords:
    """Hashes and checks passwords with one argon2id setting (`hasher`; argon2-cffi's defaults unless a test
    passes a cheaper one)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher(type=Type.ID)
        if self.hasher.type is not Type.ID:
            raise ValueError("console passwords are hashed with argon2id")
        self._dummy: str | None = None
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        if problem := password_problem(password):
            raise ValueError(problem)
        return self.hasher.hash(password)

    def check(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        """Whether `password` is the one `stored` was made from, and the new hash to store when `stored` was made
        with another setting (else None). `stored` None (no such account) costs the same as a wrong password:
        a dummy hash is checked, so the time tells nobody whether the account exists."""
        if len(password) > MAX_LENGTH:
            password = ""  # checked all the same (the same time as any wrong one), never against a megabyte
        if stored is None:
            self._check(self._dummy_hash(), password)
            return False, None
        if not self._check(stored, password):
            return False, None
        try:
            renew = self.hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            renew = True
        return True, (self.hasher.hash(password) if renew else None)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _dummy_hash(self) -> str:
        with self._lock:
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
            return self._dummy
