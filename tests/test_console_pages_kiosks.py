"""The kiosks pages (issue 14, "Kiosks: enrol (paste the public key from `kiosk device show`), rename, revoke; a
kiosk's page with its days, outages and faults"): an admin enrols what `kiosk device show` printed and the kiosk
then syncs; a manager renames and revokes the kiosks of their site (a revoked kiosk's uploads are refused); a
kiosk's page counts its events per day, lists its device events and the faults of its chain. Expected values
come from the events the test's kiosks logged and sent through the real sync path.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from kiosk.audit.events import Event, chain_hash, new_id
from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
from kiosk.sync.protocol import DEVICE_HEADER, SIGNATURE_HEADER, Linked, encode_batch, sign
from tests.collector_process import Kiosk
from tests.console_web import ConsoleSite, Scan, csrf_of, kiosk_cli, trust_folder

pytestmark = pytest.mark.slow  # a collector, kiosks synced through `kiosk sync`, accounts hashed with argon2
JOY, EAST = "Joy City", "East Gate"
DAY = 86400.0
ZONE = ZoneInfo("Asia/Shanghai")  # the collector's zone: a kiosk's days are its days, not UTC's


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("kiosks")
    console = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust_folder(folder / "trust"),
                                extra=("--timezone", "Asia/Shanghai"))
    try:
        now = console.origin = time.time()
        console.add_user("root", "admin")
        console.add_user("mia", "manager", [JOY])
        console.add_user("val", "viewer", [JOY])
        console.kiosk("k1", JOY, history(now), name="Gate 1")
        console.kiosk("k2", EAST, [Scan(now - 60, subject="e" * 32)], name="Gate E")
        console.kiosk("k3", JOY, [Scan(now - 30, subject="f" * 32)], name="Gate 3")
        yield console
    finally:
        console.stop()


def history(now: float) -> list[Scan]:
    """Gate 1's last three days: scans each day, a camera lost and back yesterday."""
    today = datetime.fromtimestamp(now, ZONE).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    events = [Scan(today - 2 * DAY + 3600 + i * 10, ("pass", "deny")[i % 2], ("ok", "status_red")[i % 2],
                   subject=f"{i:032x}") for i in range(4)]
    events += [Scan(today - DAY + 7200, kind="device", verdict=None, reason=None,
                    fields={"device": "camera", "state": "lost", "before": "ok"}),
               Scan(today - DAY + 7300, kind="device", verdict=None, reason=None,
                    fields={"device": "camera", "state": "ok", "before": "lost"}),
               Scan(today - DAY + 7400, "retry", "temperature_missing", subject="1" * 32)]
    events += [Scan(min(now - 5, today + 60 + i), subject=f"{100 + i:032x}", reason="fever" if i == 0 else "ok",
                    verdict="deny" if i == 0 else "pass") for i in range(3)]
    return events


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    return client.post(path, data={"csrf_token": csrf_of(client.get("/kiosks").text), **fields})


def listed(page: str) -> list[str]:
    return re.findall(r'<tr data-device="([0-9a-f]{16})">', page)


def test_a_manager_sees_their_sites_kiosks_and_an_admin_all(site: ConsoleSite) -> None:
    ids = {key: kiosk.identity.id for key, kiosk in site.kiosks.items()}
    mia = site.login("mia")
    page = mia.get("/kiosks").text
    assert sorted(listed(page)) == sorted([ids["k1"], ids["k3"]]) and "Gate E" not in page
    assert 'action="/kiosks/enrol"' not in page  # enrolment is an admin's
    assert set(listed(site.login("root").get("/kiosks").text)) >= set(ids.values())
    assert site.login("val").get("/kiosks").status_code == 403


def test_a_kiosks_page_counts_its_days_and_lists_its_device_events(site: ConsoleSite) -> None:
    k1 = site.kiosks["k1"].identity.id
    page = site.login("mia", language="en").get(f"/kiosks/{k1}").text
    today = datetime.fromtimestamp(site.origin, ZONE).date()
    expected = {}
    for scan in history(site.origin):
        day = datetime.fromtimestamp(scan.at, ZONE).date()
        counts = expected.setdefault(day.isoformat(), [0] * 6)
        if scan.kind == "scan":
            counts[0] += 1
            counts[{"pass": 1, "deny": 2, "retry": 3}[scan.verdict or ""]] += 1
            counts[4] += scan.reason == "fever"
        elif scan.fields.get("state") == "lost":
            counts[5] += 1
    for day in (today - timedelta(days=n) for n in range(3)):
        row = re.search(rf'<tr data-day="{day.isoformat()}">(.*?)</tr>', page, re.S)
        assert row, day
        cells = [int(n) for n in re.findall(r"<td[^>]*>(\d+)</td>", row.group(1))]
        assert [cells[i] for i in (0, 1, 2, 3, 4, 6)] == expected[day.isoformat()], day
    assert len(re.findall(r'<tr data-day="', page)) == 14
    outages = re.search(r'<ul class="fields outages">(.*?)</ul>', page, re.S)
    assert outages and outages.group(1).count("<li>") == 2 and "camera" in outages.group(1).lower()


