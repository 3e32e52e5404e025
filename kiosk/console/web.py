"""The web console's framework: pages, the guard every request passes, rendering, and the routes it gives the app.

The console is server-rendered HTML (Starlette + Jinja2, autoescape on), served by `kiosk collector serve` on
the kiosks' port beside /v1/. `make_console(parts)` returns its routes; kiosk/collector/app.py's `make_app`
mounts them (`console=`). Every asset (CSS, JS) is a file of kiosk/console/static/, served by the collector
itself: no CDN, it works on a LAN with no internet.

Adding a page (a module kiosk/console/pages_<name>.py; nothing else to edit):

    from starlette.requests import Request
    from starlette.responses import Response
    from kiosk.console.web import ConsoleParts, Page, call, needs, not_found, render

    WORDS = {"export.title": ("导出", "Export")}          # this page's words: (Chinese, English), keys unique

    @needs("export")                                       # the Action of kiosk/console/accounts.py it needs
    async def export_form(request: Request, parts: ConsoleParts) -> Response:
        account = request.state.account                    # the signed-in Account (never None here)
        sites = account.scope(request.query_params.get("site") or None)   # raises Forbidden: a 403 page
        devices = await call(parts.store.devices)          # database work off the event loop
        return render(request, "export.html", sites=sites, devices=devices)

    @needs("export")
    async def export_post(request: Request, parts: ConsoleParts) -> Response:
        form = request.state.form                          # the POST's form, read, capped and CSRF-checked
        ...

    PAGES = [Page("/export", export_form, nav=("导出", "Export"), order=30),
             Page("/export", export_post, methods=("POST",)),
             Page("/export/file", export_file, kind="download")]

`make_console` imports every kiosk/console/pages_*.py module and takes its `PAGES` (and `WORDS`). A template
extends layout.html and fills `{% block content %}` (and `{% block title %}`); `t("key")` says a word of
kiosk/console/words.py or of a page's WORDS in the request's language; `verdict(v)`, `reason(r)`, `when(epoch)`,
`ago(seconds)` are there too; `csrf` is the token every POST form carries as `<input type="hidden"
name="csrf_token" value="{{ csrf }}">`. A form's field names: see the page's module.

What the guard (kiosk/console/security.py) does before a handler runs, so no handler repeats it:
- the session from its cookie (server-side, hashed; kiosk/console/auth.py), checked before any body is read;
  none: an HTML page redirects to /login (a request asking for JSON only gets 401), a fragment or download
  (`kind=`) gets 401, and neither any data;
- the handler's action (`@needs`): an account that may not do it gets 403; a page without `@needs` is
  refused at start-up unless it is `kind="public"` (only the login page is);
- a POST: Content-Length required and at most `max_body` (64 KiB unless the page says more: an upload),
  refused before the body is read; a form or multipart type only; the form's `csrf_token` (or an
  X-CSRF-Token header) must be the session's, else 403; the parsed form is `request.state.form`;
- request.state: account, session, csrf, language ("zh" unless ?lang=en or the language cookie), now, parts;
- every answer gets the security headers (CSP without inline script, nosniff, no referrer, frame-ancestors
  'none') and `Cache-Control: no-store`; an error raised by a handler becomes a one-line page, never a traceback:
  Forbidden -> 403, StoreError -> 503, another KioskError or a ValueError -> 400 with its message (say what
  was wrong with the request), LookupError -> 404, anything else -> 500 (logged with its traceback).

Site scope is the handler's duty, through `account.scope(asked)` / `account.sees(site)`: every query a page
makes passes the account's sites to the store, and an asked site, device or row outside them is 403 or 404.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path

from starlette.routing import BaseRoute, Route

from kiosk.console import words as vocabulary
from kiosk.console.page import FORM_LIMIT, SIGNED_IN, ConsoleParts, Handler, Kind, Page, action_of, call, needs
from kiosk.console.rendering import (
    Renderer,
    bad_request,
    forbidden,
    not_found,
    problem,
    render,
    translator,
    when,
)
from kiosk.console.security import Guard, static_route
from kiosk.terms import Words

__all__ = ["FORM_LIMIT", "SIGNED_IN", "ConsoleParts", "Handler", "Kind", "Page", "action_of", "bad_request", "call",
           "forbidden", "make_console", "needs", "not_found", "problem", "render", "translator", "when"]
STATIC = Path(__file__).parent / "static"


def discovered() -> tuple[list[Page], dict[str, Words]]:
    """Every kiosk/console/pages_*.py module's PAGES and WORDS (a word key defined twice is refused)."""
    pages: list[Page] = []
    table: dict[str, Words] = dict(vocabulary.WORDS)
    package = importlib.import_module("kiosk.console")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("pages_"):
            continue
        module = importlib.import_module(f"kiosk.console.{info.name}")
        pages.extend(getattr(module, "PAGES", []))
        for key, pair in getattr(module, "WORDS", {}).items():
            if key in table:
                raise RuntimeError(f"kiosk/console/{info.name}.py: the word {key!r} is defined twice")
            table[key] = pair
    return pages, table


def make_console(parts: ConsoleParts, pages: Sequence[Page] | None = None) -> list[BaseRoute]:
    """The console's routes: every page behind the guard, and the static files. `pages`: every discovered one."""
    found, table = discovered()
    chosen = list(pages) if pages is not None else found
    for page in chosen:
        if page.kind != "public" and action_of(page.handler) is None:
            raise RuntimeError(f"console page {page.methods} {page.path}: its handler declares no @needs(action)")
    renderer = Renderer(table, sorted((p for p in chosen if p.nav), key=lambda p: p.order))
    routes: list[BaseRoute] = [Route(page.path, Guard(page, parts, renderer).endpoint, methods=list(page.methods))
                               for page in chosen]
    routes.append(static_route(STATIC))
    return routes
