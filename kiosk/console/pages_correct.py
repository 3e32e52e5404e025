"""Correcting a registration by hand from the console (managers for their sites, admins): a form and its POST.

    GET  /events/correct?device=&id=&back=   the registration as corrected so far: each field, the temperature
    POST /events/correct                     device, id, back, field.<name> (each field: "" removes it),
                                             temperature (°C; empty: unchanged), note (why: required)

Only a registration by hand (kind "manual") of a site the account sees is corrected: an event of another site or
kiosk, or no event at all, is 404 whatever the parameters say, another kind of event is 400, and nothing is
written. The kiosk's rules hold (kiosk/collector/correcting.py): a field the site does not record, an implausible
temperature or nothing to change is refused; a temperature at or above the fever threshold is a fever. The
correction is the collector's own record, never an edit of the kiosk's signed events; every page, export and
report applies it as it applies a kiosk's correction. Each one goes into the trail: the event and the names of
the fields changed, never their values. On success, 303 back to the events page the form was opened from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kiosk.audit.corrections import CORRECTABLE
from kiosk.audit.export import DEFAULT_FIELDS
from kiosk.audit.registration import temperature_problem
from kiosk.collector.correcting import MAX_FIELDS, MAX_NOTE, MAX_VALUE, POLICY
from kiosk.collector.readmodel import EventRow
from kiosk.console.forms import actor, field, query
from kiosk.console.page import sites_for
from kiosk.console.web import ConsoleParts, Page, call, needs, render, translator
from kiosk.terms import PERSON_FIELDS, word

FIELD = "field."  # a form field's name: this, then the registration field's own
MAX_POSTED = 2 * MAX_FIELDS  # registration fields one form may send (shown ones, changed or not)
MAX_BACK = 1000  # characters of the events page's address to go back to
_BACK = re.compile(r"/events(\?[^\s#\\]*)?")  # only ever the events page: never another site's address
WORDS = {
    "correct.title": ("更正人工登记", "Correct a registration"),
    "correct.link": ("更正", "Correct"),
    "correct.operator": ("登记人", "Registered by"),
    "correct.corrected": ("此前的更正", "Corrected before"),
    "correct.registered": ("登记时为", "registered as"),
    "correct.temperature": ("体温（°C）", "Temperature (°C)"),
    "correct.temperature_hint": ("合理范围 {low}–{high} °C；≥ {fever} °C 记为发热。留空则不改",
                                 "plausible {low}-{high} °C; {fever} °C or more is a fever. Empty: unchanged"),
    "correct.note": ("更正原因（必填）", "Why (required)"),
    "correct.note_hint": ("例如：姓名录入错误。原因与更正人一起记录", "e.g. the name was misspelt: kept with who "
                                                                  "corrected it"),
    "correct.save": ("保存更正", "Save the correction"),
    "correct.cancel": ("取消", "Cancel"),
    "correct.hint": ("原始登记不会被修改：更正另行记录，记录、导出和日报中显示更正后的内容，并注明更正时间和更正人",
                     "The registration itself stays as the kiosk logged it: the correction is kept beside it, and "
                     "the events, exports and day reports show it corrected, with when and by whom"),
    "correct.nothing": ("没有修改任何内容", "Nothing was changed"),
    "correct.not_number": ("体温应为数字，例如 36.5", "the temperature is a number, e.g. 36.5"),
    "correct.too_many": ("字段太多：{count} 个，最多 {most} 个", "too many fields: {count}, at most {most}"),
}


@dataclass(frozen=True)
class FieldView:
    key: str
    label: str  # in words
    value: str  # as corrected so far (or as typed, when the form comes back with a problem)
    registered: str | None  # what the kiosk logged, when that differs


def _back(text: str) -> str:
    return text if len(text) <= MAX_BACK and _BACK.fullmatch(text) else "/events"


def _label(text: str) -> str:
    return text[:1].upper() + text[1:]  # a form's label: "Name" ("name" is a column header's word)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _current(found: EventRow) -> tuple[dict[str, object], float | None]:
    """The registration's fields and temperature as corrected so far."""
    event, fix = found.event, found.fix
    fields = fix.details(event.details) if fix else dict(event.details)
    return fields, fix.values(event.temperature, event.reason)[0] if fix else event.temperature


