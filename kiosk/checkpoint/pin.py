"""The admin PIN: a PBKDF2 hash for the config file, and a lock against guessing at the screen.

Pure apart from the clock (an argument) and the random salt of a new hash.
A 4-6 digit PIN falls to an offline search whatever the iteration count, so the
hash only keeps the PIN out of plain sight in the config and its backups; the
config must still be readable by the kiosk's user alone. What stops guessing
at the kiosk itself is the lock.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256: ~0.15 s here, under a second on a Pi
# Read from the hash: a hash claiming more would freeze the admin screen for minutes, so it counts as malformed.
MAX_ITERATIONS = 10_000_000
_FORMAT = re.compile(r"pbkdf2_sha256\$([1-9][0-9]{0,7})\$([0-9a-fA-F]{16,128})\$([0-9a-fA-F]{32,128})")


def hash_pin(pin: str, salt: bytes | None = None, *, iterations: int = ITERATIONS) -> str:
    """"pbkdf2_sha256$ITER$SALTHEX$HASHHEX" for `pin` (a new random 16-byte salt unless given)."""
    salt = os.urandom(16) if salt is None else salt
    if not 8 <= len(salt) <= 64 or not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError("the salt is 8 to 64 bytes and the iterations 1 to 10,000,000")
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def well_formed(hashed: object) -> bool:
    """Whether `hashed` is a hash verify_pin can check (not whether any PIN matches it)."""
    match = _FORMAT.fullmatch(hashed) if isinstance(hashed, str) else None
    return match is not None and int(match[1]) <= MAX_ITERATIONS and len(match[2]) % 2 == 0 \
        and len(match[3]) % 2 == 0


def verify_pin(pin: str, hashed: str) -> bool:
    """True when `pin` matches `hashed`; a malformed hash (or PIN) is False, never an exception."""
    if not well_formed(hashed):
        return False
    _, iterations, salt, expected = hashed.split("$")
    try:
        actual = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), bytes.fromhex(salt), int(iterations),
                                     dklen=len(expected) // 2)
    except (AttributeError, ValueError):  # not a str, or a lone surrogate that has no UTF-8
        return False
    return hmac.compare_digest(actual, bytes.fromhex(expected))  # constant time: no timing hint of a near miss


@dataclass(frozen=True)
class PinResult:
    ok: bool
    locked_for: float  # seconds until PINs are taken again (0: not locked)
    attempts_left: int  # wrong PINs left before the lock
    zh: str
    en: str


def duration_words(seconds: float) -> tuple[str, str]:
    """("5 分钟", "5 min") or ("40 秒", "40 s"), rounded up: a lock never ends before it says."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return f"{whole} 秒", f"{whole} s"
    minutes = math.ceil(whole / 60)
    return f"{minutes} 分钟", f"{minutes} min"


class PinLock:
    """The admin PIN check: `attempts` wrong PINs in a row refuse every PIN for `lockout` seconds.

    The state lives in memory: a restart lifts a lock, which needs the power
    switch or a keyboard, not the touchscreen. `clock` is monotonic so setting
    the wall clock back does not lift it either.
    """

    def __init__(self, pin_hash: str | None, *, attempts: int = 5, lockout: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if attempts < 1 or not lockout > 0:
            raise ValueError("attempts must be 1 or more and lockout above 0 seconds")
        self.pin_hash, self.attempts, self.lockout, self.clock = pin_hash, attempts, lockout, clock
        self._failures = 0
        self._locked_until: float | None = None
        self._mutex = threading.Lock()  # two taps on two threads must not both get the last try

    @property
    def closed(self) -> tuple[str, str] | None:
        """Why no PIN can open the admin screens (zh, en), or None when one can."""
        if not self.pin_hash:
            return "管理界面未开放：配置中没有设置管理密码", "admin screens closed: no admin_pin_hash in the config"
        if not well_formed(self.pin_hash):
            return ("管理界面未开放：配置中的管理密码无效，请用 kiosk admin hash-pin 重新生成",
                    "admin screens closed: admin_pin_hash in the config is not valid; make one with "
                    "`kiosk admin hash-pin`")
        return None

    def locked_for(self) -> float:
        """Seconds until PINs are taken again; 0 when they are taken now."""
        with self._mutex:
            return self._remaining(self.clock())

    def _remaining(self, now: float) -> float:
        if self._locked_until is None:
            return 0.0
        if now >= self._locked_until:
            self._locked_until, self._failures = None, 0  # the lock is over: a full set of tries again
            return 0.0
        return self._locked_until - now

    def try_pin(self, pin: str) -> PinResult:
        """Check one PIN. While locked even the right PIN is refused, so guessing on gains nothing."""
        closed = self.closed
        if closed is not None:
            return PinResult(False, 0.0, 0, *closed)
        with self._mutex:
            now = self.clock()
            remaining = self._remaining(now)
            if remaining > 0:
                return self._locked(remaining)
            if verify_pin(pin, self.pin_hash or ""):
                self._failures = 0
                return PinResult(True, 0.0, self.attempts, "已解锁", "unlocked")
            self._failures += 1
            if self._failures >= self.attempts:
                self._locked_until = now + self.lockout
                return self._locked(self.lockout)
            left = self.attempts - self._failures
            return PinResult(False, 0.0, left, f"密码错误，还可尝试 {left} 次", f"wrong PIN: {left} tries left")

    def _locked(self, remaining: float) -> PinResult:
        zh, en = duration_words(remaining)
        return PinResult(False, remaining, 0, f"密码错误次数过多，请 {zh}后再试",
                         f"too many wrong PINs: try again in {en}")
