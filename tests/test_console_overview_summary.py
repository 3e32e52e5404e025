"""The overview of an account that sees many sites (more than SUMMARY_ABOVE): one row per site, each a link to its
detail, one chart of every site's hours, and the alerts of every kiosk (capped, alarms first, the rest counted).
On SQLite and on PostgreSQL, through a real `kiosk collector serve`, kiosks that synced with `kiosk sync`, and
browsers that sign in through the form.

Expected values come from the events each kiosk logged here and the issue's rules, never from the console.
"""

from __future__ import annotations

import html
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from urllib.parse import urlencode

import psycopg
import pytest

from kiosk.collector.database import sqlite_path
from kiosk.console.pages_overview import MAX_ALERTS, SUMMARY_ABOVE
from tests.console_web import ConsoleSite, Scan, database_url, trust_folder

pytestmark = pytest.mark.slow  # a collector, a dozen kiosks synced through `kiosk sync`, accounts hashed with argon2
SITES = [f"Site {i:02d}" for i in range(SUMMARY_ABOVE + 2)] + ["Mall & <i>Co</i>"]  # more than the summary's threshold
OUTSIDE = "Harbour Gate"  # a site of the city's manager only
SILENT_AT = SITES[2]  # where a second kiosk went quiet two hours ago (an alarm, among the first MAX_ALERTS)
LATE_AT = SITES[0]  # where a second kiosk has not synced for 20 minutes (a warning), first in the list's order
FEW = SITES[:2]  # a manager of few sites: the detail, as on the demo
ADDED: dict[tuple[str, str], list[Scan]] = {}  # (collector, site) -> scans a test synced after the fixture's


def scans_of(i: int, now: float) -> list[Scan]:
    """Site i's day, within this hour (UTC, the collector's zone here): i + 1 passes by two people, i % 3 denies
    (a red code), a retry at even sites, and three fevers (an alarm: a fever cluster)."""
    hour = now - now % 3600
    made = [("pass", "ok", f"{i:02x}{k % 2:030x}", None) for k in range(i + 1)]
    made += [("deny", "status_red", f"{i:02x}{9:030x}", None)] * (i % 3)
    made += [("retry", "temperature_missing", f"{i:02x}{8:030x}", None)] * (i % 2 == 0)
    made += [("deny", "fever", f"{i:02x}{k + 20:030x}", 38.6) for k in range(3)]
    return [Scan(hour + (now - hour) * (n + 0.5) / len(made), verdict, reason, subject=subject, temperature=temp)
            for n, (verdict, reason, subject, temp) in enumerate(made)]


def expected(scans: list[Scan]) -> dict[str, int]:
    day = [s for s in scans if datetime.fromtimestamp(s.at, timezone.utc).date() == datetime.now(timezone.utc).date()]
    return {"people": len({s.subject for s in day}), "scans": len(day),
            "passes": sum(s.verdict == "pass" for s in day), "denies": sum(s.verdict == "deny" for s in day),
            "retries": sum(s.verdict == "retry" for s in day), "fevers": sum(s.reason == "fever" for s in day)}


def age_last_sync(db_url: str, device_id: str, seconds: float) -> None:
    """The kiosk's last batch came `seconds` earlier than it did: time passing without it (its status untouched)."""
    path = sqlite_path(db_url)
    if path is not None:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE devices SET last_seen = last_seen - ? WHERE id = ?", [seconds, device_id])
        return
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE devices SET last_seen = last_seen - %s WHERE id = %s", [seconds, device_id])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp(f"console-summary-{request.param}")
    url = database_url(request, folder, "console_summary")
    console = ConsoleSite.start(folder, url, trust_folder(folder / "trust"), extra=("--timezone", "UTC"))
    try:
        now = console.origin = time.time()
        console.add_user("city", "manager")
        console.add_user("mia", "viewer", SITES)
        console.add_user("few", "manager", FEW)
        for i, site in enumerate([*SITES, OUTSIDE]):
            console.kiosk(f"k{i}", site, scans_of(i, now), name=f"Gate {i}")
        quiet = (("quiet", SILENT_AT, "Quiet Gate", 2 * 3600), ("late", LATE_AT, "Late Gate", 1200))
        for key, site, name, silent in quiet:
            kiosk = console.kiosk(key, site, [Scan(now - 1, subject="f" * 32)], name=name)
            age_last_sync(url, kiosk.identity.id, silent)
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(city: ConsoleSite) -> Iterator[None]:
    yield
    city.close_browsers()


