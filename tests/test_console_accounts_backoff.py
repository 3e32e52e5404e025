"""The login backoff through the Authenticator, on SQLite and PostgreSQL (issue 14: "failed logins back off
exponentially per account and per address (a stranger cannot lock a manager out for good)").

Times are given, not waited for: each test says what the clock reads at every login.
"""

from __future__ import annotations

import threading

from kiosk.console.auth import Login, Refused
from tests.test_console_accounts_sessions import (  # noqa: F401 (console_fixture, url_fixture: the fixtures)
    PASSWORD,
    T0,
    Console,
    console_fixture,
    refused,
    url_fixture,
)

ADDRESS_CAP, ACCOUNT_CAP = 15 * 60, 60  # seconds: kiosk/console/backoff.py's design (its docstring)


def test_while_a_wait_lasts_even_the_right_password_is_refused_unchecked(console: Console) -> None:
    console.add("bob")
    refused(console.auth.login("bob", "not the password", None, "10.0.0.1", T0), "credentials")
    checked = console.hasher.verified
    assert refused(console.auth.login("bob", PASSWORD, None, "10.0.0.1", T0 + 0.25), "wait") == 0.75
    assert console.hasher.verified == checked  # the password was not even looked at
    assert console.login("bob", T0 + 1).account.name == "bob"


def test_failures_double_the_wait_and_a_success_starts_it_again(console: Console) -> None:
    console.add("bob")
    at, waits = T0, []
    for _ in range(6):
        refused(console.auth.login("bob", "not the password", None, "10.0.0.1", at), "credentials")
        wait = refused(console.auth.login("bob", PASSWORD, None, "10.0.0.1", at), "wait")
        waits.append(wait)
        at += wait
    assert waits == [1, 2, 4, 8, 16, 32]
    console.login("bob", at)
    refused(console.auth.login("bob", "not the password", None, "10.0.0.2", at + 1), "credentials")
    assert refused(console.auth.login("bob", PASSWORD, None, "10.0.0.3", at + 1), "wait") == 1  # from 1 s again
    # The address keeps its own count: its 7th failure (the login between was no failure) waits 64 s.
    refused(console.auth.login("bob", "not the password", None, "10.0.0.1", at + 1), "credentials")
    assert refused(console.auth.login("bob", PASSWORD, None, "10.0.0.1", at + 1), "wait") == 64


def test_one_address_guessing_many_accounts_waits_for_all_its_failures(console: Console) -> None:
    for name in ("alice", "bob", "carol"):
        console.add(name)
    refused(console.auth.login("alice", "guess one", None, "203.0.113.9", T0), "credentials")
    refused(console.auth.login("bob", "guess two", None, "203.0.113.9", T0 + 1), "credentials")
    assert refused(console.auth.login("carol", "guess three", None, "203.0.113.9", T0 + 2), "wait") == 1
    assert console.login("carol", T0 + 2, address="198.51.100.7").account.name == "carol"  # its owner: no wait


def test_a_strangers_thousand_failures_hold_the_owner_back_at_most_the_account_cap(console: Console) -> None:
    console.add("manager", "manager", frozenset({"Joy City"}))
    console.login("manager", T0, address="198.51.100.7")  # the owner's desk: a known address from now on
    at, stranger_waits = T0 + 10, []
    for i in range(1000):
        done = console.auth.login("manager", f"guess {i}", None, "203.0.113.9", at)
        if isinstance(done, Refused) and done.reason == "wait":
            stranger_waits.append(done.wait)
            at += done.wait
            done = console.auth.login("manager", f"guess {i}", None, "203.0.113.9", at)
        refused(done, "credentials")
    assert max(stranger_waits) == ADDRESS_CAP  # the stranger himself is down to 4 guesses an hour
    # The owner at a new address waits at most the account's cap, then is in:
    first = console.auth.login("manager", PASSWORD, None, "192.0.2.44", at)
    wait = first.wait if isinstance(first, Refused) else 0.0
    assert isinstance(first, Login) or (first.reason == "wait" and 0 < wait <= ACCOUNT_CAP)
    assert console.login("manager", at + wait, address="192.0.2.44").account.name == "manager"
    # and from the desk it logged in from before, not at all, however the stranger goes on:
    refused(console.auth.login("manager", "guess 1000", None, "203.0.113.9", at + wait + ADDRESS_CAP),
            "credentials")
    assert console.login("manager", at + wait + ADDRESS_CAP, address="198.51.100.7").account.name == "manager"


def test_many_strangers_together_get_one_guess_a_minute_at_most(console: Console) -> None:
    console.add("bob")
    at = T0
    for i in range(20):  # twenty addresses, each failing once, each as soon as it is let
        address = f"203.0.113.{i + 1}"
        done = console.auth.login("bob", f"guess {i}", None, address, at)
        if isinstance(done, Refused) and done.reason == "wait":
            assert done.wait <= ACCOUNT_CAP
            at += done.wait
            done = console.auth.login("bob", f"guess {i}", None, address, at)
        refused(done, "credentials")
    assert at - T0 >= 1 + 2 + 4 + 8 + 16 + 32 + 60 * 13  # 19 waits: doubling, then a minute each


def test_parallel_guesses_cannot_slip_through_one_open_moment(console: Console) -> None:
    """Sixteen guesses sent at once (four store connections, all at the same moment): one is checked."""
    console.add("bob")
    results: list[Login | Refused] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def guess(i: int) -> None:
        start.wait(60)
        done = console.auth.login("bob", f"guess {i}", None, "203.0.113.9", T0)
        with lock:
            results.append(done)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(r.reason for r in results if isinstance(r, Refused)) == ["credentials"] + ["wait"] * 15
    assert console.hasher.verified == 1
