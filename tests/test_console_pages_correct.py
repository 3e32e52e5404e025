"""A site manager corrects a registration by hand from the console (issue 14: "manager: + ... corrections of hand
registrations"), on SQLite and PostgreSQL: a real `kiosk collector serve`, kiosks that logged registrations and
synced them with `kiosk sync`, accounts from `kiosk collector user add`, and browsers that post the form.

From then on the registration shows corrected wherever a kiosk's correction shows: the events page, the console's
CSV / JSON Lines / XLSX exports and day report, and `kiosk collector export` / `report`, which stay byte for byte
the console's. The expected values are the ones the test typed; the fever threshold is the spec's 37.3 °C.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from kiosk.audit.store import AuditLog
from kiosk.collector.store import ROW_COLUMNS
from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
from tests.console_web import ConsoleSite, Scan, csrf_of, database_url, trust_folder
from tests.test_collector_readmodel import (  # noqa: F401 - backend and open_store are fixtures
    DAY,
    SHANGHAI,
    OpenStore,
    backend,
    day_start,
    open_store,
    send_all,
    site_kiosks,
)

pytestmark = pytest.mark.slow  # a collector, kiosks synced through `kiosk sync`, accounts hashed with argon2
ZONE = "Asia/Shanghai"
JOY, EAST = "Joy City", "East Gate"
# Registrations by hand, each test its own (xdist may run a module's tests in two processes, each its own site).
PEOPLE = {"name_typo": "张山", "fever": "王五", "order": "李斯", "refused": "赵六", "window": "钱七",
          "redirect": "孙八", "links": "周九"}


def registration(name: str, at: float, temperature: float = 36.6) -> Scan:
    return Scan(at, None, None, kind="manual", temperature=temperature, operator="vol-3",
                fields={"name": name, "phone": "13800000000"})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp(f"correct-{request.param}")
    url = database_url(request, folder, "console_correct")
    console = ConsoleSite.start(folder, url, trust_folder(folder / "trust"), extra=("--timezone", ZONE))
    try:
        now = console.origin = time.time()
        console.add_user("root", "admin")
        console.add_user("mia", "manager", [JOY])
        console.add_user("val", "viewer", [JOY])
        console.kiosk("k1", JOY, [Scan(now - 3000 + i * 60, subject=f"{i:032x}", temperature=36.5) for i in range(5)]
                      + [registration(name, now - 2400 + i * 60, 36.4 if key == "fever" else 36.6)
                         for i, (key, name) in enumerate(PEOPLE.items())], name="Gate 1")
        console.kiosk("k2", EAST, [registration("East Person", now - 2000), registration("East Other", now - 1990)],
                      name="Gate E")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "site" in request.fixturenames:  # the store's own test has no site (nor is it run once per site)
        request.getfixturevalue("site").close_browsers()


def logged(site: ConsoleSite, key: str) -> dict[str, str]:
    """name -> event id of what kiosk `key` logged (a scan: its subject reference)."""
    with AuditLog(site.kiosks[key].log_path) as log:
        return {str(e.details.get("name") or e.subject_ref): e.id for e in log.events()}


def device(site: ConsoleSite, key: str) -> str:
    return site.kiosks[key].identity.id


def post(client: httpx.Client, **form: str) -> httpx.Response:
    token = csrf_of(client.get("/events").text)
    return client.post("/events/correct", data={"csrf_token": token, **form})


def correction(site: ConsoleSite, client: httpx.Client, key: str, event_id: str, note: str = "typed wrong",
               **fields: str) -> httpx.Response:
    """The form as a person sends it: every field shown, some changed (`fields`: "temperature" too)."""
    page = client.get("/events/correct", params={"device": device(site, key), "id": event_id})
    assert page.status_code == 200, page.text[:300]
    shown = dict(re.findall(r'<input name="(field\.[^"]+)" value="([^"]*)"', page.text))
    temperature = re.search(r'name="temperature" value="([^"]*)"', page.text)
    assert temperature is not None and shown, page.text[:2000]
    form = {**shown, "temperature": temperature.group(1), **{f"field.{k}": v for k, v in fields.items()
                                                             if k != "temperature"}}
    if "temperature" in fields:
        form["temperature"] = fields["temperature"]
    return post(client, device=device(site, key), id=event_id, note=note, back="/events?kind=manual", **form)


def jsonl(client: httpx.Client) -> dict[str, dict[str, Any]]:
    answer = client.get("/export?format=jsonl")
    assert answer.status_code == 200
    return {line["id"]: line for line in map(json.loads, answer.text.splitlines())}


def row_html(page: str, event_id: str) -> str:
    found = re.search(rf'<tr data-id="{event_id}">(.*?)</tr>', page, re.S)
    assert found, f"no row of {event_id} on the page"
    return found.group(1)


def cli(site: ConsoleSite, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "kiosk", "collector", *args, "--db", site.collector.db_url],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TZ": ZONE})
    assert done.returncode == 0, done.stderr
    return done


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def day_of(at: float) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(ZONE)).date().isoformat()


def said_on(answer: httpx.Response) -> str:
    """What a page says is wrong: the form's message, or the error page's line."""
    found = re.search(r'<p class="message alarm" role="alert">(.*?)</p>|<section class="card problem">(.*?)</section>',
                      answer.text, re.S)
    return " ".join((found.group(1) or found.group(2)).split()) if found else answer.text[:300]


def made_at_removed(page: str) -> str:  # the report's time of making, and matplotlib's random clip-path ids
    return re.sub(r"\b[pm][0-9a-f]{10}\b", "id", re.sub(r'<footer id="generated">[^<]*</footer>', "", page))


def test_a_manager_corrects_a_misspelt_name_and_the_events_page_and_the_trail_show_it(site: ConsoleSite) -> None:
    mia, ids = site.login("mia"), logged(site, "k1")
    event_id = ids[PEOPLE["name_typo"]]
    listed = row_html(mia.get("/events?kind=manual").text, event_id)
    assert "/events/correct?" in listed and f"id={event_id}" in listed  # the link on the registration's row
    form = mia.get("/events/correct", params={"device": device(site, "k1"), "id": event_id})
    assert 'name="field.name" value="张山"' in form.text and 'name="temperature" value="36.6"' in form.text

    answer = correction(site, mia, "k1", event_id, note="姓名录入错误", name="张三")
    assert answer.status_code == 303 and answer.headers["location"] == "/events?kind=manual", answer.text[:500]
    row = row_html(mia.get(answer.headers["location"]).text, event_id)
    assert "张三" in row and '<span class="was"' in row and "张山" in row and "console:mia" in row
    with open_console_store(site.collector.db_url) as store:
        entry = next(e for e in Trail(store).entries(limit=50)
                     if e.action == "correct" and e.details().get("event") == event_id)
    assert entry.actor == "mia" and entry.details()["fields"] == ["name"]
    assert entry.details()["temperature"] is False and entry.details()["site"] == JOY
    assert "张三" not in entry.detail and "张山" not in entry.detail  # names of fields, never a person's values
    root = site_admin(site)
    assert event_id in root.get("/trail?action=correct").text
    # A trace's others: the registration 6 minutes after the last scan, with its fields as corrected.
    token = csrf_of(root.get("/trace").text)
    traced = root.post("/trace", data={"csrf_token": token, "subject": f"{4:032x}", "case": "CASE-1"}).text
    assert "张三" in traced and "张山" not in traced


def site_admin(site: ConsoleSite) -> httpx.Client:
    return site.login("root")


def test_exports_and_the_day_report_show_it_byte_for_byte_as_the_cli_does(site: ConsoleSite,
                                                                           tmp_path: Path) -> None:
    mia, root, ids = site.login("mia"), site_admin(site), logged(site, "k1")
    event_id = ids[PEOPLE["window"]]
    assert correction(site, mia, "k1", event_id, name="钱琪", phone="").status_code == 303  # "" removes a field
    line = jsonl(root)[event_id]
    assert line["details"] == {"name": "钱琪"} and line["corrected"]["operator"] == "console:mia"
    assert line["corrected"]["was"]["details"] == {"name": "钱七", "phone": "13800000000"}
    table = csv_rows(mia.get("/export?format=csv&language=en").content)
    head, mine = table[0], next(r for r in table[1:] if "钱琪" in r)
    assert mine[head.index("phone")] == "" and mine[head.index("corrected by")] == "console:mia"
    assert not any(cell == "console" for r in table[1:] for cell in r)  # the console's correction is no row
    for fmt in ("csv", "jsonl"):
        ours = root.get(f"/export?format={fmt}").content
        cli(site, "export", "--out", str(tmp_path / f"all.{fmt}"))
        assert ours == (tmp_path / f"all.{fmt}").read_bytes(), fmt
    # A window holding the registration, the correction made after it: still applied, in both.
    since = datetime.fromtimestamp(site.origin - 2500, ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")
    until = datetime.fromtimestamp(site.origin - 1900, ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")
    window = root.get("/export", params={"format": "csv", "since": since, "until": until, "language": "en"})
    cli(site, "export", "--out", str(tmp_path / "window.csv"), "--since", f"{since}+08:00", "--until", f"{until}+08:00",
        "--language", "en")
    assert window.content == (tmp_path / "window.csv").read_bytes() and "钱琪" in window.text
    ours_x = root.get("/export?format=xlsx").content
    cli(site, "export", "--out", str(tmp_path / "all.xlsx"))
    with zipfile.ZipFile(io.BytesIO(ours_x)) as ours_zip, zipfile.ZipFile(tmp_path / "all.xlsx") as theirs:
        sheets = [name for name in theirs.namelist() if name.startswith("xl/worksheets/")]
        assert sheets and all(ours_zip.read(name) == theirs.read(name) for name in sheets)
        assert any("钱琪" in ours_zip.read(name).decode() for name in ours_zip.namelist() if name.endswith(".xml"))
    day = day_of(time.time())  # the day the correction was made: its report lists it among the day's corrections
    report = root.get(f"/report?day={day}&language=en")
    cli(site, "report", "--day", day, "--out", str(tmp_path / "report.html"), "--language", "en")
    assert made_at_removed(report.text) == made_at_removed((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "console:mia" in report.text


def test_a_temperature_corrected_to_a_fever_is_one_and_an_implausible_one_is_refused(site: ConsoleSite) -> None:
    mia, root, ids = site.login("mia"), site_admin(site), logged(site, "k1")
    event_id = ids[PEOPLE["fever"]]
    refused = correction(site, mia, "k1", event_id, temperature="365")
    assert refused.status_code == 400 and "365" in refused.text and "34.0" in refused.text  # the plausible range
    assert "corrected" not in jsonl(root)[event_id]  # nothing written
    assert correction(site, mia, "k1", event_id, temperature="38.2").status_code == 303
    line = jsonl(root)[event_id]
    assert line["temperature"] == 38.2 and line["reason"] == "fever"  # 38.2 >= 37.3: a fever
    assert line["corrected"]["was"]["temperature"] == 36.4 and line["corrected"]["corrections"] == 1
    day = day_of(site.origin - 2400)
    report = root.get(f"/report?day={day}&language=en").text
    assert "38.2" in report
    assert correction(site, mia, "k1", event_id, temperature="37.0", note="measured again").status_code == 303
    line = jsonl(root)[event_id]
    assert line["temperature"] == 37.0 and line["reason"] is None and line["corrected"]["corrections"] == 2


def test_the_kiosks_corrections_and_the_consoles_apply_in_the_order_they_were_made(site: ConsoleSite,
                                                                                    tmp_path: Path) -> None:
    mia, root, ids = site.login("mia"), site_admin(site), logged(site, "k1")
    event_id = ids[PEOPLE["order"]]
    site.correct("k1", event_id, {"name": "李四"}, operator="vol-2")  # at the kiosk, synced
    site.sync("k1")
    assert correction(site, mia, "k1", event_id, name="李思").status_code == 303  # later: it wins
    assert jsonl(root)[event_id]["details"]["name"] == "李思"
    form = mia.get("/events/correct", params={"device": device(site, "k1"), "id": event_id}).text
    assert 'value="李思"' in form and "console:mia" in form and "李斯" in form  # as corrected so far; as registered
    site.correct("k1", event_id, {"phone": "13911112222"}, operator="vol-2")  # later again, at the kiosk
    site.sync("k1")
    line = jsonl(root)[event_id]
    assert line["details"] == {"name": "李思", "phone": "13911112222"} and line["corrected"]["corrections"] == 3
    assert line["corrected"]["operator"] == "vol-2"
    site.correct("k1", event_id, {"name": "李司"}, operator="vol-2")
    site.sync("k1")
    assert jsonl(root)[event_id]["details"]["name"] == "李司"
    cli(site, "export", "--out", str(tmp_path / "all.jsonl"))
    assert root.get("/export?format=jsonl").content == (tmp_path / "all.jsonl").read_bytes()


def test_what_the_kiosk_would_refuse_is_refused_and_nothing_is_written(site: ConsoleSite) -> None:
    mia, root, ids = site.login("mia"), site_admin(site), logged(site, "k1")
    event_id, joy, east = ids[PEOPLE["refused"]], device(site, "k1"), device(site, "k2")
    east_id = logged(site, "k2")["East Person"]
    scan_id = ids[f"{0:032x}"]
    good = {"device": joy, "id": event_id, "note": "typo", "field.name": "赵陆"}
    for form, status, said in (
            ({**good, "id": scan_id}, 400, "only a registration by hand"),  # a scan is no registration by hand
            ({**good, "id": "01" + "0" * 24}, 404, ""),  # no such event
            ({**good, "id": "not-an-id"}, 404, ""), ({**good, "device": "x" * 16}, 404, ""),
            ({**good, "device": east, "id": east_id}, 404, ""),  # another site's
            ({**good, "device": east}, 404, ""), ({**good, "id": east_id}, 404, ""),  # mixed up
            ({**good, "note": ""}, 400, "required"), ({**good, "note": "   "}, 400, "required"),
            ({**good, "note": "x" * 201}, 400, "at most 200 characters"),
            ({**good, "field.password": "hunter2"}, 400, "unknown field(s) password"),  # the site records none
            ({**good, "field.name": "x" * 201}, 400, "at most 200 characters"),
            ({**good, "field.name": "a\u202eb"}, 400, "no control or invisible characters"),
            ({**good, **{f"field.f{i}": "x" for i in range(70)}}, 400, "71 个，最多 64 个"),  # with the name
            ({**good, **{f"field.f{i}": "x" for i in range(40)}}, 400, "at most 32 fields"),  # changed ones
            ({**good, "field.name": "赵六"}, 400, "没有修改任何内容"),  # nothing changed
            ({**good, "temperature": "warm"}, 400, "体温应为数字")):
        answer = post(mia, **form)
        assert answer.status_code == status and said in answer.text, (form, answer.status_code, said_on(answer))
        assert "East Person" not in answer.text and "Traceback" not in answer.text
    for path in (f"/events/correct?device={east}&id={east_id}", f"/events/correct?device={joy}&id={east_id}",
                 f"/events/correct?device={east}&id={event_id}&site={EAST}"):
        answer = mia.get(path)
        assert answer.status_code == 404 and "East Person" not in answer.text, path
    token = csrf_of(mia.get("/events").text)
    assert mia.post("/events/correct", data=good).status_code == 403  # no CSRF token
    assert mia.post("/events/correct", data={**good, "csrf_token": token + "x"}).status_code == 403
    val = site.login("val")
    assert val.get(f"/events/correct?device={joy}&id={event_id}").status_code == 403
    assert post(val, **good).status_code == 403
    assert "/events/correct" not in val.get("/events?kind=manual").text  # no link for a viewer
    lines = jsonl(root)
    assert "corrected" not in lines[event_id] and "corrected" not in lines[east_id]
    with open_console_store(site.collector.db_url) as store:
        assert not [e for e in Trail(store).entries(limit=200)
                    if e.action == "correct" and e.details().get("event") in (event_id, east_id)]


def test_after_a_correction_the_browser_goes_back_only_to_the_events_page(site: ConsoleSite) -> None:
    mia, ids = site.login("mia"), logged(site, "k1")
    event_id = ids[PEOPLE["redirect"]]
    form = {"device": device(site, "k1"), "id": event_id, "note": "typo"}
    for back, expected in (("//evil.example/x", "/events"), ("https://evil.example/", "/events"),
                           ("/events?site=Joy+City&kind=manual", "/events?site=Joy+City&kind=manual"),
                           ("/users", "/events")):
        answer = post(mia, **form, back=back, **{"field.name": f"孙{len(back)}"})
        assert answer.status_code == 303 and answer.headers["location"] == expected, back


def test_an_admin_may_correct_any_sites_registration_and_each_row_links_its_own_form(site: ConsoleSite) -> None:
    root, mia = site_admin(site), site.login("mia")
    east_id, joy_id = logged(site, "k2")["East Other"], logged(site, "k1")[PEOPLE["links"]]
    page = root.get("/events?kind=manual").text
    assert f"id={east_id}" in row_html(page, east_id) and f"id={joy_id}" in row_html(page, joy_id)
    assert east_id not in mia.get("/events?kind=manual").text
    scans = root.get("/events?kind=scan").text
    assert "/events/correct" not in scans  # only registrations by hand are corrected
    assert correction(site, root, "k2", east_id, name="East Another").status_code == 303
    assert jsonl(root)[east_id]["corrected"]["operator"] == "console:root"


def test_the_store_keeps_it_beside_the_events_and_a_purge_takes_it_as_a_kiosks(open_store: OpenStore) -> None:  # noqa: F811
    """The store alone: the record, its rows among the kiosk's, its scope, and retention."""
    store, start = open_store(), day_start(DAY, SHANGHAI)
    gate = site_kiosks(store, per_site=1)[0]
    registered = gate.add(start + 100, "manual", temperature=36.6, details={"name": "张山", "phone": "138"})
    send_all(store, [gate], start + 200)
    elsewhere = frozenset({"elsewhere"})
    assert store.correct(gate.id, registered.id, {"name": "x"}, None, "typo", "mia", start + 40, elsewhere) is None
    assert store.registration(gate.id, registered.id, elsewhere) is None
    # The kiosk's clock was ahead of the collector's: the correction is stamped before the registration.
    made = store.correct(gate.id, registered.id, {"name": "张三"}, 38.0, "typo", "mia", start + 50,
                         frozenset({gate.site}))
    assert made is not None and made.id.startswith("C") and made.reason == "fever"
    rows = {str(row[0]): dict(zip(ROW_COLUMNS, row)) for row in store.hand_rows(start + 80, start + 1000)}
    assert set(rows) == {registered.id, made.id}  # made before `since`, but it corrects a registration in range
    mine = rows[made.id]
    assert mine["kind"] == "correction" and mine["device"] == "console" and mine["operator"] == "console:mia"
    assert mine["temperature"] == 38.0 and mine["reason"] == "fever" and mine["site"] == gate.site
    assert json.loads(str(mine["details"])) == {"corrects": registered.id, "fields": {"name": "张三"},
                                                "was": {"name": "张山", "temperature": 36.6}, "note": "typo"}
    assert store.hand_rows(start + 80, start + 1000, elsewhere) == []
    found = store.registration(gate.id, registered.id)
    assert found is not None and found.fix is not None and found.fix.fields == {"name": "张三"}
    store.purge(start + 75)  # as a kiosk's correction goes: by its own time (the registration's is later)
    found = store.registration(gate.id, registered.id)
    assert found is not None and found.fix is None
    assert {str(row[0]) for row in store.hand_rows(None, None)} == {registered.id}
