"""Rendering console pages: the Jinja2 environment (autoescape on: kiosks send untrusted text), the context every
template gets, and the one-line error pages."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from kiosk.console import words as vocabulary
from kiosk.console.page import ConsoleParts, Page, action_of
from kiosk.terms import Words

TEMPLATES = Path(__file__).parent / "templates"


class Renderer:
    """The templates, the words (kiosk/console/words.py and every page's WORDS) and the menu's pages."""

    def __init__(self, table: dict[str, Words], nav: list[Page]) -> None:
        self.table, self.nav = table, nav
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True)

    def context(self, request: Request) -> dict[str, Any]:
        state = request.state
        language: vocabulary.Language = getattr(state, "language", "zh")
        parts: ConsoleParts = state.parts
        account = getattr(state, "account", None)
        links = [(page.path, page.nav[0 if language == "zh" else 1]) for page in self.nav
                 if page.nav and account is not None and account.may(action_of(page.handler) or "")]
        return {"lang": language, "t": vocabulary.Translator(self.table, language), "account": account,
                "csrf": getattr(state, "csrf", ""), "nav": links, "path": request.url.path,
                "other_language": vocabulary.other_language_url(request, language),
                "verdict": lambda v: vocabulary.verdict_word(v, language),
                "reason": lambda r: vocabulary.reason_word(r, language),
                "when": lambda at, form="%Y-%m-%d %H:%M:%S": when(at, parts.tz, form),
                "ago": lambda seconds: vocabulary.age(seconds, language),
                "zone": vocabulary.zone_label(parts.tz, state.now)}

    def html(self, request: Request, template: str, status: int, context: dict[str, Any]) -> HTMLResponse:
        text = self.env.get_template(template).render({**self.context(request), **context})
        return HTMLResponse(text, status)


def when(at: float | None, zone: tzinfo, form: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An epoch in the collector's zone; "" for none."""
    return "" if at is None else datetime.fromtimestamp(at, zone).strftime(form)


def translator(request: Request) -> vocabulary.Translator:
    """`t(key, **values)` in the request's language, for words a handler says itself."""
    renderer: Renderer = request.state.renderer
    return vocabulary.Translator(renderer.table, getattr(request.state, "language", "zh"))


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """`template` (which extends layout.html) with the request's language, account, CSRF token and `context`."""
    renderer: Renderer = request.state.renderer
    return renderer.html(request, template, status, context)


def problem(request: Request, status: int, key: str, detail: str = "") -> Response:
    """A one-line error page (HTML) or, for a fragment or download, the words alone as text."""
    renderer: Renderer = request.state.renderer
    message = translator(request)(key) + (f": {detail}" if detail else "")
    if getattr(request.state, "kind", "html") in ("fragment", "download"):
        return Response(message, status, media_type="text/plain; charset=utf-8")
    return renderer.html(request, "problem.html", status, {"message": message, "status": status})


def forbidden(request: Request) -> Response:
    return problem(request, 403, "problem.forbidden")


def not_found(request: Request) -> Response:
    return problem(request, 404, "problem.not_found")


def bad_request(request: Request, detail: str) -> Response:
    return problem(request, 400, "problem.bad_request", detail)
