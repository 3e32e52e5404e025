"""The web console in a real browser (headless Chromium, tests/browser.py), as its people use it: a real
`kiosk collector serve` whose kiosks logged events and sent them with `kiosk sync`, accounts from
`kiosk collector user add`, and a person signing in through the form, clicking, downloading and uploading.

One collector and one browser for the module; the tests run in order (the lockout, which makes this address
wait, is last). Expected figures come from the events the kiosks logged here, and the issue's rules.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kiosk.audit.events import Event, subject_reference
from kiosk.audit.store import AuditLog
from tests.browser import Browser
from tests.collector_process import Kiosk
from tests.console_web import PASSWORD, ConsoleSite, Scan, kiosk_cli, trust_folder
from tests.factories import World

pytestmark = pytest.mark.slow  # Chromium, a collector, kiosks synced with `kiosk sync`, argon2 logins
JOY, EAST = "Joy City", "East Gate"
HOSTILE_NAME = "<script>alert(1)</script>"
TRACED = bytes.fromhex("7ace0000000000000000000000000001")  # the id on the traced person's code
CYCLE = [("pass", "ok", 36.5), ("deny", "status_red", 36.6), ("retry", "temperature_missing", None),
         ("pass", "ok", 36.4), ("deny", "fever", 38.6)]


@dataclass
class World14:
    """The collector, the browser, and what each kiosk logged (the tests' expected values come from here)."""

    site: ConsoleSite
    browser: Browser
    key: bytes  # the deployment's subject key, given to the collector and used by the kiosks' references
    start: float  # the first event's time
    logged: dict[str, list[Scan]] = field(default_factory=dict)
    registered: dict[str, int] = field(default_factory=dict)  # registrations by hand, by kiosk
    signed_in: str | None = None  # who the browser is signed in as (admins and tracers keep their session:
    # each login takes a new one-time code, and the third in one 30 s step would have to wait for the next)

    def ref(self, subject: bytes) -> str:
        return subject_reference(subject, self.key)

    def log(self, kiosk: str, site: str, scans: list[Scan], name: str = "") -> None:
        self.site.kiosk(kiosk, site, scans, name=name)
        self.logged.setdefault(kiosk, []).extend(scans)

    def sign_in(self, name: str) -> None:
        """Sign in as `name` in the browser (a code from its authenticator when it has one), unless it is."""
        if self.signed_in == name:
            self.browser.open("/")
            return
        self.browser.driver.delete_all_cookies()
        self.signed_in = None
        code = self.site.code(name) if name in self.site.totp else ""
        refused = self.browser.login(name, PASSWORD, code)
        assert refused == "", f"{name} could not sign in: {refused}"
        self.signed_in = name


def scans(start: float, end: float, count: int, traced_at: int | None, key: bytes, seed: str) -> list[Scan]:
    """`count` scans spread over [start, end), through the verdict cycle; the traced person the one at index
    `traced_at`, everyone else someone new."""
    step = (end - start) / count
    out = []
    for i in range(count):
        verdict, reason, celsius = CYCLE[i % len(CYCLE)]
        person = TRACED if i == traced_at else bytes.fromhex(f"{seed}{i:030x}")
        out.append(Scan(start + i * step, verdict, reason, subject=subject_reference(person, key),
                        temperature=celsius))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World14]:
    folder = tmp_path_factory.mktemp("console-browser")
    trust = trust_folder(folder / "trust")
    published = folder / "published"
    published.mkdir()
    (published / "trust.cose").write_bytes(World().bundle_bytes(1))
    key = bytes(range(32))
    (folder / "subject.key").write_text(key.hex() + "\n")
    site = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust,
                             extra=("--timezone", "UTC", "--trust-files", str(published), "--trust-root", str(trust),
                                    "--subject-key", str(folder / "subject.key")))
    browser = None
    try:
        browser = Browser.start(folder / "chromium", site.url)
        now = time.time()
        start = max(now - now % 86400 + 1, now - 2400)  # today (UTC, the collector's zone), up to 40 minutes ago
        world = World14(site, browser, key, start)
        site.add_user("mia", "manager", [JOY])
        site.add_user("vic", "viewer", [JOY])
        site.add_user("tess", "tracer")
        site.add_user("root", "admin")
        world.log("k1", JOY, scans(start, now - 60, 12, 5, key, "a1"), name="Gate 1")
        world.log("k2", EAST, scans(start, now - 60, 6, 3, key, "b2"), name="Gate E")
        site.register("k1", {"name": HOSTILE_NAME, "phone": "13800000000"}, 36.7)
        world.registered["k1"] = 1
        site.sync("k1")
        yield world
    finally:
        if browser is not None:
            browser.quit()
        site.stop()


def figures(browser: Browser, site: str) -> list[str]:
    """The overview's figures of a site, as shown: people, scans, pass, deny, retry, fevers."""
    return [b.text for b in browser.all(f'section.site[data-site="{site}"] .figure b')]


