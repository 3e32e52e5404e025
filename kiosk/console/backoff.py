"""How long a login must wait after failed ones (pure; the store keeps the counts, auth.py asks before checking).

Failures are counted under three keys, and a login waits for the longest of their delays:

- the address (every account tried from it): 1, 2, 4, ... seconds after the 1st, 2nd, 3rd failure, capped at
  15 minutes. One address guessing many accounts (password spraying) is slowed to 4 guesses an hour.
- the account from that address: the same, capped at 15 minutes. One address guessing one account likewise.
- the account from anywhere: the same doubling, but capped at `account_cap` (1 minute): many addresses guessing
  one account together get one guess a minute, and no stranger can keep its owner out longer than that. It is
  not applied at all from an address the account has logged in from before (a "known address", kept 90 days):
  the owner at their usual desk is never held back by what strangers elsewhere do, however often they try.

So a stranger's 1,000 failures from another address hold the true owner back by at most `account_cap`; from
the owner's own, known address, not at all. A key's count is forgotten `forget` (a day) after its last
failure. A successful login clears the account's keys (its own and from that address); the address's count
stays, so an attacker cannot wipe it by logging into an account of their own in between.

Counting is done before the password is checked (auth.py takes the attempt first, in one transaction), so
parallel guesses cannot all slip into one open moment; an attempt refused for a wait is not counted (it is
not checked either). IPv6 addresses count by their /64 network: one machine holds a whole one.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

MAX_ADDRESS = 64  # characters of an address kept in a key


@dataclass(frozen=True)
class Failures:
    count: int
    last: float  # epoch seconds of the latest


@dataclass(frozen=True)
class Keys:
    account: str
    address: str
    pair: str


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0  # seconds after the first failure; doubled after each further one
    address_cap: float = 15 * 60.0
    account_cap: float = 60.0
    forget: float = 24 * 3600.0  # a key with no failure for this long starts again from nothing
    known_for: float = 90 * 24 * 3600.0  # an address the account logged in from stays known this long

    def delay(self, count: int, cap: float) -> float:
        """The wait after `count` failures in a row: base * 2**(count-1), at most `cap`."""
        if count <= 0:
            return 0.0
        return min(cap, self.base * 2.0 ** min(count - 1, 60))

    def left(self, failures: Failures | None, cap: float, now: float) -> float:
        """Seconds still to wait at `now` after `failures` (0: none)."""
        if failures is None or now - failures.last >= self.forget:
            return 0.0
        return max(0.0, failures.last + self.delay(failures.count, cap) - now)

    def wait(self, account: Failures | None, address: Failures | None, pair: Failures | None, known: bool,
             now: float) -> float:
        """The wait a login of the account from the address must still sit out at `now` (0: it may try)."""
        waits = [self.left(address, self.address_cap, now), self.left(pair, self.address_cap, now)]
        if not known:
            waits.append(self.left(account, self.account_cap, now))
        return max(waits)

    def counted(self, failures: Failures | None, now: float) -> Failures:
        """`failures` with one more at `now` (a lapsed count starts again)."""
        if failures is None or now - failures.last >= self.forget:
            return Failures(1, now)
        return Failures(failures.count + 1, now)


def address_key(address: str) -> str:
    """What an address counts as: an IPv4 address itself, an IPv6 one its /64, anything else its text."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:MAX_ADDRESS]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def keys_of(name: str, address: str) -> Keys:
    """The three keys a login of `name` from `address` counts under. Each is a digest: the store never holds a
    typed name (people type their password into the name field too), only 64 bits of its SHA-256."""
    where = address_key(address)
    return Keys(_digest("account", name), _digest("address", where), _digest("pair", name, where))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
