"""`kiosk collector user ...`: the web console's accounts, on the collector's host (the first admin comes from here:
there is no default account)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kiosk.cli.common import new_command, print_json
from kiosk.collector.database import database_url
from kiosk.console.accounts import ROLES, checked_account
from kiosk.device_names import fit, printable
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.console.users import Users

Command = Callable[[Any, str, str], argparse.ArgumentParser]
NAME_COLUMNS = 20  # display columns of the name and sites in `user list`
SITE_COLUMNS = 24
MAX_LINE = 1024  # characters read from standard input for a password: a longer line is refused, not hashed


def register(sub: Any, command: Command) -> None:
    """`user ACTION` under `kiosk collector`; `command(sub, name, help)` makes a leaf with --db."""
    group = new_command(sub, "user", "the web console's accounts: add, list, passwd, disable, enable, totp")
    actions = group.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    name_help = "the account's name (1 to 64 characters)"

    p = command(actions, "add", "add an account; its password is asked twice on a terminal, else one line of "
                                "standard input; admin and tracer accounts get a second-factor (TOTP) secret")
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("--role", required=True, choices=ROLES,
                   help="viewer: overview and events; manager: + exports, reports, corrections, kiosks; "
                        "tracer: trace queries; admin: everything")
    p.add_argument("--site", action="append", metavar="SITE",
                   help="limit the account to this site (a kiosk's [log] site); again for more (default: all)")
    p.set_defaults(run=run_add)

    p = command(actions, "list", "every account: role, sites, state, second factor, last login")
    p.add_argument("--json", action="store_true", help="one JSON object per account (default: a table)")
    p.set_defaults(run=run_list)

    for name, help, run in (
            ("passwd", "set an account's password (asked as for add); its sessions end", run_passwd),
            ("disable", "refuse an account's logins from now on; its sessions end", run_disable),
            ("enable", "let a disabled account log in again", run_enable),
            ("totp", "give an account a new second-factor secret (the old one's codes stop working)", run_totp)):
        p = command(actions, name, help)
        p.add_argument("name", metavar="NAME", help=name_help)
        p.set_defaults(run=run)


@contextlib.contextmanager
def _users(args: argparse.Namespace, create: bool = False) -> Iterator[Users]:
    """The accounts in the database of --db, $KIOSK_COLLECTOR_DB or the data folder (only add makes one)."""
    from kiosk.console.auth import console_services
    from kiosk.console.console_db import open_console_store

    with open_console_store(database_url(args.db), create=create) as store:
        yield console_services(store)[1]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _password() -> str:
    """Asked twice on a terminal; else one line of standard input (a script: `echo ... | kiosk collector ...`)."""
    if sys.stdin.isatty():
        password = getpass.getpass("password (10 characters or more): ")
        if getpass.getpass("again: ") != password:
            raise KioskError("the two passwords differ; nothing was changed")
        return password
    line = sys.stdin.readline(MAX_LINE + 2)
    if len(line) > MAX_LINE:
        raise KioskError("the password line is too long (a console password is at most 256 characters)")
    return line.removesuffix("\n").removesuffix("\r")


def _show_secret(name: str, secret: bytes) -> None:
    from kiosk.console.totp import to_base32, uri

    link = uri(secret, name)
    print(f"second factor (TOTP) secret: {to_base32(secret)}")
    print(link)
    if sys.stdout.isatty():
        import segno

        segno.make(link, error="m").terminal(compact=True)
    print("add it to an authenticator app now (scan the otpauth:// link as a QR code, or type the secret): "
          "it is not shown again; login asks for its 6-digit code")


def run_add(args: argparse.Namespace) -> int:
    sites = frozenset(args.site) if args.site else None
    checked_account(args.name, args.role, sites)  # a bad name, role or site is told before the password is asked
    password = _password()
    with _users(args, create=True) as users:
        added = users.add(args.name, args.role, sites, password, actor=_actor(), address="local")
    where = ", ".join(sorted(sites)) if sites else "all sites"
    print(f"added {added.account.role} {printable(args.name)!r} ({printable(where)})")
    if added.totp_secret is not None:
        _show_secret(args.name, added.totp_secret)
    return 0


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch is not None else "never"


def run_list(args: argparse.Namespace) -> int:
    with _users(args) as users:
        found = users.list()
    if args.json:
        for info in found:
            a = info.account
            print_json({"name": a.name, "role": a.role, "sites": sorted(a.sites) if a.sites is not None else None,
                        "disabled": a.disabled, "totp": a.totp, "created_at": info.created_at,
                        "last_login": info.last_login})
        return 0
    if not found:
        print("no console accounts yet: `kiosk collector user add NAME --role admin` makes the first")
        return 0
    print(f"{fit('name', NAME_COLUMNS)}  {'role':7}  {fit('sites', SITE_COLUMNS)}  {'state':8}  2FA  last login")
    for info in found:
        a = info.account
        sites = ", ".join(sorted(a.sites)) if a.sites is not None else "all"
        print(f"{fit(a.name, NAME_COLUMNS)}  {a.role:7}  {fit(sites, SITE_COLUMNS)}  "
              f"{'disabled' if a.disabled else 'enabled':8}  {'yes' if a.totp else 'no ':3}  {_when(info.last_login)}")
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    with _users(args) as users:
        if users.get(args.name) is None:
            from kiosk.errors import NoSuchAccount

            raise NoSuchAccount(args.name)  # before the password is asked
        ended = users.passwd(args.name, _password(), actor=_actor(), address="local")
    print(f"password of {printable(args.name)!r} changed; {_sessions(ended)} ended")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    with _users(args) as users:
        ended = users.disable(args.name, actor=_actor(), address="local")
    print(f"{printable(args.name)!r} disabled: its logins are refused from now on; {_sessions(ended)} ended")
    return 0


def run_enable(args: argparse.Namespace) -> int:
    with _users(args) as users:
        users.enable(args.name, actor=_actor(), address="local")
    print(f"{printable(args.name)!r} enabled: it may log in again")
    return 0


def run_totp(args: argparse.Namespace) -> int:
    with _users(args) as users:
        secret = users.reset_totp(args.name, actor=_actor(), address="local")
    print(f"new second factor for {printable(args.name)!r}: the old one's codes no longer work")
    _show_secret(args.name, secret)
    return 0


def _sessions(count: int) -> str:
    return "1 session" if count == 1 else f"{count} sessions"
