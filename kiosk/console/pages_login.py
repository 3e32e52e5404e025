"""Signing in and out: /login (GET the form, POST it) and /logout (POST, with the session's CSRF token).

The login form is guarded before there is a session by a double-submit token: a random value in an HttpOnly,
SameSite=Strict cookie and the same value in the form's hidden `csrf_token`, which another site can neither
read nor set. A login rotates everything: the pre-session token is dropped and the session cookie holds a new
random token (stored hashed by kiosk/console/auth.py). The password never leaves this request: it is in no
URL, no log line, no page. The Authenticator records logins, failed logins and logouts in the console's trail.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kiosk.console.auth import Refused
from kiosk.console.security import (
    clear_cookie,
    client_address,
    login_cookie,
    new_token,
    same,
    session_cookie,
    set_cookie,
)
from kiosk.console.web import SIGNED_IN, ConsoleParts, Page, call, needs, render, translator

MAX_NAME = 64  # characters of a username (accounts.MAX_NAME); a longer one is no account's
MAX_PASSWORD = 1024  # characters of a password: argon2 hashes any length, but a body is no place for a book
MAX_CODE = 10  # a TOTP code: 6 digits, perhaps with a space
LOGIN_FORM_AGE = 3600  # seconds the login form's token stays good


def _field(request: Request, name: str, limit: int) -> str:
    value = request.state.form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _form(request: Request, *, status: int = 200, message: str | None = None, tone: str = "alarm",
          username: str = "") -> Response:
    """The login form with a fresh pre-session token, in its cookie and its hidden field."""
    parts: ConsoleParts = request.state.parts
    token = new_token()
    response = render(request, "login.html", status=status, login_csrf=token, message=message, tone=tone,
                      username=username)
    set_cookie(response, login_cookie(parts.tls), token, parts.tls, max_age=LOGIN_FORM_AGE)
    return response


async def login_form(request: Request, parts: ConsoleParts) -> Response:
    if request.state.session is not None:
        return RedirectResponse("/", 303)
    return _form(request)


async def login(request: Request, parts: ConsoleParts) -> Response:
    t = translator(request)
    if not same(request.cookies.get(login_cookie(parts.tls)), _field(request, "csrf_token", 200)):
        return _form(request, status=403, message=t("login.stale"))
    name = _field(request, "username", MAX_NAME + 1).strip()
    password = _field(request, "password", MAX_PASSWORD + 1)
    code = _field(request, "code", MAX_CODE + 1).replace(" ", "") or None
    outcome = await call(parts.auth.login, name, password, code, client_address(request), request.state.now,
                         request.cookies.get(session_cookie(parts.tls)))  # the session it replaces, if any
    if isinstance(outcome, Refused):
        if outcome.reason == "wait":
            return _form(request, status=429, message=t("login.refused.wait", seconds=max(1, round(outcome.wait))),
                         username=name)
        key = "login.refused.code" if outcome.reason == "code" else "login.refused.credentials"
        return _form(request, status=401, message=t(key), username=name)
    response = RedirectResponse("/", 303)
    set_cookie(response, session_cookie(parts.tls), outcome.token, parts.tls)
    clear_cookie(response, login_cookie(parts.tls), parts.tls)
    return response


@needs(SIGNED_IN)
async def logout(request: Request, parts: ConsoleParts) -> Response:
    token = request.cookies.get(session_cookie(parts.tls), "")
    await call(parts.auth.logout, token, client_address(request), request.state.now)  # recorded in the trail
    response = RedirectResponse("/login", 303)
    clear_cookie(response, session_cookie(parts.tls), parts.tls)
    return response


PAGES = [
    Page("/login", login_form, kind="public"),
    Page("/login", login, methods=("POST",), kind="public"),
    Page("/logout", logout, methods=("POST",)),
]
