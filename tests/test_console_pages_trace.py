"""Trace (issue 14, "Trace (tracer)"), on SQLite and PostgreSQL: a tracer types the id on a code (turned into
the deployment's subject reference with the collector's --subject-key, as the kiosks do) or a reference, a time
range and a window, with a case reference; the page shows the visits and the others present at the same site
within the window of each; the same as CSV; the case and the query are in the trail, the id typed is not.
Expected visits and others come from the events the test's kiosks logged.
"""

from __future__ import annotations

import csv
import html
import io
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from kiosk.audit.events import subject_reference
from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
from tests.console_web import ConsoleSite, Scan, csrf_of, database_url, trust_folder

pytestmark = pytest.mark.slow  # a collector, kiosks synced through `kiosk sync`, accounts hashed with argon2
KEY = bytes(range(32))  # the deployment's subject key: the kiosks' [log] secret_file and the collector's --subject-key
PERSON = bytes.fromhex("0123456789abcdef0123456789abcdef")  # the id on the traced person's code
REF = subject_reference(PERSON, KEY)
JOY, EAST = "Joy City", "East Gate"
HOSTILE = "<script>alert(1)</script>"


def ref(n: int) -> str:
    """Someone else's reference."""
    return subject_reference(n.to_bytes(16, "big"), KEY)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp(f"trace-{request.param}")
    url = database_url(request, folder, "console_trace")
    (folder / "subject.key").write_text(KEY.hex() + "\n")
    console = ConsoleSite.start(folder, url, trust_folder(folder / "trust"),
                                extra=("--timezone", "UTC", "--subject-key", str(folder / "subject.key")))
    try:
        t = console.origin = time.time() - 7200
        console.add_user("tess", "tracer")
        console.add_user("tina", "tracer", [JOY])
        console.add_user("mia", "manager", [JOY])
        console.add_user("val", "viewer")
        console.kiosk("k1", JOY, [
            Scan(t - 600, subject=ref(1)),  # 10 min before the visit: inside 15 min
            Scan(t, "pass", "ok", subject=REF, temperature=36.5),  # visit 1
            Scan(t + 240, "deny", "status_red", subject=ref(2), temperature=36.8),
            Scan(t + 1200, subject=ref(3)),  # 20 min after: outside 15 min
            Scan(t + 3600, subject=ref(4)),  # far away
        ], name="Gate 1")
        registration = console.register("k1", {"name": HOSTILE, "phone": "13800000000"}, 36.6)
        console.correct("k1", registration, {"phone": "13900000000"})
        console.sync("k1")
        console.kiosk("k2", EAST, [Scan(t + 1800, "retry", "temperature_missing", subject=REF),  # visit 2
                                   Scan(t + 1830, subject=ref(5))], name="Gate E")
        # A kiosk that stores raw ids ([log] raw_subject = true) at a third site: the id itself is stored.
        console.kiosk("k3", "Raw Hall", [Scan(t + 2400, subject=PERSON.hex()), Scan(t + 2460, subject=ref(6))],
                      name="Raw")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M")


def trace(client: httpx.Client, site: ConsoleSite, path: str = "/trace", **fields: str) -> httpx.Response:
    values = {"subject": PERSON.hex(), "since": utc(site.origin - 3600), "until": utc(site.origin + 3600 * 2),
              "case": "2026-CASE-17", **fields}
    return client.post(path, data={"csrf_token": csrf_of(client.get("/trace").text), **values})


def visits(page: str) -> list[tuple[str, list[str]]]:
    """(the visit's text, who each of its others is: a subject reference or a registration's words) as shown."""
    found = []
    for article in re.findall(r'<article class="kiosk visit".*?</article>', page, re.S):
        header = re.search(r"<header>(.*?)</header>", article, re.S)
        assert header is not None
        cells = r'<tr data-other="[^"]+">\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>(.*?)</td>'  # time, then who
        others = [text(who) for who in re.findall(cells, article, re.S)]
        found.append((text(header.group(1)), others))
    return found


