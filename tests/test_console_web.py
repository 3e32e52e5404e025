"""The web console as its users meet it, on SQLite and on PostgreSQL: a real `kiosk collector serve`, accounts from
`kiosk collector user add`, kiosks that synced with `kiosk sync`, and browsers that sign in through the form.

Expected values come from the events each test's kiosks logged (and the issue's rules), never from the console.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from kiosk.collector.readmodel import encode_cursor
from tests.console_web import ConsoleSite, Scan, database_url, trust_folder

pytestmark = pytest.mark.slow  # a collector, five kiosks synced through `kiosk sync`, accounts hashed with argon2
HOSTILE_SITE = "<img src=x onerror=alert(2)>"
HOSTILE_NAME = "<script>alert(1)</script>"
JOY, EAST, PAGING, REFRESH = "Joy City", "East Gate", "Paging Mall", "Refresh Hall"
CYCLE = [("pass", "ok", 36.5), ("deny", "status_red", 36.6), ("retry", "temperature_missing", None),
         ("deny", "fever", 38.4), ("pass", "ok", 36.4)]


def joy_scans(now: float) -> list[Scan]:
    """Fifteen scans between the start of this hour (UTC, the collector's zone here) and now: one hour's."""
    hour = now - now % 3600
    return [Scan(hour + (now - hour) * (i + 0.5) / 15, *CYCLE[i % 5][:2], subject=f"a{i % 6:031x}",
                 temperature=CYCLE[i % 5][2]) for i in range(15)]


def paging_scans(now: float) -> list[Scan]:
    return [Scan(now - 1800 + i, "pass" if i % 2 else "deny", "ok" if i % 2 else "status_red",
                 subject=f"b{i:031x}") for i in range(120)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp(f"console-{request.param}")
    url = database_url(request, folder, "console_web")
    console = ConsoleSite.start(folder, url, trust_folder(folder / "trust"), extra=("--timezone", "UTC"))
    try:
        now = console.origin = time.time()
        console.add_user("ann", "viewer", [JOY])
        console.add_user("bob", "manager", [EAST])
        console.add_user("vera", "viewer")
        console.add_user("root", "admin")
        lost = Scan(now - 1000, None, None, kind="device", fields={"device": "camera", "state": "lost"})
        console.kiosk("k1", JOY, [lost, *joy_scans(now)], name="Gate 1")
        registration = console.register("k1", {"name": HOSTILE_NAME, "phone": "13800000000"}, 36.5)
        console.correct("k1", registration, {"name": "张三"}, operator="李")
        console.sync("k1")
        console.kiosk("k2", EAST, [Scan(now - 300 + i, subject="e" * 32) for i in range(4)], name="Gate E")
        console.kiosk("k3", HOSTILE_SITE, [Scan(now - 200, subject="c" * 32)], name="<b>G</b>")
        console.kiosk("k4", "", [Scan(now - 100, subject="0f" * 16)], name="Unsited")
        console.kiosk("k5", PAGING, paging_scans(now), name="Pager")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def section(page: str, site_name: str) -> str:
    """The overview's section of one site."""
    start = page.index(f'data-site="{html.escape(site_name)}"')
    return page[start:page.index("</section>", start)]


def figures(part: str) -> list[int]:
    """The six figures of a site's section, in order: people, scans, pass, deny, retry, fevers."""
    return [int(n) for n in re.findall(r'<div class="figure[^"]*"><b>(\d+)</b>', part)]


def event_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-id="([0-9A-Z]{26})"', page)


def today(at: float) -> bool:
    return datetime.fromtimestamp(at, timezone.utc).date() == datetime.now(timezone.utc).date()


def test_pages_speak_chinese_by_default_and_english_when_asked(site: ConsoleSite) -> None:
    anonymous = site.browser()
    login = anonymous.get("/login")
    assert '<html lang="zh-CN">' in login.text and "登录" in login.text and "Sign in" not in login.text
    english = anonymous.get("/login?lang=en")
    assert '<html lang="en">' in english.text and "Sign in" in english.text and "登录" not in english.text
    assert re.search(r"kiosk_lang=en;.*Path=/", english.headers["set-cookie"])
    assert "Sign in" in anonymous.get("/login").text  # the cookie keeps it

    ann = site.login("ann")
    pages = {"/": ("今日", "Today"), "/events": ("通行记录", "Events"), "/overview/fragment": ("警报", "Alerts")}
    for path, (zh, en) in pages.items():
        chinese = ann.get(path)
        assert chinese.status_code == 200 and zh in chinese.text and en not in chinese.text, path
    for path, (zh, en) in pages.items():
        answer = ann.get(f"{path}?lang=en") if path != "/overview/fragment" else ann.get(path)
        assert answer.status_code == 200 and en in answer.text and zh not in answer.text, path
    back = ann.get("/events?lang=zh&verdict=deny")
    assert "通行记录" in back.text
    assert 'href="/events?verdict=deny&amp;lang=en"' in back.text  # the switch keeps the filters


def test_without_a_session_no_page_fragment_or_data(site: ConsoleSite) -> None:
    joy_subject = "a" + "0" * 31
    for cookies in ({}, {"kiosk_session": "forged-or-expired-token"}):
        anonymous = site.browser()
        anonymous.cookies.update(cookies)
        for path in ("/", f"/?site={JOY}", f"/events?site={JOY}", f"/events?subject={joy_subject}", "/events",
                     "/no-such-page-either"):
            answer = anonymous.get(path)
            if path.startswith("/no-such"):
                assert answer.status_code == 404 and JOY not in answer.text
                continue
            assert answer.status_code == 303 and answer.headers["location"] == "/login", path
            assert answer.content == b"", path
        fragment = anonymous.get("/overview/fragment", headers={"Accept": "text/html"})
        assert fragment.status_code == 401 and fragment.content == b""
        asked_json = anonymous.get("/events", headers={"Accept": "application/json"})  # a script, not a person
        assert asked_json.status_code == 401 and asked_json.content == b""
        posted = anonymous.post("/logout", data={"csrf_token": "x"})
        assert posted.status_code == 303 and posted.headers["location"] == "/login"


def test_an_account_limited_to_a_site_gets_403_or_404_for_another_by_any_parameter(site: ConsoleSite) -> None:
    ann = site.login("ann")
    east_kiosk = site.kiosks["k2"].identity.id
    for path in (f"/?site={EAST}", f"/overview/fragment?site={EAST}", f"/events?site={EAST}",
                 f"/events?site={EAST}&verdict=pass", f"/?site={HOSTILE_SITE}", "/?site=", "/events?site="):
        answer = ann.get(path)
        if path.endswith("site="):  # no site asked: all of hers
            assert answer.status_code == 200 and EAST not in answer.text and east_kiosk not in answer.text
            continue
        assert answer.status_code == 403, path
        assert EAST not in answer.text.replace(f"site={EAST}", "") and "Gate E" not in answer.text, path
    assert ann.get(f"/events?device={east_kiosk}").status_code == 404
    assert ann.get(f"/events?device={site.kiosks['k4'].identity.id}").status_code == 404  # unsited: not hers
    # Her own pages never hold another site's rows, whatever the subject or cursor asks for.
    assert event_ids(ann.get(f"/events?subject={'e' * 32}").text) == []
    root = site.login("root")
    east_rows = event_ids(root.get(f"/events?site={EAST}").text)
    assert len(east_rows) == 4
    forged = encode_cursor((time.time() + 10, east_kiosk, east_rows[0]))
    after = ann.get("/events", params={"after": forged})
    assert after.status_code == 200 and set(event_ids(after.text)) and not set(event_ids(after.text)) & set(east_rows)
    assert "Gate E" not in after.text and EAST not in after.text
    assert ann.get("/events", params={"after": "not-a-cursor"}).status_code == 400
    # Whole overview and events: her site only.
    for path in ("/", "/events", "/overview/fragment"):
        page = ann.get(path).text
        assert JOY in page and EAST not in page and "Gate E" not in page and PAGING not in page, path
    bob = site.login("bob")
    assert bob.get(f"/events?site={JOY}").status_code == 403 and bob.get(f"/?site={JOY}").status_code == 403
    assert EAST in bob.get("/").text and JOY not in bob.get("/").text


def test_site_wide_viewers_do_not_see_events_without_a_site_but_admins_do(site: ConsoleSite) -> None:
    unsited = site.kiosks["k4"].identity.id
    vera, root = site.login("vera"), site.login("root")
    for page in (vera.get("/").text, vera.get("/events").text):
        assert JOY in page and EAST in page and "Unsited" not in page and unsited not in page
    assert vera.get(f"/events?device={unsited}").status_code == 404
    assert "Unsited" in root.get("/").text and f"data-device=\"{unsited}\"" in root.get("/").text
    assert "0f" * 16 in root.get(f"/events?device={unsited}").text


def test_the_overview_shows_each_site_with_its_kiosks_figures_chart_and_alerts(site: ConsoleSite) -> None:
    scans = [s for s in joy_scans(site.origin) if today(s.at)]
    registration_today = True  # made by `kiosk log register` a moment ago (the site's day starts at 00:00 UTC)
    expected = [len({s.subject for s in scans}) + registration_today, len(scans),
                sum(s.verdict == "pass" for s in scans), sum(s.verdict == "deny" for s in scans),
                sum(s.verdict == "retry" for s in scans), sum(s.reason == "fever" for s in scans)]
    ann = site.login("ann")
    page = ann.get("/").text
    joy = section(page, JOY)
    assert figures(joy) == expected
    kiosk = site.kiosks["k1"].identity.id
    assert f'data-device="{kiosk}"' in joy and "Gate 1" in joy and 'class="state online"' in joy
    # What the kiosk said with its last batch (`kiosk sync` sends its status), and its outage of the day.
    assert "<dt>待同步</dt><dd>0</dd>" in joy and re.search(r"<dt>时钟偏差</dt><dd>[+-]\d+\.\d s</dd>", joy)
    assert re.search(r"<dt>信任数据</dt><dd>\d+(分钟|小时|天)</dd>", joy)
    assert ('<dt>设备中断</dt><dd class="warn">1</dd>' in joy) == today(site.origin - 1000)
    # The chart: one stack of bars a busy hour; each verdict's bars add up to the day's figure.
    for kind, total in (("pass", expected[2]), ("deny", expected[3]), ("retry", expected[4])):
        titles = re.findall(rf'class="bar-rect bar-{kind}"[^>]*><title>\d\d:00 \S+ (\d+)</title>', joy)
        assert sum(map(int, titles)) == total, kind
    assert re.search(r'<svg class="chart" viewBox="0 0 \d+ \d+"', joy) and "<script" not in joy
    # Three fevers at one site within one hour: a fever cluster, an alarm.
    hour = datetime.fromtimestamp(site.origin, timezone.utc).strftime("%H")
    assert f'<li class="alarm">Joy City：{hour}:00起一小时内3人发热</li>' in page


def test_the_overview_refreshes_itself_from_a_fragment(site: ConsoleSite) -> None:
    root = site.login("root")
    page = root.get("/").text
    assert re.search(r'<div id="overview" data-refresh="/overview/fragment" data-every="\d+">', page)
    assert '<script src="/static/console.js" defer></script>' in page
    script = root.get("/static/console.js")
    assert script.status_code == 200 and "data-refresh" in script.text and "fetch(" in script.text
    now = time.time()
    site.kiosk("k6", REFRESH, [Scan(now - 5, subject="d" * 32)], name="Hall")
    before = root.get("/overview/fragment")
    assert before.status_code == 200 and "<html" not in before.text and "<body" not in before.text
    assert figures(section(before.text, REFRESH))[1] == 1
    site.kiosk("k6", REFRESH, [Scan(time.time() - 1, subject="d" * 32)])
    assert figures(section(root.get("/overview/fragment").text, REFRESH))[1:2] == [2]


def test_events_are_filtered_and_paged_by_keyset_newest_first(site: ConsoleSite) -> None:
    root = site.login("root")
    seen: list[str] = []
    times: list[str] = []
    link: str | None = f"/events?site={PAGING.replace(' ', '+')}"
    pages = 0
    while link and pages < 10:  # a pager that never ends fails below, not by hanging
        answer = root.get(link.replace("&amp;", "&"))
        assert answer.status_code == 200
        seen += event_ids(answer.text)
        times += re.findall(r'<td data-label="时间">([^<]+)</td>', answer.text)
        found = re.search(r'<a class="button" href="([^"]+)" rel="next">', answer.text)
        link = html.unescape(found.group(1)) if found else None
        pages += 1
    assert pages == 3 and len(seen) == 120 == len(set(seen))  # 50 + 50 + 20, none twice, none left out
    assert seen == sorted(seen, reverse=True) and times == sorted(times, reverse=True)  # ULIDs sort by time
    denies = root.get(f"/events?site={PAGING}&verdict=deny").text
    assert len(event_ids(denies)) == 50 and "verdict-pass" not in denies
    k1 = site.kiosks["k1"].identity.id
    fevers = root.get(f"/events?device={k1}&reason=fever").text
    assert len(event_ids(fevers)) == 3 and set(re.findall(r'class="verdict-(\w+)"', fevers)) == {"deny"}
    subject = root.get(f"/events?subject={'a' + '0' * 30 + '3'}").text  # i % 6 == 3: scans 3 and 9
    assert len(event_ids(subject)) == 2
    # Dates are the collector's (UTC here): a window of the paging kiosk's first half minute.
    start = site.origin - 1800
    since = datetime.fromtimestamp(start - 1, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    until = datetime.fromtimestamp(start + 29.5, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    window = root.get("/events", params={"site": PAGING, "since": since, "until": until})
    assert len(event_ids(window.text)) in (29, 30)  # the typed times are whole seconds: 0.5 s either way
    for bad in ("since=yesterday", "verdict=maybe", "device=xyz", f"subject={'z' * 32}", "until=2026-13-01"):
        answer = root.get(f"/events?{bad}")
        assert answer.status_code == 400 and bad.split("=")[0] in answer.text, bad


def test_a_registration_shows_corrected_and_kiosk_text_stays_text(site: ConsoleSite) -> None:
    root = site.login("root", language="en")
    page = root.get(f"/events?kind=manual&device={site.kiosks['k1'].identity.id}").text
    assert len(event_ids(page)) == 1
    assert "name: 张三" in page and html.escape(HOSTILE_NAME) in page  # the corrected value, and what it replaced
    assert re.search(r"corrected \d{4}-\d\d-\d\d \d\d:\d\d:\d\d by 李", page)
    everything = root.get("/events").text + root.get("/").text
    assert HOSTILE_NAME not in everything and HOSTILE_SITE not in everything and "<b>G</b>" not in everything
    assert html.escape(HOSTILE_SITE) in everything and "&lt;b&gt;G&lt;/b&gt;" in everything


def test_logins_failures_and_logouts_are_in_the_console_trail(site: ConsoleSite) -> None:
    from kiosk.console.console_db import open_console_store
    from kiosk.console.trail import Trail
    from tests.console_web import csrf_of

    client = site.browser()
    assert site.sign_in(client, "ann", "wrong password!").status_code == 401
    answer = site.sign_in(client, "ann")
    if answer.status_code == 429:  # the failure's backoff: the page says how long
        wait = re.search(r"请(\d+)秒后再试", answer.text)
        assert wait, answer.text
        time.sleep(int(wait.group(1)) + 0.2)
        answer = site.sign_in(client, "ann")
    assert answer.status_code == 303
    form = client.get("/events").text
    assert client.post("/logout", data={"csrf_token": csrf_of(form)}).status_code == 303
    with open_console_store(site.collector.db_url) as store:
        entries = Trail(store).entries(limit=10)
    mine = [(e.actor, e.action) for e in entries if e.actor == "ann"][:3]
    assert mine == [("ann", "logout"), ("ann", "login"), ("ann", "login_failed")]
    assert all("wrong password" not in e.detail for e in entries)


def test_a_phone_gets_a_viewport_and_the_pages_hold_no_inline_script_or_style(site: ConsoleSite) -> None:
    ann, anonymous = site.login("ann"), site.browser()
    for path in ("/login", "/", "/events"):
        page = (anonymous if path == "/login" else ann).get(path).text
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", page) and " style=" not in page and "<style" not in page
    css = ann.get("/static/console.css").text
    assert "@media (max-width: 719px)" in css and "data-label" in css  # the events table as cards on a phone