def test_the_faults_of_a_kiosks_chain_are_on_its_page(site: ConsoleSite) -> None:
    """A kiosk whose log lost events sends a batch that does not link on: a gap, shown on its page."""
    k3 = site.kiosks["k3"]
    now = time.time()
    event = Event(new_id(now), now, "scan", site=JOY, lane="1", device=k3.identity.id, verdict="pass", reason="ok")
    body = encode_batch(k3.identity.id, [Linked(event, chain_hash(b"\x01" * 32, event))], now, os.urandom(16).hex())
    answer = httpx.post(f"{site.url}/v1/batches", content=body, headers={
        DEVICE_HEADER: k3.identity.id, SIGNATURE_HEADER: sign(body, k3.key), "Content-Type": "application/json"})
    assert answer.status_code == 200 and json.loads(answer.text)["faults"]
    page = site.login("mia").get(f"/kiosks/{k3.identity.id}").text
    faults = re.search(r'<ul class="fields faults">(.*?)</ul>', page, re.S)
    assert faults and "<b>gap</b>" in faults.group(1) and event.id in faults.group(1)


def test_an_admin_enrols_what_kiosk_device_show_printed_and_the_kiosk_syncs(site: ConsoleSite) -> None:
    kiosk = Kiosk.make(site.folder / "k9")
    site.kiosks["k9"], site.sites["k9"] = kiosk, JOY
    config = site.config("k9")
    config.write_text(config.read_text().replace('[log]\n', '[log]\ndevice = "Gate 9"\n'))
    shown = kiosk_cli("--config", str(config), "device", "show")
    assert shown.returncode == 0, shown.stderr
    root = site.login("root", language="en")
    answer = post(root, "/kiosks/enrol", public_key=shown.stdout, name="")
    assert answer.status_code == 200 and f"Enrolled Gate 9 ({kiosk.identity.id[:8]})" in answer.text
    site.kiosk("k9", JOY, [Scan(time.time() - 1, subject="9" * 32)])  # its batches are taken now
    page = root.get(f"/kiosks/{kiosk.identity.id}").text
    assert "Gate 9" in page and re.search(r"<dt>Events stored</dt><dd>1</dd>", page)
    with open_console_store(site.collector.db_url) as store:
        entry = next(e for e in Trail(store).entries(limit=30) if e.action == "enrol")
    assert entry.actor == "root" and entry.details()["device"] == kiosk.identity.id
    assert entry.details()["name"] == "Gate 9"


def test_hostile_enrolments_are_one_line_refusals_and_enrol_nothing(site: ConsoleSite) -> None:
    root = site.login("root", language="en")
    before = listed(root.get("/kiosks").text)
    key_a, key_b = "ab" * 32, "cd" * 32
    for fields, words in (({"public_key": "hello"}, "no key of 64 hex digits"),
                          ({"public_key": f"{key_a}\n{key_b}"}, "2 different keys"),
                          ({"public_key": key_a + "0" * 5000}, "at most 4096 characters"),
                          ({"public_key": key_a, "name": "Gate\u202e9"}, "invisible"),
                          ({"public_key": key_a, "name": "G" * 65}, "at most 64"),
                          ({"public_key": ""}, "required")):
        answer = post(root, "/kiosks/enrol", **fields)
        said = re.findall(r'<p class="message alarm" role="alert">([^<]*)</p>', answer.text)
        assert answer.status_code == 400 and len(said) == 1 and words in html.unescape(said[0]), (fields, said)
    assert listed(root.get("/kiosks").text) == before
    mia = site.login("mia")
    assert post(mia, "/kiosks/enrol", public_key=key_a, name="Mine").status_code == 403


def test_a_manager_renames_and_revokes_a_kiosk_of_their_site(site: ConsoleSite) -> None:
    k3 = site.kiosks["k3"].identity.id
    mia = site.login("mia", language="en")
    renamed = post(mia, f"/kiosks/{k3}/rename", name="North <1>")
    assert renamed.status_code == 200 and "North &lt;1&gt;" in renamed.text and "North <1>" not in renamed.text
    assert "North &lt;1&gt;" in mia.get("/kiosks").text
    assert post(mia, f"/kiosks/{k3}/rename", name=" spaced ").status_code == 200  # stripped, as typed names are
    refused = post(mia, f"/kiosks/{k3}/rename", name="a\nb")
    assert refused.status_code == 400
    revoked = post(mia, f"/kiosks/{k3}/revoke")
    assert revoked.status_code == 200 and 'class="state revoked"' in revoked.text
    site.kiosks["k3"].add(1, time.time())
    done = kiosk_cli("--config", str(site.config("k3")), "sync", "--no-trust")
    assert done.returncode != 0 and "revoked" in (done.stderr + done.stdout)
    with open_console_store(site.collector.db_url) as store:
        mine = [(e.action, e.details()) for e in Trail(store).entries(limit=40) if e.actor == "mia"]
    assert ("revoke", {"device": k3, "name": "spaced", "site": JOY}) in mine
    assert any(action == "rename" and detail["to"] == "North <1>" for action, detail in mine)


def test_another_sites_kiosk_is_not_found_by_any_route(site: ConsoleSite) -> None:
    east = site.kiosks["k2"].identity.id
    mia = site.login("mia")
    for path in (f"/kiosks/{east}", f"/kiosks/{east.upper()}", "/kiosks/not-a-device", f"/kiosks/{east}?after=x"):
        answer = mia.get(path)
        assert answer.status_code == 404 and "Gate E" not in answer.text, path
    for work in ("rename", "revoke"):
        answer = post(mia, f"/kiosks/{east}/{work}", name="Taken")
        assert answer.status_code == 404 and "Gate E" not in answer.text, work
    root_page = site.login("root").get("/kiosks").text
    assert "Gate E" in root_page and "Taken" not in root_page
    assert re.search(rf'<tr data-device="{east}">.*?state online', root_page, re.S)  # not revoked
    anonymous = site.browser()
    assert anonymous.get(f"/kiosks/{east}").status_code == 303
    assert anonymous.post(f"/kiosks/{east}/revoke").status_code == 303