def expected_figures(logged: list[Scan], registrations: int) -> list[str]:
    """The issue's figures (kiosk/collector/readmodel.py words them): people are the distinct subjects scanned
    plus the people registered by hand."""
    people = len({s.subject for s in logged if s.kind == "scan"}) + registrations
    counted = [people, len(logged)] + [sum(s.verdict == v for s in logged) for v in ("pass", "deny", "retry")]
    return [str(n) for n in (*counted, sum(s.reason == "fever" for s in logged))]


def test_a_manager_signs_in_and_the_overview_shows_their_site(world: World14) -> None:
    world.sign_in("mia")
    browser = world.browser
    assert browser.path == "/"
    assert figures(browser, JOY) == expected_figures(world.logged["k1"], 1)
    assert not browser.all(f'section.site[data-site="{EAST}"]'), "a manager of Joy City sees East Gate"
    assert "Gate 1" in browser.text(f'section.site[data-site="{JOY}"] .kiosks')


def test_the_overview_refreshes_itself_without_a_reload(world: World14) -> None:
    world.sign_in("mia")
    browser = world.browser
    before = figures(browser, JOY)
    browser.js("window.keptAcrossRefresh = 'still here';")  # gone if the page were loaded again
    now = time.time()
    world.log("k1", JOY, [Scan(now - 3 + i, "pass", "ok", subject=world.ref(bytes([0xC3, i]) * 8), temperature=36.5)
                          for i in range(3)])
    after = expected_figures(world.logged["k1"], 1)
    assert after != before
    # The page fetches its fragment every 30 s, and at once when its tab is shown again (as here): no reload.
    browser.js("document.dispatchEvent(new Event('visibilitychange'));")
    browser.wait(lambda: figures(browser, JOY) == after, f"the overview's figures becoming {after}")
    assert browser.js("return window.keptAcrossRefresh;") == "still here", "the overview was loaded again"
    assert browser.path == "/"


def test_events_filtered_by_verdict(world: World14) -> None:
    world.sign_in("mia")
    browser = world.browser
    browser.open("/events")
    browser.choose("select[name=verdict]", "deny")
    browser.submit("form.filters")
    assert "verdict=deny" in browser.path
    cells = browser.all("table.events tbody tr td:nth-child(5)")
    denies = [s for s in world.logged["k1"] if s.verdict == "deny"]
    assert len(cells) == len(denies)
    assert all("verdict-deny" in (c.get_attribute("class") or "") for c in cells)
    shown = {e.text for e in browser.all("table.events tbody .ref")}
    assert shown == {s.subject for s in denies}


def test_a_manager_downloads_an_export_and_it_opens(world: World14, tmp_path: Path) -> None:
    world.sign_in("mia")
    browser = world.browser
    browser.open("/export")
    browser.choose("select[name=site]", JOY)
    browser.choose("select[name=format]", "csv")
    got = browser.download(lambda: browser.find("form.filters button[type=submit]").click(), ".csv")
    rows = list(csv.reader(io.StringIO(got.read_text(encoding="utf-8-sig"))))
    # The kiosk's own export of its log (`kiosk log export`): the collector's has the same rows for its site.
    own = tmp_path / "own.csv"
    done = kiosk_cli("--config", str(world.site.config("k1")), "log", "export", "--out", str(own))
    assert done.returncode == 0, done.stderr
    expected = list(csv.reader(io.StringIO(own.read_text(encoding="utf-8-sig"))))
    assert len(rows) == len(expected) > 12
    body = "\n".join(",".join(r) for r in rows)
    assert all(str(s.subject) in body for s in world.logged["k1"]), "a logged scan is missing from the export"
    assert HOSTILE_NAME in body  # the registration, as it was typed
    east = [str(s.subject) for s in world.logged["k2"] if s.subject != world.ref(TRACED)]  # the traced went to both
    assert not any(ref in body for ref in east), "East Gate's events in a Joy City export"


def test_a_viewer_is_refused_an_export(world: World14) -> None:
    world.sign_in("vic")
    browser = world.browser
    assert not browser.all("nav.menu a[href='/export']"), "the menu offers a viewer the export"
    for old in browser.downloads.iterdir():
        old.unlink()
    browser.open(f"/export?format=csv&site={JOY.replace(' ', '+')}")
    assert browser.text("section.problem h1") == "无权访问"  # "Not allowed"
    time.sleep(1)  # a download, had one started, would be on its way by now
    assert list(browser.downloads.iterdir()) == []


def test_a_hostile_registration_name_is_shown_as_text(world: World14) -> None:
    world.sign_in("mia")
    browser = world.browser
    browser.open("/events?kind=manual")
    assert HOSTILE_NAME in browser.text("table.events"), "the registration's name is not shown as typed"
    assert browser.alert_shown() is None, "a script from a kiosk's event ran"
    scripts = browser.js("return Array.from(document.scripts).map(s => s.src || s.textContent);")
    assert scripts == [f"{world.site.url}/static/console.js"], f"scripts on the page: {scripts}"


