"""`kiosk collector user ...` as an admin types it on the collector's host (issue 14, "Who uses it"): the first
admin comes from here, the password is asked twice on a terminal or read as one line of standard input, admin
and tracer accounts get a TOTP secret shown once, and every error is one line on stderr with exit status 2.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from kiosk.console.auth import Login, Refused, console_services
from kiosk.console.console_db import open_console_store
from kiosk.console.totp import from_base32, totp

PASSWORD = "correct horse battery"
PROMPTS = [b"password (10 characters or more): ", b"again: "]


def kiosk(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL if stdin is None else None)


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and all(word in done.stderr for word in words), done.stderr


def login(db: str, name: str, password: str, code: str | None = None, at: float | None = None) -> Login | Refused:
    with open_console_store(db) as store:
        auth, _, _ = console_services(store)
        return auth.login(name, password, code, "10.0.0.1", time.time() if at is None else at)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'collector.db'}"


def secret_of(stdout: str) -> bytes:
    """The TOTP secret `user add` printed, from its otpauth:// link (checked against the base32 line)."""
    link = next(line for line in stdout.splitlines() if line.startswith("otpauth://"))
    parts = urlsplit(link)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert (parts.netloc, unquote(parts.path)) == ("totp", "/Kiosk collector:" + unquote(parts.path).split(":")[-1])
    assert (query["issuer"], query["algorithm"], query["digits"], query["period"]) == ("Kiosk collector", "SHA1",
                                                                                     "6", "30")
    assert f"secret: {query['secret']}" in stdout  # the same secret, to type by hand
    return from_base32(query["secret"])


