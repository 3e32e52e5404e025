"""The console's accounts, passwords, second factor and login backoff as rules (issue 14, "Who uses it" and
"Security"): the roles' permissions and site scope, names, argon2id, RFC 6238 TOTP with its test vectors,
and the backoff policy. The same rules working through the stores: tests/test_console_accounts_sessions.py.
"""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher, Type

from kiosk.console.accounts import ACTIONS, Account, Forbidden, checked_account
from kiosk.console.backoff import Backoff, Failures, address_key, keys_of
from kiosk.console.passwords import Passwords, password_problem
from kiosk.console.totp import from_base32, hotp, matching_step, to_base32, totp, uri
from kiosk.errors import KioskError

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)

# --- Roles and sites ------------------------------------------------------------------------------------------

# The issue's words: viewer: overview and events of their sites. manager: + exports, reports, corrections of
# hand registrations, kiosk names and revocation. tracer: trace queries across sites. admin: everything,
# users, enrolment, trust publishing (and the trail: "admins can read and export it").
ISSUE_ROLES = {
    "viewer": {"overview", "events"},
    "manager": {"overview", "events", "export", "report", "correct", "kiosks"},
    "tracer": {"overview", "events", "trace"},
    "admin": {"overview", "events", "export", "report", "correct", "kiosks", "trace", "users", "enrol", "trust",
              "trail"},
}


@pytest.mark.parametrize("role", sorted(ISSUE_ROLES))
def test_each_role_may_do_what_the_issue_gives_it_and_nothing_more(role: str) -> None:
    account = Account("someone", role, None)  # type: ignore[arg-type]
    assert {action for action in ACTIONS if account.may(action)} == ISSUE_ROLES[role]
    assert not account.may("drop tables") and not account.may("")


def test_a_disabled_account_may_do_nothing_and_sees_nothing() -> None:
    account = Account("gone", "admin", None, disabled=True)
    assert not any(account.may(action) for action in ACTIONS)
    assert not account.sees("A")
    with pytest.raises(Forbidden):
        account.scope(None)


def test_an_account_limited_to_a_site_reads_that_site_only() -> None:
    manager = Account("joy", "manager", frozenset({"Joy City"}))
    assert manager.sees("Joy City") and not manager.sees("East Gate") and not manager.sees(None)
    assert manager.scope(None) == frozenset({"Joy City"}) and manager.scope("") == frozenset({"Joy City"})
    assert manager.scope("Joy City") == frozenset({"Joy City"})
    with pytest.raises(Forbidden):
        manager.scope("East Gate")  # URL tampering: ?site=East Gate
    two = Account("two", "viewer", frozenset({"A", "B"}))
    assert two.scope(None) == frozenset({"A", "B"}) and two.scope("B") == frozenset({"B"})


def test_without_sites_an_account_reads_every_site_and_only_admins_and_tracers_see_siteless_events() -> None:
    viewer = Account("v", "viewer", None)
    assert viewer.scope(None) is None and viewer.scope("Anywhere") == frozenset({"Anywhere"})
    assert viewer.sees("Anywhere") and not viewer.sees(None) and not viewer.sees("")
    assert Account("a", "admin", None).sees(None) and Account("t", "tracer", None).sees("")
    assert not Account("t", "tracer", frozenset({"A"})).sees(None)


@pytest.mark.parametrize(("name", "words"), [
    ("", "not empty"), ("x" * 65, "at most 64"), ("tab\there", "U+0009"), ("rtl\u202eevil", "U+202E"),
    (" lead", "spaces"), ("line\nbreak", "U+000A")])
def test_bad_account_names_are_refused_with_why(name: str, words: str) -> None:
    with pytest.raises(KioskError, match=re.escape(words)):
        checked_account(name, "viewer", None)


def test_good_names_roles_and_sites() -> None:
    assert checked_account("x" * 64, "viewer", None).name == "x" * 64
    assert checked_account("张三", "manager", frozenset({"人民广场站"})).sites == frozenset({"人民广场站"})
    with pytest.raises(KioskError, match="not a role"):
        checked_account("root", "superuser", None)
    with pytest.raises(KioskError, match="admin sees every site"):
        checked_account("root", "admin", frozenset({"A"}))
    with pytest.raises(KioskError, match=r"U\+0000"):
        checked_account("m", "manager", frozenset({"A\x00"}))


# --- Passwords --------------------------------------------------------------------------------------------------

