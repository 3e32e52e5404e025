"""URL tampering on every route of the pages of issue 14 part E (exports, reports, trace, kiosks, trust, users,
trail), on SQLite and PostgreSQL: without a session every route answers the login page (303) or 401 and no
data; an account limited to one site gets 403 or 404 for another site's data by any parameter (site=, a kiosk
id in the path, a cursor, a form field), and none of that site's data on its own pages. The routes are taken
from the pages' own PAGES, so a route added without a case here fails this file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from kiosk.audit.store import AuditLog
from kiosk.collector.readmodel import encode_cursor
from kiosk.console import pages_correct, pages_export, pages_kiosks, pages_trace, pages_trail, pages_trust, pages_users
from tests.console_web import PASSWORD, ConsoleSite, Scan, csrf_of, database_url, trust_folder

pytestmark = pytest.mark.slow  # a collector, kiosks synced through `kiosk sync`, accounts hashed with argon2
JOY, EAST = "Joy City", "East Gate"
EAST_SUBJECT, EAST_KIOSK = "e" * 32, "Gate E"
EAST_PERSON = "East Person"  # registered by hand at East Gate
MODULES = (pages_correct, pages_export, pages_kiosks, pages_trace, pages_trail, pages_trust, pages_users)
# Every route of part E, with the GET/POST a test sends to it ({east}: the other site's kiosk, {east_reg}: its
# registration by hand).
ROUTES = {
    ("GET", "/export"): "/export?format=csv", ("GET", "/report"): "/report?day=2026-01-01",
    ("GET", "/trace"): "/trace", ("POST", "/trace"): "/trace", ("POST", "/trace/csv"): "/trace/csv",
    ("GET", "/kiosks"): "/kiosks", ("POST", "/kiosks/enrol"): "/kiosks/enrol",
    ("GET", "/kiosks/{device}"): "/kiosks/{east}", ("POST", "/kiosks/{device}/rename"): "/kiosks/{east}/rename",
    ("POST", "/kiosks/{device}/revoke"): "/kiosks/{east}/revoke",
    ("GET", "/trust"): "/trust", ("POST", "/trust"): "/trust",
    ("GET", "/users"): "/users", **{("POST", f"/users/{w}"): f"/users/{w}" for w in
                                    ("add", "password", "disable", "enable", "sessions", "totp")},
    ("GET", "/trail"): "/trail", ("GET", "/trail/csv"): "/trail/csv",
    ("GET", "/events/correct"): "/events/correct?device={east}&id={east_reg}", ("POST", "/events/correct"):
        "/events/correct",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp(f"tamper-{request.param}")
    url = database_url(request, folder, "console_tamper")
    console = ConsoleSite.start(folder, url, trust_folder(folder / "trust"), extra=("--timezone", "UTC"))
    try:
        now = time.time()
        console.add_user("mia", "manager", [JOY])
        console.add_user("tina", "tracer", [JOY])
        console.add_user("val", "viewer", [JOY])
        console.kiosk("k1", JOY, [Scan(now - 100 + i, subject=f"a{i:031x}") for i in range(5)], name="Gate 1")
        console.kiosk("k2", EAST, [Scan(now - 100 + i, subject=EAST_SUBJECT) for i in range(5)]
                      + [Scan(now - 50, kind="device", verdict=None, reason=None,
                              fields={"device": "camera", "state": "lost", "before": "ok"}),
                         Scan(now - 40, None, None, kind="manual", temperature=36.6, operator="vol",
                              fields={"name": EAST_PERSON})], name=EAST_KIOSK)
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def east_registration(site: ConsoleSite) -> str:
    with AuditLog(site.kiosks["k2"].log_path) as log:
        return next(e.id for e in log.events() if e.kind == "manual")


def send(client: httpx.Client, method: str, path: str, site: ConsoleSite, **fields: str) -> httpx.Response:
    url = path.format(east=site.kiosks["k2"].identity.id, east_reg=east_registration(site))
    if method == "GET":
        return client.get(url)
    page = client.get("/").text
    token = csrf_of(page) if 'name="csrf_token"' in page else "none"
    return client.post(url, data={"csrf_token": token, **fields})


def no_east(answer: httpx.Response) -> bool:
    text = answer.text
    return (EAST_KIOSK not in text and EAST_SUBJECT not in text and EAST_PERSON not in text
            and EAST not in text.replace(f"site={EAST}", ""))


def test_every_route_of_these_pages_is_covered_here() -> None:
    routes = {(method, page.path) for module in MODULES for page in module.PAGES for method in page.methods}
    assert routes == set(ROUTES)


def test_without_a_session_every_route_answers_the_login_page_or_401_and_no_data(site: ConsoleSite) -> None:
    kinds = {(method, page.path): page.kind for module in MODULES for page in module.PAGES for method in page.methods}
    for cookies in ({}, {"kiosk_session": "forged-or-expired"}):
        anonymous = site.browser()
        anonymous.cookies.update(cookies)
        for (method, route), path in ROUTES.items():
            answer = send(anonymous, method, path, site, name="mia", password=PASSWORD, password2=PASSWORD,
                          subject=EAST_SUBJECT, case="x", public_key="ab" * 32, role="admin")
            if kinds[(method, route)] == "download":
                assert answer.status_code == 401 and answer.content == b"", (method, path)
            else:
                assert answer.status_code == 303 and answer.headers["location"] == "/login", (method, path)
                assert answer.content == b"", (method, path)


def test_a_manager_of_one_site_gets_403_or_404_for_another_by_any_parameter(site: ConsoleSite) -> None:
    mia = site.login("mia")
    east = site.kiosks["k2"].identity.id
    for path in (f"/export?site={EAST}", f"/export?format=csv&site={EAST}", f"/export?format=xlsx&site={EAST}",
                 f"/export?format=jsonl&site={EAST}&since=2020-01-01", f"/report?site={EAST}",
                 f"/report?day=2026-01-01&site={EAST}"):
        answer = mia.get(path)
        assert answer.status_code == 403 and no_east(answer), path
    cursor = encode_cursor((time.time() + 10, east, "0" * 26))
    for path in (f"/kiosks/{east}", f"/kiosks/{east}?after={cursor}", f"/kiosks/{site.kiosks['k1'].identity.id}x"):
        answer = mia.get(path)
        assert answer.status_code == 404 and no_east(answer), path
    for path in ("/kiosks/{east}/rename", "/kiosks/{east}/revoke"):
        answer = send(mia, "POST", path, site, name="Mine now")
        assert answer.status_code == 404 and no_east(answer), path
    # East's registration by hand: neither its form nor a correction, whichever kiosk, site or form field is given.
    k1, registered = site.kiosks["k1"].identity.id, east_registration(site)
    for path in (f"/events/correct?device={east}&id={registered}", f"/events/correct?device={k1}&id={registered}",
                 f"/events/correct?device={east}&id={registered}&site={EAST}",
                 f"/events/correct?device={east}&id={registered}&site={JOY}"):
        answer = mia.get(path)
        assert answer.status_code == 404 and no_east(answer), path
    for path in ("/events/correct", f"/events/correct?device={k1}&site={JOY}"):
        for device in (east, k1):
            answer = send(mia, "POST", path, site, device=device, id=registered, note="mine",
                          **{"field.name": "Mine now"})
            assert answer.status_code == 404 and no_east(answer), (path, device)
    # Her own pages, whatever she adds to them, hold none of East's data.
    k1 = site.kiosks["k1"].identity.id
    for path in ("/export?format=csv", "/export?format=jsonl", "/kiosks", f"/kiosks/{k1}",
                 f"/kiosks/{k1}?after={cursor}", f"/export?format=csv&device={east}"):
        answer = mia.get(path)
        assert answer.status_code == 200 and no_east(answer), path
    # The pages of other roles: refused before anything is read.
    for method, path in (("POST", "/trace"), ("POST", "/trace/csv"), ("GET", "/trace"), ("GET", "/trust"),
                         ("POST", "/trust"), ("GET", "/users"), ("POST", "/users/add"), ("GET", "/trail"),
                         ("GET", "/trail/csv"), ("POST", "/kiosks/enrol")):
        answer = send(mia, method, path, site, subject=EAST_SUBJECT, case="x", name="mia", role="admin",
                      password=PASSWORD, password2=PASSWORD, public_key="ab" * 32)
        assert answer.status_code == 403 and no_east(answer), (method, path)
    assert "Gate E" in site_admin(site).get("/kiosks").text  # neither renamed nor revoked
    assert "Mine now" not in site_admin(site).get("/kiosks").text
    assert EAST_PERSON in site_admin(site).get("/events?kind=manual").text  # not corrected either
    assert "Mine now" not in site_admin(site).get("/events?kind=manual").text


def site_admin(site: ConsoleSite) -> httpx.Client:
    if "root" not in site.totp:
        site.add_user("root", "admin")
    return site.login("root")


def test_a_tracer_of_one_site_traces_there_only_and_a_viewer_nowhere(site: ConsoleSite) -> None:
    tina = site.login("tina")
    page = send(tina, "POST", "/trace", site, subject=EAST_SUBJECT, case="CASE-1")
    assert page.status_code == 200 and 'data-visits="0"' in page.text  # East's visits are not hers to see
    assert EAST_KIOSK not in page.text and EAST not in page.text
    rows = send(tina, "POST", "/trace/csv", site, subject=EAST_SUBJECT, case="CASE-1")
    assert rows.status_code == 200 and len(rows.text.strip().splitlines()) == 1 and no_east(rows)
    assert tina.get(f"/export?site={EAST}").status_code == 403
    val = site.login("val")
    for (method, _), path in ROUTES.items():
        answer = send(val, method, path, site, subject=EAST_SUBJECT, case="x", name="val")
        assert answer.status_code == 403 and no_east(answer), (method, path)
