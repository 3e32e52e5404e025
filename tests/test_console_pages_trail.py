"""The console's own audit trail page (issue 14: "the console's own audit trail ... append-only and chained like
the kiosk's log; admins can read and export it"): filtered, paged by sequence, its chain verified, exported as
CSV; an edited entry is named. A real `kiosk collector serve`; the entries come from what people did in it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from collections.abc import Iterator

import pytest

from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
from tests.console_web import ConsoleSite, trust_folder

pytestmark = pytest.mark.slow  # a collector process, accounts hashed with argon2


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("trail")
    console = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust_folder(folder / "trust"),
                                extra=("--timezone", "UTC"))
    try:
        console.add_user("root", "admin")
        console.add_user("mia", "manager", ["Joy City"])
        console.add_user("<b>eve</b>", "viewer")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def seqs(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-seq="(\d+)">', page)]


def test_every_sign_in_is_listed_newest_first_and_filtered(site: ConsoleSite) -> None:
    site.login("mia")
    site.sign_in(site.browser(), "<b>eve</b>", "not her password")
    root = site.login("root")
    page = root.get("/trail").text
    found = seqs(page)
    assert found == sorted(found, reverse=True) and len(found) >= 5
    assert 'data-action="login"' in page and 'data-action="login_failed"' in page
    assert "<b>eve</b>" not in page and "&lt;b&gt;eve&lt;/b&gt;" in page  # an account's name is text
    mine = root.get("/trail", params={"actor": "mia"}).text
    assert seqs(mine) and set(re.findall(r'<td data-label="用户">([^<]*)</td>', mine)) == {"mia"}
    failed = root.get("/trail", params={"action": "login_failed"}).text
    assert seqs(failed) and set(re.findall(r'data-action="(\w+)"', failed)) == {"login_failed"}
    assert root.get("/trail", params={"since": "2999-01-01"}).text.count("<tr data-seq") == 0
    for bad in ("action=DROP TABLE", "after=-1", "since=yesterday", "until=2026-13-01"):
        answer = root.get(f"/trail?{bad}")
        assert answer.status_code == 400 and bad.split("=")[0] in answer.text, bad


def test_pages_follow_one_another_by_sequence_with_none_lost_or_twice(site: ConsoleSite) -> None:
    with open_console_store(site.collector.db_url) as store:
        trail = Trail(store)
        for i in range(120):
            trail.append("setup", "export", {"n": i}, "127.0.0.1", time.time())
    root = site.login("root")
    seen: list[int] = []
    link: str | None = "/trail?actor=setup"
    while link:
        page = root.get(link.replace("&amp;", "&")).text
        seen += seqs(page)
        found = re.search(r'<a class="button" href="([^"]+)" rel="next">', page)
        link = found.group(1) if found else None
    assert len(seen) == 120 == len(set(seen)) and seen == sorted(seen, reverse=True)


def test_details_read_as_words_with_times_in_the_collectors_zone(site: ConsoleSite) -> None:
    with open_console_store(site.collector.db_url) as store:
        Trail(store).append("reader", "trace", {"case": "<i>C-1</i>", "since": 86400.5, "subject_refs": ["a", "b"],
                                                "csv": False, "window": 900.0}, "127.0.0.1")
    page = site.login("root", language="en").get("/trail?action=trace").text
    assert "<li>since: 1970-01-02 00:00:00</li>" in page and "<li>subject_refs: a, b</li>" in page
    assert "<li>csv: no</li>" in page and "<li>window: 15 min</li>" in page  # not Python's False, not seconds
    assert "<li>case: &lt;i&gt;C-1&lt;/i&gt;</li>" in page
    assert re.search(r'data-chain="holds">The hash chain holds: \d+ entries', page)


def test_the_csv_export_holds_the_entries_and_is_itself_recorded(site: ConsoleSite) -> None:
    root = site.login("root", language="en")
    answer = root.get("/trail/csv?actor=mia")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["seq", "time", "account", "action", "detail", "address", "hash"]
    with open_console_store(site.collector.db_url) as store:
        expected = [e for e in reversed(Trail(store).entries(limit=1000)) if e.actor == "mia"]
        newest = Trail(store).entries(limit=1)[0]
    assert [(int(r[0]), r[2], r[3], r[4], r[6]) for r in rows[1:]] == \
        [(e.seq, e.actor, e.action, e.detail, e.hash.hex()) for e in expected]
    detail = json.loads(newest.detail)
    assert newest.actor == "root" and newest.action == "export"
    assert detail["what"] == "trail" and detail["rows"] == len(expected) and detail["complete"] is True


def test_only_admins_read_the_trail(site: ConsoleSite) -> None:
    mia = site.login("mia")
    assert mia.get("/trail").status_code == 403 and mia.get("/trail/csv").status_code == 403
    assert "data-seq" not in mia.get("/trail").text
    anonymous = site.browser()
    assert anonymous.get("/trail").status_code == 303
    answer = anonymous.get("/trail/csv")
    assert answer.status_code == 401 and answer.content == b""


def test_an_edited_entry_breaks_the_chain_and_the_page_names_it(site: ConsoleSite) -> None:
    root = site.login("root")
    holds = root.get("/trail").text
    assert 'data-chain="holds"' in holds and 'data-chain="broken"' not in holds
    # Someone with the database file: removes the append-only trigger, then rewrites who did entry 2.
    path = site.collector.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER console_trail_no_update")
        db.execute("UPDATE console_trail SET actor = 'nobody' WHERE seq = 2")
    broken = root.get("/trail").text
    assert 'data-chain="broken"' in broken and "哈希链在第2条断开" in broken
