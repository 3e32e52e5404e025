"""An export streams (issue 14: "streamed (memory does not grow with the rows)"): a 200,000-row CSV from a real
`kiosk collector serve` goes out while the server's resident memory stays a few MB above where it was, far
below the size of the file it sends. The events are bulk-loaded through the store (as the benchmark loads its
millions); a kiosk's own sync path is covered by the other console tests.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator

import pytest

from kiosk.audit.events import GENESIS, Event, chain_hash, new_id
from kiosk.console.console_db import open_console_store
from kiosk.console.trail import Trail
from kiosk.sync.protocol import Batch, Linked
from tests.collector_process import peak_growth
from tests.console_web import ConsoleSite, trust_folder

pytestmark = pytest.mark.slow  # 200,000 events loaded, then exported
ROWS = 200_000
BATCH = 5_000
LIMIT = 16 * 1024 * 1024  # bytes the server may grow by while it sends the file (about 40 MB)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("export-stream")
    console = ConsoleSite.start(folder, f"sqlite:///{folder}/collector.db", trust_folder(folder / "trust"),
                                extra=("--timezone", "UTC"))
    try:
        console.add_user("root", "admin")
        kiosk = console.kiosk("k1", "Joy City", [], name="Gate 1")
        rng, prev, start = random.Random(14), GENESIS, time.time() - ROWS
        with console.collector.store() as store:
            for first in range(0, ROWS, BATCH):
                linked = []
                for at in range(first, first + BATCH):
                    event = Event(new_id(start + at, rng.randbytes(10)), start + at, "scan", "Joy City", "A1", "k1",
                                  "pass", "ok", "green", "dynamic", "9f2c4a1be0d37a55", "CN-120000",
                                  int(start + at) - 30, rng.randbytes(16).hex(), 36.5)
                    linked.append(Linked(event, prev))
                    prev = chain_hash(prev, event)
                store.ingest(Batch(kiosk.identity.id, start + first, os.urandom(16).hex(), linked, os.urandom(32)),
                             time.time())
        yield console
    finally:
        console.stop()


def test_a_large_csv_streams_in_constant_memory(site: ConsoleSite) -> None:
    root = site.login("root")
    assert root.get("/export?format=csv&since=2999-01-01").status_code == 200  # every code path loaded once
    sent = {"bytes": 0, "lines": 0}

    def download() -> None:
        with root.stream("GET", "/export?format=csv") as answer:
            assert answer.status_code == 200 and "content-length" not in answer.headers
            for chunk in answer.iter_bytes():
                sent["bytes"] += len(chunk)
                sent["lines"] += chunk.count(b"\n")

    growth = peak_growth(site.collector.process.pid, download)
    assert sent["lines"] == ROWS + 1  # the header and every row
    assert sent["bytes"] > 2.5 * LIMIT and growth < LIMIT, (sent, growth)


def test_an_export_left_half_way_is_in_the_trail_as_incomplete(site: ConsoleSite) -> None:
    root = site.login("root")
    with root.stream("GET", "/export?format=csv&language=en") as answer:
        first = next(answer.iter_bytes())
        assert first.startswith("\ufefftime,".encode())
    root.close()  # the browser went away with the file half read
    for _ in range(100):
        with open_console_store(site.collector.db_url) as store:
            entry = Trail(store).entries(limit=1)[0]
        if entry.action == "export" and entry.details()["language"] == "en":
            break
        time.sleep(0.1)
    detail = entry.details()
    assert entry.actor == "root" and detail["complete"] is False and 0 < detail["rows"] < ROWS
