"""The trust page (issue 14, "Trust (admin)"): an admin uploads trust.cose / status.cose; the collector checks
them against its pinned root (--trust-root) with the kiosk's own import rules (signature, signer, rollback)
before it publishes them (--trust-files) to the kiosks, which pull them with `kiosk sync`; a refused file is
said in one line and never published; the page shows what is published and how old it is.
"""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
from kiosk.issuer import KeyGrant, sign_bundle, sign_status_list
from tests.collector_process import head
from tests.console_web import ConsoleSite, Scan, csrf_of, kiosk_cli, trust_folder
from tests.factories import ISS, NOW, World, key, pub

pytestmark = pytest.mark.slow  # a collector process, a kiosk syncing with `kiosk sync`, argon2 hashes
JOY = "Joy City"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("trust")
    published, pinned = folder / "published", folder / "pinned"
    published.mkdir()
    (pinned / "roots").mkdir(parents=True)
    (pinned / "roots" / "root.pub").write_text(pub("root").hex() + "\n")  # the root the kiosks pin too
    console = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust_folder(folder / "kiosk-trust"),
                                extra=("--trust-files", str(published), "--trust-root", str(pinned)))
    try:
        console.add_user("root", "admin")
        console.add_user("mia", "manager", [JOY])
        console.kiosk("k1", JOY, [Scan(NOW, subject="a" * 32)], name="Gate 1")
        yield console
    finally:
        console.stop()


@pytest.fixture(autouse=True)
def closing_browsers(site: ConsoleSite) -> Iterator[None]:
    yield
    site.close_browsers()


def upload(client: httpx.Client, data: bytes, name: str = "trust.cose") -> httpx.Response:
    token = csrf_of(client.get("/trust").text)
    return client.post("/trust", data={"csrf_token": token}, files={"file": (name, data, "application/cose")})


def served(site: ConsoleSite, name: str) -> bytes | None:
    """What a kiosk pulling the collector's trust files gets now."""
    answer = httpx.get(f"{site.url}/v1/trust/{name}")
    return answer.content if answer.status_code == 200 else None


def message(page: str) -> str:
    found = re.findall(r'<p class="message [^"]*" role="[^"]*">([^<]*)</p>', page)
    assert found, "the page says nothing"
    return html.unescape(found[0])


def test_an_admin_publishes_a_bundle_and_a_status_list_the_kiosks_then_pull(site: ConsoleSite) -> None:
    root = site.login("root", language="en")
    page = root.get("/trust").text
    assert "No trust file is published yet" in page and served(site, "trust.cose") is None
    bundle = World().bundle_bytes(seq=2)
    answer = upload(root, bundle)
    assert answer.status_code == 200 and message(answer.text) == "Published the trust bundle (sequence 2)"
    assert served(site, "trust.cose") == bundle
    status = World(status_entries=[(bytes(16), 2, NOW - 60)]).status_bytes(seq=5)
    answer = upload(root, status, "status.cose")
    assert answer.status_code == 200 and "status list (sequence 5)" in message(answer.text)
    assert served(site, "status.cose") == status
    # What is published, its sequence, when issued and how old.
    row = re.search(r'<tr data-file="trust.cose">.*?</tr>', root.get("/trust").text, re.S)
    assert row and re.search(r'class="seq">2<', row.group(0)) and "2026-05-27" in row.group(0)
    assert re.search(r'class="age">\d+ d<', row.group(0)) and "4 issuer keys" in row.group(0)
    status_row = re.search(r'<tr data-file="status.cose">.*?</tr>', root.get("/trust").text, re.S)
    assert status_row and f"{ISS}: 1 entry" in status_row.group(0)
    # A kiosk syncing pulls the published bundle into its own trust directory.
    done = kiosk_cli("--config", str(site.config("k1")), "sync")
    assert done.returncode == 0, done.stderr
    assert (site.trust_dir / "trust.cose").read_bytes() == bundle
    assert (site.trust_dir / "status.cose").read_bytes() == status