def site_scans(city: ConsoleSite, site: str) -> list[Scan]:
    i = [*SITES, OUTSIDE].index(site)
    scans = scans_of(i, city.origin) + ADDED.get((city.url, site), [])
    return [*scans, Scan(city.origin - 1, subject="f" * 32)] if site in (SILENT_AT, LATE_AT) else scans


def row(page: str, site: str) -> str:
    """The summary's row of one site."""
    found = re.search(rf'<tr data-site="{re.escape(html.escape(site))}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no row for {site!r}"
    return found.group(0)


def figures_of(part: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r'data-figure="(\w+)"[^>]*>(\d+)<', part)}


def online_of(part: str) -> tuple[int, int]:
    found = re.search(r'data-figure="online"[^>]*>(\d+)/(\d+)<', part)
    assert found, part
    return int(found.group(1)), int(found.group(2))


def silent_alert(page: str) -> re.Match[str] | None:
    """The alarm of the kiosk that went quiet (the words of alert.silent), with its site, in the summary's list."""
    return re.search(rf'<li class="alarm"><a href="([^"]+)">{re.escape(SILENT_AT)}：Quiet Gate \([0-9a-f]{{8}}\)'
                     r"已2小时未同步</a></li>", page)


def test_many_sites_get_one_row_each_with_the_figures_their_kiosks_logged(city: ConsoleSite) -> None:
    page = city.login("city").get("/").text
    assert '<table class="summary">' in page and 'class="card site"' not in page and "data-device=" not in page
    for site in [*SITES, OUTSIDE]:
        mine = row(page, site)
        assert figures_of(mine) == expected(site_scans(city, site)), site
        assert online_of(mine) == ((1, 2) if site in (SILENT_AT, LATE_AT) else (1, 1)), site
    # Every site's day added up, and one chart of every site's hours (its bars add up to the verdicts' totals).
    everything = [s for site in [*SITES, OUTSIDE] for s in site_scans(city, site)]
    total = re.search(r"<tfoot>.*?</tfoot>", page, re.S)
    assert total
    sums = [int(n) for n in re.findall(r"<td[^>]*>(\d+)</td>", total.group(0))]
    want = expected(everything)
    people = sum(expected(site_scans(city, site))["people"] for site in [*SITES, OUTSIDE])  # each site counts its own
    assert sums == [people, want["scans"], want["passes"], want["denies"], want["retries"], want["fevers"]]
    assert len(re.findall(r'<svg class="chart"', page)) == 1
    for kind, key in (("pass", "passes"), ("deny", "denies"), ("retry", "retries")):
        bars = re.findall(rf'class="bar-rect bar-{kind}"[^>]*><title>\d\d:00 \S+ (\d+)</title>', page)
        assert sum(map(int, bars)) == want[key], kind


def test_a_silent_kiosk_raises_its_alarm_on_the_summary_and_its_site_counts_it(city: ConsoleSite) -> None:
    page = city.login("city").get("/").text
    alarm = silent_alert(page)
    assert alarm and alarm.group(1) == "/?" + urlencode({"site": SILENT_AT})
    assert '<span class="alarm-text">2项警报</span>' in row(page, SILENT_AT)  # the silence and its fever cluster
    assert '<span class="alarm-text">1项警报</span> · <span class="warn">1项提醒</span>' in row(page, LATE_AT)
    # Alarms first (the late kiosk's warning, found first, comes after them all); no more than MAX_ALERTS listed,
    # and the page says how many it left out. Each site's row counts its own, listed or not.
    alarms = 1 + len(SITES) + 1  # the quiet kiosk, and every site's fever cluster (the outside site's too)
    listed = re.findall(r'<li class="(alarm|warning)"><a href="[^"]+">([^<]+)</a>', page)
    assert len(listed) == MAX_ALERTS and {level for level, _ in listed} == {"alarm"} and alarms > MAX_ALERTS
    assert f"另有{alarms + 1 - MAX_ALERTS}条警报未列出" in page
    unlisted = [site for site in SITES if not any(html.unescape(text).startswith(f"{site}：") for _, text in listed)]
    assert SITES[-2] in unlisted
    for site in unlisted:
        assert '<span class="alarm-text">1项警报</span>' in row(page, site)  # its fever cluster, counted


