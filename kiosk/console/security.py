"""The guard every console request passes (see kiosk/console/web.py's docstring for the rules it keeps).

A wrapper around each page's handler rather than app-wide middleware: the collector's kiosk API (/v1/) shares
the app and keeps its own rules. The session is looked up from the cookie before any body is read; a POST's
size is judged from its Content-Length before a byte of it is read.
"""

from __future__ import annotations

import hmac
import logging
import mimetypes
import secrets
from pathlib import Path

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kiosk.console.page import SIGNED_IN, ConsoleParts, Page, action_of, call
from kiosk.console.rendering import Renderer, bad_request, forbidden, not_found, problem
from kiosk.errors import Forbidden, KioskError, StoreError

log = logging.getLogger("kiosk.console")

# Every console answer. No inline script or style anywhere: console.js and console.css are files.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
NO_STORE = "no-store"
LANGUAGE_COOKIE = "kiosk_lang"
LANGUAGES = ("zh", "en")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def session_cookie(tls: bool) -> str:
    """The session cookie's name: `__Host-` (Secure, Path=/, no Domain: the browser enforces it) under TLS."""
    return "__Host-kiosk_session" if tls else "kiosk_session"


def login_cookie(tls: bool) -> str:
    """The pre-session CSRF cookie of the login form (double submit: the cookie and the form's field agree)."""
    return "__Host-kiosk_login" if tls else "kiosk_login"


def set_cookie(response: Response, name: str, value: str, tls: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=tls, httponly=True, samesite="strict")


def clear_cookie(response: Response, name: str, tls: bool) -> None:
    response.delete_cookie(name, path="/", secure=tls, httponly=True, samesite="strict")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two tokens; an empty or missing one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def language_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANGUAGE_COOKIE)
    return kept if kept in LANGUAGES else "zh"


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def secured(response: Response, *, cache: str = NO_STORE) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    response.headers["Cache-Control"] = cache
    return response


class Guard:
    """One page behind the console's rules; `endpoint` is what the route calls."""

    def __init__(self, page: Page, parts: ConsoleParts, renderer: Renderer) -> None:
        self.page, self.parts, self.renderer = page, parts, renderer

    async def endpoint(self, request: Request) -> Response:
        try:
            response = await self._answer(request)
        finally:
            await request.close()  # an upload's spooled files: the handler has read what it needed
        asked = request.query_params.get("lang")
        if asked in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != asked:
            set_cookie(response, LANGUAGE_COOKIE, asked or "zh", self.parts.tls, max_age=365 * 86400)
        return secured(response)

    async def _answer(self, request: Request) -> Response:
        page, parts, state = self.page, self.parts, request.state
        state.parts, state.renderer, state.kind = parts, self.renderer, page.kind
        state.language, state.now = language_of(request), parts.clock()
        state.account = state.session = None
        state.csrf, state.form = "", FormData()
        token = request.cookies.get(session_cookie(parts.tls))
        if token:
            session = await call(parts.auth.session, token, state.now)
            if session is not None:
                state.session, state.account, state.csrf = session, session.account, session.csrf
        if page.kind != "public":
            if state.session is None:
                return self._unauthenticated(request)
            action = action_of(page.handler) or ""
            if action != SIGNED_IN and not state.account.may(action):
                return forbidden(request)
        if request.method == "POST":
            refused = await self._read_form(request)
            if refused is not None:
                return refused
        try:
            return await page.handler(request, parts)
        except Forbidden:
            return forbidden(request)
        except StoreError as err:
            log.error("console %s %s: %s", request.method, page.path, err)
            return problem(request, 503, "problem.store")
        except (KioskError, ValueError) as err:  # a message for people: what was wrong with the request
            return bad_request(request, str(err)[:300])
        except LookupError:
            return not_found(request)
        except Exception:  # a bug: logged with its traceback, the person sees one line
            log.exception("console %s %s", request.method, page.path)
            return problem(request, 500, "problem.internal")

    def _unauthenticated(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if self.page.kind == "html" and not ("application/json" in accept and "text/html" not in accept):
            return RedirectResponse("/login", 303)  # the body of a POST stays unread
        return Response("", 401, headers={"WWW-Authenticate": 'Cookie realm="kiosk console"'})

    async def _read_form(self, request: Request) -> Response | None:
        """The POST's form into request.state.form, or the refusal: too big (before reading), wrong type, CSRF."""
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return _plain(411, "a console POST needs a Content-Length")
        if int(length) > self.page.max_body:
            response = _plain(413, f"at most {self.page.max_body} bytes")
            response.headers["Connection"] = "close"  # the body stays unread
            return response
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if int(length) and kind not in FORM_TYPES:
            return _plain(415, "a form is expected")
        try:
            form = await request.form(max_files=4, max_fields=200, max_part_size=self.page.max_body) \
                if int(length) else FormData()
        except (MultiPartException, HTTPException) as err:  # HTTPException: Starlette's wrapping of the first
            return _plain(400, f"an unreadable form: {getattr(err, 'message', None) or getattr(err, 'detail', '')}")
        request.state.form = form
        if self.page.kind == "public":
            return None  # the login form checks its own pre-session token
        given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not same(request.state.csrf, given if isinstance(given, str) else None):
            log.warning("console: a POST to %s without the session's CSRF token", self.page.path)
            return _plain(403, "the form is stale or forged (CSRF): reload the page")
        return None


def _plain(status: int, text: str) -> Response:
    return Response(text, status, media_type="text/plain; charset=utf-8")


def static_route(folder: Path) -> Route:
    """/static/{name}: the files of `folder`, read once at start-up (a name not among them is 404)."""
    files: dict[str, tuple[bytes, str]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media.startswith("text/") or media == "application/javascript":
                media += "; charset=utf-8"
            files[path.name] = (path.read_bytes(), media)

    async def serve(request: Request) -> Response:
        found = files.get(request.path_params["name"])
        if found is None:
            return secured(_plain(404, "not found"))
        return secured(Response(found[0], 200, media_type=found[1]), cache="no-cache")

    return Route("/static/{name}", serve, methods=["GET"])
