"""A console page as the framework knows it: its route, its handler, the action it needs (kiosk/console/web.py
tells how to add one), and the parts every handler works with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kiosk.terms import Words

if TYPE_CHECKING:
    from kiosk.collector.store import CollectorStore
    from kiosk.console.accounts import Account
    from kiosk.console.auth import Authenticator
    from kiosk.console.trail import Trail
    from kiosk.console.users import Users

FORM_LIMIT = 64 * 1024  # bytes of a console POST: a form is small; an upload page says more (max_body)
SIGNED_IN = "signed-in"  # @needs(SIGNED_IN): any account with a session (signing out)
Kind = Literal["html", "fragment", "download", "public"]
Handler = Callable[[Request, "ConsoleParts"], Awaitable[Response]]
T = TypeVar("T")


@dataclass(frozen=True)
class ConsoleParts:
    """What the console's pages work with; built once by kiosk/collector/serve.py."""

    store: CollectorStore  # the collector's events, devices, read model
    auth: Authenticator  # logins and sessions
    users: Users  # accounts (the users page, the CLI)
    trail: Trail  # the console's own audit trail
    tz: tzinfo  # the collector's zone: every date shown or typed is in it
    clock: Callable[[], float]
    tls: bool = False  # served over HTTPS: __Host- cookies, Secure
    subject_key: bytes | None = None  # the deployment's HMAC key: a subject id -> its reference
    trust_files: Path | None = None  # where published trust files are (served to kiosks at /v1/trust/)
    trust_root: Path | None = None  # the pinned root the trust page checks uploads against
    retention_days: float | None = None  # events older than this are purged (None: kept)


@dataclass(frozen=True)
class Page:
    """One route of the console: a path, its handler and what a request without a session gets (`kind`)."""

    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    kind: Kind = "html"  # html: redirect to /login; fragment, download: 401; public: served to anyone
    max_body: int = FORM_LIMIT  # bytes a POST may send
    nav: Words | None = None  # (Chinese, English): a link in the menu, for accounts that may do its action
    order: int = 50  # the menu's order


def needs(action: str) -> Callable[[T], T]:
    """Declare the action (kiosk/console/accounts.py's Action, or SIGNED_IN) a handler needs; the guard checks
    it before the handler runs."""
    def mark(handler: T) -> T:
        handler.console_action = action  # type: ignore[attr-defined]
        return handler
    return mark


def action_of(handler: Handler) -> str | None:
    return getattr(handler, "console_action", None)


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (the database) in the thread pool, never on the event loop."""
    return await run_in_threadpool(function, *args, **kwargs)


def sites_for(account: Account, asked: str | None, store: CollectorStore) -> frozenset[str] | None:
    """The sites a query of `account` may read for `asked` (None or "": all of the account's); None: every site,
    and events with no site. Forbidden (a 403) for a site outside the account's. Blocking: run it with `call`.

    An account that may see every site but not events without one (a viewer or manager with no --site) gets
    the list of named sites the collector knows, so the store's "every site" never hands it the unnamed ones.
    """
    scope = account.scope(asked or None)
    if scope is None and not account.sees(""):
        return frozenset(site for site in store.sites() if site)
    return scope
