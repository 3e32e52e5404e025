"""Raw subject ids in the console (issue 14: "exports carry subject references, never raw ids, unless the account
may trace"). A kiosk with `[log] raw_subject = true` stores the id itself where others store its reference (both
32 hex digits); it says so in the status of each batch it syncs, and the console shows such a kiosk's subjects as
references (HMAC-SHA256 with the collector's --subject-key, first 16 bytes, hex: README "Subject references")
to a manager, in exports and on the events page, and the ids themselves to those who may trace (a tracer's
events page, an admin's export).

Real parts only: `kiosk collector serve`, kiosks that logged and ran `kiosk sync` with their config file, accounts
from `kiosk collector user add`, browsers that sign in through the login form.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console_web import ConsoleSite, Scan, database_url, trust_folder

pytestmark = pytest.mark.slow  # a collector, kiosks synced through `kiosk sync`, accounts hashed with argon2
KEY = bytes(range(100, 132))  # the deployment's subject key: the collector's --subject-key
HALL = "Raw Hall"
PERSON = b"person-id-16byte"  # the id a code carries (16 bytes): the raw kiosk stores its hex
RAW_ID = PERSON.hex()
REFERENCE = hmac.new(KEY, PERSON, hashlib.sha256).digest()[:16].hex()  # the README's formula, not the console's
OTHER_REF = "ab" * 16  # what a kiosk with the key stored for someone else: a reference already
RAW_KIOSKS = {"raw"}


class RawSite(ConsoleSite):
    """Kiosks named in RAW_KIOSKS run with `[log] raw_subject = true` in their config file."""

    def config(self, key: str) -> Path:
        path = super().config(key)
        if key in RAW_KIOSKS:
            path.write_text(path.read_text().replace("[log]\n", "[log]\nraw_subject = true\n", 1))
        return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp(f"raw-{request.param}")
    url = database_url(request, folder, "console_raw")
    (folder / "subject.key").write_text(KEY.hex() + "\n")
    console = RawSite.start(folder, url, trust_folder(folder / "trust"),
                            extra=("--timezone", "UTC", "--subject-key", str(folder / "subject.key")))
    try:
        t = console.origin = time.time() - 3600
        console.add_user("mia", "manager", [HALL])
        console.add_user("tess", "tracer")
        console.add_user("root", "admin")
        console.kiosk("raw", HALL, [Scan(t, subject=RAW_ID)], name="Raw Gate")
        console.kiosk("keyed", HALL, [Scan(t + 60, subject=OTHER_REF)], name="Keyed Gate")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def test_a_managers_export_holds_the_reference_never_the_raw_id(site: ConsoleSite) -> None:
    mia = site.login("mia")
    for fmt in ("csv", "jsonl"):
        answer = mia.get(f"/export?format={fmt}&site={HALL}")
        assert answer.status_code == 200, answer.text[:300]
        assert REFERENCE in answer.text and RAW_ID not in answer.text, fmt
        assert OTHER_REF in answer.text, fmt  # a kiosk with the key: its references as they are


def test_an_admins_export_may_hold_the_raw_id(site: ConsoleSite) -> None:
    answer = site.login("root").get("/export?format=csv")  # an admin may trace (a tracer may not export)
    assert answer.status_code == 200, answer.text[:300]
    assert RAW_ID in answer.text and OTHER_REF in answer.text


def test_the_events_page_shows_a_manager_the_reference_and_a_tracer_the_id(site: ConsoleSite) -> None:
    page = site.login("mia").get(f"/events?site={HALL}")
    assert page.status_code == 200, page.text[:300]
    assert REFERENCE in page.text and RAW_ID not in page.text and OTHER_REF in page.text
    page = site.login("tess").get(f"/events?site={HALL}")
    assert RAW_ID in page.text and OTHER_REF in page.text