def text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def test_a_tracer_finds_the_visits_of_an_id_and_who_else_was_there(site: ConsoleSite) -> None:
    tess = site.login("tess", language="en")
    answer = trace(tess, site)
    assert answer.status_code == 200, answer.text[:300]
    shown = visits(answer.text)
    assert [text.split(" · ")[1] for text, _ in shown] == [JOY, EAST, "Raw Hall"]  # in time order, raw ids too
    joy_others, east_others, raw_others = (others for _, others in shown)
    assert set(joy_others) >= {ref(1), ref(2)} and ref(3) not in joy_others and ref(4) not in joy_others
    assert REF not in joy_others and PERSON.hex() not in raw_others  # never their own "other"
    assert east_others == [ref(5)] and raw_others == [ref(6)]
    assert "36.5 °C" in shown[0][0] and "verdict-pass" in answer.text
    # The registration made a moment ago is nobody's other here (hours later); the window counts.
    narrow = visits(trace(tess, site, window="5").text)
    assert ref(1) not in narrow[0][1] and ref(2) in narrow[0][1]
    # A reference typed instead of the id: the same visits at the kiosks that store references.
    by_reference = visits(trace(tess, site, subject=REF).text)
    assert [text for text, _ in by_reference] == [text for text, _ in shown[:2]]


def test_a_registration_nearby_shows_corrected_and_as_text(site: ConsoleSite) -> None:
    tess = site.login("tess", language="en")
    now = time.time()
    answer = trace(tess, site, subject=ref(9), since=utc(now - 600), until=utc(now + 600))
    assert visits(answer.text) == []
    site.kiosk("k1", JOY, [Scan(time.time(), subject=ref(9))])  # ref 9 comes by, a minute after the registration
    page = trace(tess, site, subject=ref(9), since=utc(now - 3600), until=utc(now + 3600)).text
    (_, others), = visits(page)
    registered = [other for other in others if "registered by hand" in other]
    assert len(registered) == 1 and "13900000000" in registered[0] and "13800000000" not in registered[0]
    assert HOSTILE in registered[0]  # the name as it was typed, shown as text:
    assert HOSTILE not in page and html.escape(HOSTILE) in page


def test_the_csv_holds_a_row_per_visit_and_other(site: ConsoleSite) -> None:
    tess = site.login("tess", language="en")
    answer = trace(tess, site, path="/trace/csv", case="CASE,=1")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["case", "visit time", "site"]
    page = visits(trace(tess, site).text)
    expected = [(site_name, other) for text, others in page for site_name in [text.split(" · ")[1]]
                for other in others if re.fullmatch(r"[0-9a-f]{32}", other)]
    assert [(r[2], r[8]) for r in rows[1:] if r[8]] == expected
    assert {r[0] for r in rows[1:]} == {"CASE,=1"}  # a case reference that is no formula stays as typed


def test_the_case_and_query_are_in_the_trail_but_not_the_id_typed(site: ConsoleSite) -> None:
    tina = site.login("tina")  # her site's kiosks store references only
    trace(tina, site, case="CASE-TRAIL-1")
    with open_console_store(site.collector.db_url) as store:
        entry = next(e for e in Trail(store).entries(limit=50) if e.action == "trace")
    detail = entry.details()
    assert entry.actor == "tina" and detail["case"] == "CASE-TRAIL-1" and detail["subject_refs"] == [REF]
    assert detail["visits"] == 1 and detail["window"] == 900 and detail["since"] < detail["until"]
    assert PERSON.hex() not in entry.detail


def test_refusals_are_one_line(site: ConsoleSite) -> None:
    tess = site.login("tess", language="en")
    for fields, word in (({"case": ""}, "Case reference"), ({"case": "x" * 65}, "Case reference"),
                         ({"subject": "xyz"}, "subject"), ({"subject": ""}, "Subject"), ({"window": "-5"}, "window"),
                         ({"window": "99999"}, "window"), ({"since": "yesterday"}, "since"),
                         ({"case": "a\u202eb"}, "invisible")):
        answer = trace(tess, site, **fields)
        assert answer.status_code == 400 and word in html.unescape(answer.text), fields


def test_only_tracers_trace_and_a_site_limited_one_sees_their_sites(site: ConsoleSite) -> None:
    for name in ("mia", "val"):
        client = site.login(name)
        assert client.get("/trace").status_code == 403
        token = csrf_of(client.get("/").text)
        for path in ("/trace", "/trace/csv"):
            answer = client.post(path, data={"csrf_token": token, "subject": PERSON.hex(), "case": "x"})
            assert answer.status_code == 403 and REF not in answer.text, (name, path)
    tina = site.login("tina", language="en")
    shown = visits(trace(tina, site).text)
    assert [text.split(" · ")[1] for text, _ in shown] == [JOY]
    anonymous = site.browser()
    assert anonymous.post("/trace", data={"subject": PERSON.hex(), "case": "x"}).status_code == 303
    assert anonymous.post("/trace/csv", data={"subject": PERSON.hex(), "case": "x"}).status_code == 401
    form = site.login("tess").get("/trace").text
    assert '<form method="post" action="/trace"' in form  # the id goes in a body, never a URL