def test_the_first_admin_comes_from_the_command_line_with_a_second_factor(db: str) -> None:
    one_line_error(kiosk("collector", "user", "list", "--db", db), "no collector database there yet")
    done = kiosk("collector", "user", "add", "root", "--role", "admin", "--db", db, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "authenticator app" in done.stdout and "not shown again" in done.stdout
    secret = secret_of(done.stdout)
    assert len(secret) == 20
    assert unquote(done.stdout.split("otpauth://totp/")[1].split("?")[0]) == "Kiosk collector:root"
    now = time.time()
    assert login(db, "root", PASSWORD, None, now) == Refused("code")
    assert isinstance(login(db, "root", PASSWORD, totp(secret, now + 1), now + 1), Login)
    tracer = kiosk("collector", "user", "add", "health", "--role", "tracer", "--db", db, stdin=PASSWORD + "\n")
    assert len(secret_of(tracer.stdout)) == 20
    viewer = kiosk("collector", "user", "add", "joy", "--role", "viewer", "--site", "Joy City", "--site", "东门",
                   "--db", db, stdin=PASSWORD)  # no final line end: a script's printf
    assert viewer.returncode == 0 and "otpauth" not in viewer.stdout and "Joy City" in viewer.stdout
    assert isinstance(login(db, "joy", PASSWORD), Login)


def test_list_shows_each_account_and_never_a_hash_or_secret(db: str) -> None:
    added = kiosk("collector", "user", "add", "root", "--role", "admin", "--db", db, stdin=PASSWORD + "\n")
    kiosk("collector", "user", "add", "joy", "--role", "manager", "--site", "Joy City", "--db", db, stdin=PASSWORD)
    assert isinstance(login(db, "joy", PASSWORD, at=1_800_000_000), Login)
    kiosk("collector", "user", "disable", "joy", "--db", db)
    table = kiosk("collector", "user", "list", "--db", db)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["name", "role", "sites", "state", "2FA", "last", "login"]
    day = time.strftime("%Y-%m-%d", time.localtime(1_800_000_000))
    assert lines[1].split() == ["joy", "manager", "Joy", "City", "disabled", "no", day, lines[1].split()[-1]]
    assert lines[2].split() == ["root", "admin", "all", "enabled", "yes", "never"]
    as_json = kiosk("collector", "user", "list", "--json", "--db", db).stdout
    assert '"name": "joy", "role": "manager", "sites": ["Joy City"], "disabled": true, "totp": false' in as_json
    secret = secret_of(added.stdout)
    from kiosk.console.totp import to_base32

    for shown in (table.stdout, as_json):
        assert "$argon2" not in shown and to_base32(secret) not in shown and PASSWORD not in shown


def test_a_password_is_asked_twice_on_a_terminal_and_not_echoed(db: str) -> None:
    def on_terminal(*answers: str) -> tuple[int, str]:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the terminal is its controlling one, as in a shell
            os.execv(sys.executable, [sys.executable, "-m", "kiosk", "collector", "user", "add", "ops", "--role",
                                      "viewer", "--db", db])
        # Each answer once its own prompt is there: getpass flushes what was typed ahead of it.
        seen, answered = b"", 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if answered < len(answers) and seen.count(PROMPTS[answered]) > 0:
                os.write(fd, answers[answered].encode() + b"\n")
                answered += 1
        else:
            os.kill(pid, signal.SIGKILL)  # a hang guard: the test then fails on the exit status
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")

    kiosk("collector", "user", "add", "first", "--role", "viewer", "--db", db, stdin=PASSWORD)
    code, shown = on_terminal(PASSWORD, "another password")
    assert code == 2 and "the two passwords differ" in shown and PASSWORD not in shown
    one_line_error(kiosk("collector", "user", "passwd", "ops", "--db", db), "no console account 'ops'")
    code, shown = on_terminal(PASSWORD, PASSWORD)
    assert code == 0 and "password" in shown and "again:" in shown and PASSWORD not in shown, shown
    assert isinstance(login(db, "ops", PASSWORD), Login)


@pytest.mark.parametrize(("args", "stdin", "words"), [
    (["root", "--role", "admin"], "short pw1\n", ["at least 10 characters"]),
    (["x" * 65, "--role", "viewer"], None, ["at most 64 characters"]),
    (["bad\x1bname", "--role", "viewer"], None, ["control or invisible", "U+001B"]),
    (["root", "--role", "admin", "--site", "A"], None, ["admin sees every site"]),
    (["joy", "--role", "viewer", "--site", "A\tB"], None, ["a site's name", "U+0009"]),
    (["root", "--role", "superuser"], None, ["invalid choice", "--role"]),
    (["root", "--role", "admin"], "x" * 5000 + "\n", ["too long"]),
    (["root", "--role", "admin"], "nul\x00inside the line\n", ["NUL"]),
])
def test_bad_adds_are_refused_in_one_line_and_add_nothing(db: str, args: list[str], stdin: str | None,
                                                          words: list[str]) -> None:
    kiosk("collector", "user", "add", "first", "--role", "viewer", "--db", db, stdin=PASSWORD)
    one_line_error(kiosk("collector", "user", "add", *args, "--db", db, stdin=stdin), *words)
    assert kiosk("collector", "user", "list", "--db", db).stdout.count("\n") == 2  # the header and "first"


@pytest.mark.slow
def test_passwd_disable_enable_and_totp_change_what_a_login_takes(db: str) -> None:
    added = kiosk("collector", "user", "add", "root", "--role", "admin", "--db", db, stdin=PASSWORD + "\n")
    old = secret_of(added.stdout)
    kiosk("collector", "user", "add", "joy", "--role", "manager", "--db", db, stdin=PASSWORD)
    now = time.time()
    session = login(db, "joy", PASSWORD, at=now)
    assert isinstance(session, Login)
    done = kiosk("collector", "user", "passwd", "joy", "--db", db, stdin="a new one, longer\n")
    assert done.returncode == 0 and "1 session ended" in done.stdout
    assert login(db, "joy", PASSWORD, at=now + 100) == Refused("credentials")
    assert isinstance(login(db, "joy", "a new one, longer", at=now + 200), Login)
    assert "1 session ended" in kiosk("collector", "user", "disable", "joy", "--db", db).stdout
    assert login(db, "joy", "a new one, longer", at=now + 300) == Refused("credentials")
    assert kiosk("collector", "user", "enable", "joy", "--db", db).returncode == 0
    assert isinstance(login(db, "joy", "a new one, longer", at=now + 400), Login)
    renewed = kiosk("collector", "user", "totp", "root", "--db", db)
    new = secret_of(renewed.stdout)
    assert new != old
    assert login(db, "root", PASSWORD, totp(old, now + 500), now + 500) == Refused("code")
    assert isinstance(login(db, "root", PASSWORD, totp(new, now + 600), now + 600), Login)
    for action in ("passwd", "disable", "enable", "totp"):
        one_line_error(kiosk("collector", "user", action, "nobody", "--db", db, stdin=PASSWORD),
                       "no console account 'nobody'")
    one_line_error(kiosk("collector", "user", "add", "joy", "--role", "viewer", "--db", db, stdin=PASSWORD),
                   "already")
    with open_console_store(db) as store:
        _, _, trail = console_services(store)
        changes = [(e.action, e.details().get("account"), e.address) for e in reversed(trail.entries())
                   if e.actor.startswith("cli:")]
    assert changes == [("user_add", "root", "local"), ("user_add", "joy", "local"), ("user_passwd", "joy", "local"),
                       ("user_disable", "joy", "local"), ("user_enable", "joy", "local"),
                       ("user_totp", "root", "local")]


def test_the_commands_take_the_collectors_postgresql_database_too(pg_url: str) -> None:
    env = {**os.environ, "KIOSK_COLLECTOR_DB": pg_url}
    done = kiosk("collector", "user", "add", "pg-admin", "--role", "admin", stdin=PASSWORD, env=env)
    assert done.returncode == 0, done.stderr
    assert "pg-admin" in kiosk("collector", "user", "list", "--db", pg_url).stdout
    now = time.time()
    assert isinstance(login(pg_url, "pg-admin", PASSWORD, totp(secret_of(done.stdout), now), now), Login)