def test_a_tracer_traces_a_subject(world: World14) -> None:
    world.sign_in("tess")
    browser = world.browser
    browser.open("/trace")
    browser.fill("input[name=subject]", TRACED.hex())  # the id on their code: the console finds its reference
    browser.fill("input[name=window]", "15")
    browser.fill("input[name=case]", "CASE-2026-14")
    browser.submit("form.filters")
    visits = browser.all("article.visit")
    assert len(visits) == 2, browser.text()
    traced_ref = world.ref(TRACED)
    everyone: set[str] = set()
    for visit, kiosk in zip(sorted(visits, key=lambda v: JOY not in v.text), ("k1", "k2"), strict=True):
        logged = world.logged[kiosk]
        at = next(s.at for s in logged if s.subject == traced_ref)
        near = {str(s.subject) for s in logged if s.subject != traced_ref and abs(s.at - at) <= 15 * 60}
        shown = {e.text for e in visit.find_elements("css selector", "table.others .ref")}
        assert shown == near and near, f"others present at {kiosk}"
        everyone |= near
    got = browser.download(lambda: browser.find("form.filters button[formaction='/trace/csv']").click(), ".csv")
    text = got.read_text(encoding="utf-8-sig")
    assert "CASE-2026-14" in text and all(ref in text for ref in everyone), text
    world.sign_in("root")
    browser.open("/trail")
    assert "CASE-2026-14" in browser.text("main"), "the trace and its case reference are not in the trail"


def test_an_admin_enrols_a_kiosk_then_revokes_it(world: World14) -> None:
    world.sign_in("root")
    browser = world.browser
    new = Kiosk.make(world.site.folder / "k9")
    browser.open("/kiosks")
    browser.fill("textarea[name=public_key]", new.identity.public.hex())
    browser.fill("input[name=name]", "Gate 9")
    browser.submit("form[action='/kiosks/enrol']")
    assert "Gate 9" in browser.text("table.events")
    world.site.kiosks["k9"] = new  # enrolled: it syncs now, through `kiosk sync`
    world.log("k9", JOY, [Scan(time.time() - 5, subject=world.ref(b"\x99" * 16), temperature=36.5)])
    browser.open("/kiosks")
    browser.find(f"tr[data-device='{new.identity.id}'] a").click()
    browser.wait(lambda: browser.path == f"/kiosks/{new.identity.id}", "the kiosk's page")
    browser.submit(f"form[action='/kiosks/{new.identity.id}/revoke']")
    assert browser.all("dl.facts dd.alarm-text"), "the kiosk's page shows no revocation time"
    log, at = AuditLog(new.log_path), time.time()  # someone scanned after the revocation: its upload is refused
    try:
        log.append(Event(log.next_id(at), at, "scan", site=JOY, lane="1", device=new.identity.id, verdict="pass",
                         reason="ok", subject_ref=world.ref(b"\x98" * 16)))
    finally:
        log.close()
    refused = kiosk_cli("--config", str(world.site.config("k9")), "sync", "--no-trust")
    assert refused.returncode != 0 and "revoked" in refused.stderr, refused.stderr


def test_an_admin_uploads_a_trust_bundle_and_it_is_published(world: World14, tmp_path: Path) -> None:
    world.sign_in("root")
    browser = world.browser
    newer = tmp_path / "trust.cose"
    newer.write_bytes(World().bundle_bytes(2))
    browser.open("/trust")
    browser.find("input[type=file][name=file]").send_keys(str(newer))
    browser.submit("form[action='/trust']")
    assert browser.find("tr[data-file='trust.cose'] .seq").text == "2"
    served = httpx.get(f"{world.site.url}/v1/trust/trust.cose", timeout=10)  # what the kiosks pull
    assert served.status_code == 200 and served.content == newer.read_bytes()


def test_failed_logins_make_the_next_one_wait(world: World14) -> None:
    """Last: the failures count against this address for the rest of the module."""
    browser = world.browser
    browser.driver.delete_all_cookies()
    world.signed_in = None
    for wait in (0, 1, 2):  # each wrong password is let in only after the wait the one before earned
        time.sleep(wait + 0.2)
        assert browser.login("mia", "not the password at all") == "用户名或密码错误"  # wrong username or password
    refused = browser.login("mia", PASSWORD)  # the right one, at once: after three failures, a wait of 4 s
    assert refused.startswith("尝试次数过多"), refused  # too many attempts: try again in N s
    seconds = int("".join(c for c in refused if c.isdigit()))
    assert 1 <= seconds <= 4
    assert browser.path.split("?")[0] == "/login"
    time.sleep(seconds + 0.2)
    assert browser.login("mia", PASSWORD) == ""
    assert figures(browser, JOY) == expected_figures(world.logged["k1"] + world.logged.get("k9", []), 1)