def test_a_file_the_kiosks_would_refuse_is_refused_in_one_line_and_never_published(site: ConsoleSite) -> None:
    root = site.login("root", language="en")
    upload(root, World().bundle_bytes(seq=3))
    before = served(site, "trust.cose"), served(site, "status.cose")
    grants: list[KeyGrant] = []  # bundles with no issuer at all: what matters is who signed them
    for data, words in (
            (World().bundle_bytes(seq=1), "older than the installed seq 3 (rollback)"),
            (sign_bundle(key("root"), seq=3, iat=NOW, keys=grants), "installed already with different contents"),
            (sign_bundle(key("stranger"), seq=9, iat=NOW, keys=grants), "neither a pinned root"),
            (sign_status_list(key("stranger"), seq=9, iat=NOW, iss=ISS, entries=[]), "neither a pinned root"),
            (sign_status_list(key("beijing"), seq=9, iat=NOW, iss=ISS, entries=[]), "signed by a key of issuer"),
            (b"\x00garbage" * 10, "not a signed trust file"),
            (b"", "not a signed trust file")):
        answer = upload(root, data, "evil<b>.cose")
        said = message(answer.text)
        assert answer.status_code == 422 and said.startswith("Refused, not published: ") and words in said, said
        assert "\n" not in said and "evil<b>" not in answer.text
    assert (served(site, "trust.cose"), served(site, "status.cose")) == before
    same = upload(root, World().bundle_bytes(seq=3))
    assert same.status_code == 200 and "nothing changed" in message(same.text)
    with open_console_store(site.collector.db_url) as store:
        uploads = [e.details() for e in Trail(store).entries(limit=50) if e.action == "upload"]
    assert uploads[0]["outcome"] == "unchanged" and [u["outcome"] for u in uploads[1:8]] == ["refused"] * 7
    assert uploads[1]["problem"] and uploads[1]["file"] == "evil<b>.cose"


def test_an_oversized_upload_is_refused_before_it_is_read(site: ConsoleSite) -> None:
    root = site.login("root")
    token = csrf_of(root.get("/trust").text)
    cookie = "; ".join(f"{name}={value}" for name, value in root.cookies.items())
    port = int(site.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(port, {"Cookie": cookie, "X-CSRF-Token": token, "Content-Length": str(200 * 1024 * 1024),
                                 "Content-Type": "multipart/form-data; boundary=x"}, path="/trust"))
        status, _ = answer_of_text(sock)
    assert status == 413


def answer_of_text(sock: socket.socket) -> tuple[int, str]:
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split()[1]), data.decode("utf-8", "replace")


def test_only_admins_see_or_publish_trust_files(site: ConsoleSite) -> None:
    mia = site.login("mia")
    assert mia.get("/trust").status_code == 403
    token = csrf_of(mia.get("/").text)
    before = served(site, "trust.cose")
    answer = mia.post("/trust", data={"csrf_token": token}, files={"file": ("t.cose", World().bundle_bytes(seq=50))})
    assert answer.status_code == 403 and served(site, "trust.cose") == before
    anonymous = site.browser()
    assert anonymous.get("/trust").status_code == 303
    assert anonymous.post("/trust", files={"file": ("t.cose", World().bundle_bytes(seq=51))}).status_code == 303
    root = site.login("root")
    forged = root.post("/trust", data={"csrf_token": "forged"}, files={"file": ("t", World().bundle_bytes(seq=52))})
    assert forged.status_code == 403 and served(site, "trust.cose") == before


def test_without_a_pinned_root_the_page_says_so_and_publishes_nothing(tmp_path: Path) -> None:
    console = ConsoleSite.start(tmp_path, f"sqlite:///{tmp_path}/collector.db", trust_folder(tmp_path / "trust"),
                                extra=("--trust-files", str(tmp_path)))
    try:
        console.add_user("root", "admin")
        root = console.login("root", language="en")
        assert "Not set up" in root.get("/trust").text
        answer = upload(root, World().bundle_bytes(seq=1))
        assert answer.status_code == 409 and not (tmp_path / "trust.cose").exists()
    finally:
        console.stop()