def test_a_site_link_opens_that_sites_detail(city: ConsoleSite) -> None:
    browser = city.login("city")
    page = browser.get("/").text
    for site in (SILENT_AT, SITES[-1]):  # "Mall & <i>Co</i>": its name is text, its link encoded
        link = re.search(r'<th scope="row"><a href="([^"]+)">([^<]+)</a></th>', row(page, site))
        assert link and html.unescape(link.group(2)) == site
        detail = browser.get(html.unescape(link.group(1)))
        assert detail.status_code == 200 and '<table class="summary">' not in detail.text
        assert f'<section class="card site" data-site="{html.escape(site)}">' in detail.text
        assert len(re.findall(r'<section class="card site"', detail.text)) == 1
        figures = [int(n) for n in re.findall(r'<div class="figure[^"]*"><b>(\d+)</b>', detail.text)]
        assert figures == list(expected(site_scans(city, site)).values())
        kiosks = [city.kiosks[k].identity.id for k, s in city.sites.items() if s == site]
        assert all(f'data-device="{kiosk}"' in detail.text for kiosk in kiosks) and kiosks
    assert "<i>Co</i>" not in page and "&lt;i&gt;Co&lt;/i&gt;" in page


def test_a_site_outside_the_account_is_not_listed_nor_opened(city: ConsoleSite) -> None:
    mia = city.login("mia")
    for answer in (mia.get("/"), mia.get("/overview/fragment")):
        assert answer.status_code == 200 and '<table class="summary">' in answer.text
        assert OUTSIDE not in answer.text and "Gate 11" not in answer.text
        assert len(re.findall(r"<tr data-site=", answer.text)) == len(SITES)
        assert silent_alert(answer.text)
    assert mia.get("/?" + urlencode({"site": OUTSIDE})).status_code == 403


def test_the_fragment_refreshes_the_summary(city: ConsoleSite) -> None:
    browser = city.login("city")
    page = browser.get("/").text
    assert re.search(r'<div id="overview" data-refresh="/overview/fragment" data-every="\d+">', page)
    before = browser.get("/overview/fragment")
    assert before.status_code == 200 and "<html" not in before.text and '<table class="summary">' in before.text
    assert figures_of(row(before.text, SITES[3])) == expected(site_scans(city, SITES[3]))
    assert silent_alert(before.text)
    was = expected(site_scans(city, SITES[3]))
    someone = Scan(time.time() - 0.5, subject="e" * 32)  # someone new at site 3, synced
    city.kiosk("k3", SITES[3], [someone])
    ADDED.setdefault((city.url, SITES[3]), []).append(someone)
    after = figures_of(row(browser.get("/overview/fragment").text, SITES[3]))
    assert after == expected(site_scans(city, SITES[3])) and after["scans"] == was["scans"] + 1
    assert after["people"] == was["people"] + 1


def test_few_sites_get_the_detail_and_every_page_stays_free_of_inline_script(city: ConsoleSite) -> None:
    few = city.login("few", language="en").get("/").text
    assert '<table class="summary">' not in few and len(re.findall(r'<section class="card site"', few)) == len(FEW)
    assert len(re.findall(r'<svg class="chart"', few)) == len(FEW)
    english = city.login("city", language="en").get("/").text
    assert "All sites" in english and "Kiosks online" in english and "全部场所" not in english
    assert re.search(rf"{re.escape(SILENT_AT)}: Quiet Gate \([0-9a-f]{{8}}\) has not synced for 2 h", english)
    for text in (few, english):
        assert " style=" not in text and "<style" not in text
        assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/console.js" defer>']