class CountingHasher(PasswordHasher):
    """argon2id that counts its verifications: the work a login does."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


def test_passwords_are_argon2id_with_rfc9106s_recommended_setting_by_default() -> None:
    hashed = Passwords().hash("correct horse battery")
    # RFC 9106 section 4, the second recommended option: argon2id, t=3 passes, p=4 lanes, m=2^16 KiB (64 MiB).
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in hashed
    assert Passwords().check(hashed, "correct horse battery") == (True, None)
    assert Passwords().check(hashed, "correct horse batterY") == (False, None)
    with pytest.raises(ValueError, match="argon2id"):
        Passwords(PasswordHasher(type=Type.I))


def test_a_password_is_at_least_ten_characters_and_one_line() -> None:
    assert "at least 10" in (password_problem("123456789") or "")
    assert password_problem("1234567890") is None
    assert "no line break" in (password_problem("first line\nsecond") or "")
    assert "NUL" in (password_problem("first line\x00second") or "")
    assert "at most" in (password_problem("x" * 257) or "")


def test_an_unknown_account_costs_one_hash_check_like_a_wrong_password() -> None:
    hasher = CountingHasher()
    passwords = Passwords(hasher)
    stored = passwords.hash("the right password")
    hasher.verified = 0
    assert passwords.check(stored, "the wrong password") == (False, None)
    assert hasher.verified == 1
    assert passwords.check(None, "the wrong password") == (False, None)
    assert hasher.verified == 2
    assert passwords.check(None, "x" * 100_000) == (False, None)  # a megabyte of password is no more work
    assert hasher.verified == 3


def test_a_hash_of_an_older_setting_is_renewed_when_the_password_is_right() -> None:
    old = Passwords(CHEAP).hash("the right password")
    right, renewed = Passwords().check(old, "the right password")
    assert right and renewed is not None and renewed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert Passwords().check(old, "the wrong password!") == (False, None)  # nothing renewed on a failure


# --- TOTP: RFC 4226 appendix D and RFC 6238 appendix B ----------------------------------------------------------

RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
SEED = {"sha1": b"12345678901234567890", "sha256": b"12345678901234567890123456789012",
        "sha512": b"1234567890123456789012345678901234567890123456789012345678901234"}
RFC6238 = [  # time, then the 8-digit TOTP with SHA-1, SHA-256, SHA-512
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


def test_hotp_gives_rfc4226s_test_values() -> None:
    assert [hotp(SEED["sha1"], counter) for counter in range(10)] == RFC4226


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_totp_gives_rfc6238s_test_values(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp(SEED[digest], at, digits=8, digest=digest) == expected
    assert totp(SEED["sha1"], at) == sha1[-6:]  # the console's codes: SHA-1, 6 digits, 30 s


def test_a_code_is_taken_one_step_either_side_of_now_and_once_only() -> None:
    secret = SEED["sha1"]
    step = 1111111111 // 30
    assert matching_step(secret, "050471", 1111111111, None) == step
    assert matching_step(secret, "050 471", 1111111111, None) == step  # as apps show it
    assert matching_step(secret, "050471", 1111111111 + 30, None) == step  # a phone a step behind
    assert matching_step(secret, "050471", 1111111111 - 30, None) == step  # a step ahead
    assert matching_step(secret, "050471", 1111111111 + 60, None) is None  # two steps: too far
    assert matching_step(secret, "050471", 1111111111, last_used=step) is None  # used already
    assert matching_step(secret, "050471", 1111111111, last_used=step - 1) == step
    for bad in ("", "05047", "0504710", "05047a", "٠٥٠٤٧١"):  # Arabic-Indic digits are digits to Python
        assert matching_step(secret, bad, 1111111111, None) is None


def test_the_secret_is_shown_as_base32_and_an_otpauth_uri() -> None:
    secret = bytes(range(20))
    assert to_base32(secret) == "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT"  # RFC 4648 base32, no padding
    assert from_base32("aaaq eayeaudaocajbifqydiob4ibceqt") == secret
    assert uri(secret, "张三") == ("otpauth://totp/Kiosk%20collector%3A%E5%BC%A0%E4%B8%89?secret="
                                  "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT&issuer=Kiosk%20collector&algorithm=SHA1"
                                  "&digits=6&period=30")


# --- Backoff as a policy --------------------------------------------------------------------------------------

def test_delays_double_from_one_second_up_to_their_caps() -> None:
    rules = Backoff()
    assert [rules.delay(n, 900) for n in range(13)] == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert [rules.delay(n, 60) for n in range(9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert rules.delay(10_000, 900) == 900


def test_the_wait_is_the_longest_of_the_address_the_pair_and_the_account_unless_the_address_is_known() -> None:
    rules = Backoff()
    many = Failures(1000, 100.0)
    assert rules.wait(None, None, None, False, 100.0) == 0
    assert rules.wait(many, None, None, False, 100.0) == 60  # strangers elsewhere: the account's cap, no more
    assert rules.wait(many, None, None, True, 100.0) == 0  # from an address it logged in from: nothing
    assert rules.wait(many, many, None, True, 100.0) == 900  # but this very address failing: its own wait
    assert rules.wait(None, None, many, True, 130.0) == 870
    assert rules.wait(many, None, None, False, 100.0 + 24 * 3600) == 0  # forgotten after a day


def test_ipv6_addresses_count_by_their_slash_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::99") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:10.0.0.7") == "10.0.0.7" == address_key("10.0.0.7")
    assert keys_of("bob", "10.0.0.7").pair != keys_of("bob", "10.0.0.8").pair
    assert len(keys_of("x" * 10_000, "y" * 10_000).pair) < 200