async def _found(request: Request, parts: ConsoleParts, device: str, event_id: str) -> EventRow:
    """The registration, if the account sees it; LookupError (404) for any other event, kiosk or site."""
    sites = await call(sites_for, request.state.account, None, parts.store)
    found: EventRow | None = await call(parts.store.registration, device, event_id, sites)
    if found is None or not request.state.account.sees(found.event.site):
        raise LookupError(event_id[:26])
    if found.event.kind != CORRECTABLE:
        raise ValueError(f"only a registration by hand can be corrected, not a {found.event.kind[:20]} event")
    return found


def _form(request: Request, found: EventRow, back: str, *, typed: dict[str, str] | None = None,
          temperature: str | None = None, note: str = "", message: str | None = None, status: int = 200) -> Response:
    language = request.state.language
    event = found.event
    current, celsius = _current(found)
    keys = [*DEFAULT_FIELDS, *sorted({*event.details, *current} - set(DEFAULT_FIELDS))]
    fields = [FieldView(key, _label(word(PERSON_FIELDS, key, language)),
                        typed.get(key, "") if typed is not None else _text(current.get(key)),
                        _text(event.details.get(key)) if found.fix and event.details.get(key) != current.get(key)
                        else None)
              for key in keys]
    shown = temperature if temperature is not None else ("" if celsius is None else str(celsius))
    return render(request, "correct.html", status=status, r=found, fields=fields, temperature=shown, note=note,
                  message=message, back=back, field_prefix=FIELD, max_value=MAX_VALUE, max_note=MAX_NOTE,
                  policy=POLICY)


@needs("correct")
async def correct_form(request: Request, parts: ConsoleParts) -> Response:
    found = await _found(request, parts, query(request, "device", 16), query(request, "id", 26))
    return _form(request, found, _back(query(request, "back", MAX_BACK)))


def _typed(request: Request) -> dict[str, str]:
    """The registration fields of the POSTed form (field.<name>), each checked as a console form's text is."""
    names = [key[len(FIELD):] for key in request.state.form if key.startswith(FIELD)]
    if len(names) > MAX_POSTED:
        raise ValueError(translator(request)("correct.too_many", count=len(names), most=MAX_POSTED))
    return {name: field(request, FIELD + name, MAX_VALUE, label=name[:40]) for name in names}


@needs("correct")
async def correct(request: Request, parts: ConsoleParts) -> Response:
    t = translator(request)
    device, event_id = field(request, "device", 16), field(request, "id", 26)
    found = await _found(request, parts, device, event_id)
    back = _back(field(request, "back", MAX_BACK))
    typed: dict[str, str] = {}
    degrees = note = ""
    try:
        typed, degrees = _typed(request), field(request, "temperature", 16, label="temperature")
        note = field(request, "note", MAX_NOTE, required=True, label=t("correct.note"))
        current, celsius = _current(found)
        changes = {key: value for key, value in typed.items() if value != _text(current.get(key))}
        temperature = _celsius(degrees, request)
        if temperature is not None and celsius is not None and math.isclose(temperature, celsius, abs_tol=1e-9):
            temperature = None  # as it was: no change
        if not changes and temperature is None:
            raise ValueError(t("correct.nothing"))
        who, address, now = actor(request)
        made = await call(parts.store.correct, device, event_id, changes, temperature, note, who, now,
                          await call(sites_for, request.state.account, None, parts.store))
    except ValueError as err:
        return _form(request, found, back, typed=typed or None, temperature=degrees, note=note, message=str(err),
                     status=400)  # typed back as it was sent, to put right
    if made is None:  # gone between the two reads (a purge): as if there were none
        raise LookupError(event_id[:26])
    await call(parts.trail.append, who, "correct", {
        "device": device, "event": event_id, "site": found.event.site, "correction": made.id,
        "fields": sorted(changes), "temperature": temperature is not None}, address, now)
    return RedirectResponse(back, status_code=303)


def _celsius(text: str, request: Request) -> float | None:
    """The typed temperature (None: empty); ValueError in the page's language when it is no plausible one."""
    if not text:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise ValueError(translator(request)("correct.not_number")) from None
    if problem := temperature_problem(value, POLICY):
        raise ValueError(problem[0] if request.state.language == "zh" else problem[1])
    return value


def link(found: EventRow, back: str) -> str:
    """The form's address for a row of the events page (`back`: that page, filters and all)."""
    return "/events/correct?" + urlencode({"device": found.device_id, "id": found.event.id, "back": back})


PAGES = [
    Page("/events/correct", correct_form),
    Page("/events/correct", correct, methods=("POST",)),
]
