"""Trust files down from a real collector process: installed with exactly the rules of `kiosk trust import`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.errors import SyncUnavailable
from kiosk.sync.transport import HttpTransport
from kiosk.sync.trust_pull import pull_trust
from kiosk.trustdir import REFRESHED, load_trust_dir, mark_refreshed, refresh_record, refreshed_at
from tests.collector_process import CollectorProcess, free_port
from tests.factories import World

NOW = time.time()


@pytest.fixture
def published(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir()
    return folder


@pytest.fixture
def collector(tmp_path: Path, published: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(f"sqlite:///{tmp_path}/c.db", tmp_path, trust_files=published)
    yield process
    process.stop()


@pytest.fixture
def transport(collector: CollectorProcess) -> Iterator[HttpTransport]:
    made = HttpTransport(collector.url, timeout=5)
    yield made
    made.close()


def test_a_newer_bundle_and_status_list_are_installed_and_the_refresh_recorded(
        published: Path, trust_dir: Path, transport: HttpTransport) -> None:
    world = World(status_entries=[])
    (published / "trust.cose").write_bytes(world.bundle_bytes(seq=2))
    (published / "status.cose").write_bytes(world.status_bytes(seq=5))
    pulled = pull_trust(transport, trust_dir, NOW)
    assert [(i.kind, i.seq) for i in pulled.installed] == [("trust bundle", 2), ("status list", 5)]
    assert pulled.refused == [] and pulled.refreshed and refreshed_at(trust_dir) == NOW
    store = load_trust_dir(trust_dir)
    assert store.bundle.seq == 2 and store.status is not None and store.status.seq == 5
    again = pull_trust(transport, trust_dir, NOW + 60)
    assert again.installed == [] and again.current == ["trust.cose", "status.cose"]  # 304: not downloaded
    assert refreshed_at(trust_dir) == NOW + 60


def test_a_rollback_served_by_the_collector_is_refused_and_not_a_refresh(
        published: Path, trust_dir: Path, transport: HttpTransport) -> None:
    (published / "trust.cose").write_bytes(World().bundle_bytes(seq=3))
    pull_trust(transport, trust_dir, NOW)
    (published / "trust.cose").write_bytes(World().bundle_bytes(seq=2))
    pulled = pull_trust(transport, trust_dir, NOW + 3600)
    assert pulled.installed == [] and not pulled.refreshed and "rollback" in pulled.refused[0]
    assert load_trust_dir(trust_dir).bundle.seq == 3 and refreshed_at(trust_dir) == NOW


@pytest.mark.parametrize("damage", [
    lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # the signature
    lambda data: data[:40] + bytes([data[40] ^ 1]) + data[41:],  # the payload
    lambda data: b"garbage",
    lambda data: b"",
])
def test_a_tampered_or_broken_file_is_refused_and_the_installed_one_kept(
        damage: object, published: Path, trust_dir: Path, transport: HttpTransport) -> None:
    before = (trust_dir / "trust.cose").read_bytes()
    (published / "trust.cose").write_bytes(damage(World().bundle_bytes(seq=9)))  # type: ignore[operator]
    pulled = pull_trust(transport, trust_dir, NOW)
    assert pulled.installed == [] and len(pulled.refused) == 1 and not pulled.refreshed
    assert (trust_dir / "trust.cose").read_bytes() == before


def test_a_bundle_signed_by_another_root_is_refused(published: Path, trust_dir: Path,
                                                    transport: HttpTransport) -> None:
    from kiosk.issuer import sign_bundle
    from tests.factories import key

    (published / "trust.cose").write_bytes(sign_bundle(key("not the root"), seq=10, iat=int(NOW), keys=[],
                                                       revoked=[]))
    pulled = pull_trust(transport, trust_dir, NOW)
    assert pulled.installed == [] and pulled.refused and load_trust_dir(trust_dir).bundle.seq == 1


def test_nothing_published_is_not_a_refresh(trust_dir: Path, transport: HttpTransport) -> None:
    pulled = pull_trust(transport, trust_dir, NOW)
    assert pulled.installed == pulled.current == pulled.refused == [] and not pulled.refreshed
    assert not refresh_record(trust_dir).exists()


def test_the_same_bundle_as_installed_is_current_and_a_refresh(published: Path, trust_dir: Path,
                                                               transport: HttpTransport) -> None:
    (published / "trust.cose").write_bytes((trust_dir / "trust.cose").read_bytes())
    pulled = pull_trust(transport, trust_dir, NOW)
    assert pulled.current == ["trust.cose"] and pulled.refreshed


def test_a_collector_that_is_down_raises_sync_unavailable(trust_dir: Path) -> None:
    transport = HttpTransport(f"http://127.0.0.1:{free_port()}", timeout=2)
    try:
        with pytest.raises(SyncUnavailable, match="cannot reach"):
            pull_trust(transport, trust_dir, NOW)
    finally:
        transport.close()


def test_the_refresh_is_recorded_in_the_data_folder_never_in_the_trust_directory(
        published: Path, trust_dir: Path, transport: HttpTransport, tmp_path: Path) -> None:
    (published / "trust.cose").write_bytes((trust_dir / "trust.cose").read_bytes())
    before = sorted(p.name for p in trust_dir.iterdir())
    assert pull_trust(transport, trust_dir, NOW).refreshed
    assert sorted(p.name for p in trust_dir.iterdir()) == before
    record = refresh_record(trust_dir)
    assert record.is_relative_to(Path(os.environ["XDG_DATA_HOME"]) / "kiosk" / "state") and record.is_file()
    # The same trust directory by another path (a link, as keys/demo is) has the same record.
    (tmp_path / "link").symlink_to(trust_dir)
    assert refresh_record(tmp_path / "link") == record and refreshed_at(tmp_path / "link") == NOW


def test_the_age_falls_back_to_an_old_record_then_the_install_time_and_a_damaged_record_is_ignored(
        trust_dir: Path) -> None:
    installed = (trust_dir / "trust.cose").stat().st_mtime
    assert refreshed_at(trust_dir) == installed
    (trust_dir / REFRESHED).write_text('{"at": %r, "how": "sync"}' % (NOW - 7200))  # left by an older version
    assert refreshed_at(trust_dir) == NOW - 7200
    mark_refreshed(trust_dir, NOW, "sync")
    assert refreshed_at(trust_dir) == NOW  # the record in the data folder wins
    refresh_record(trust_dir).write_text("{not json")
    (trust_dir / REFRESHED).write_text('{"at": "yesterday"}')
    assert refreshed_at(trust_dir) == installed
    (trust_dir / REFRESHED).write_text("[" * 4000)  # deeper than json can nest, within the 4 KiB cap
    assert refreshed_at(trust_dir) == installed
    (trust_dir / "trust.cose").unlink()
    assert refreshed_at(trust_dir) is None


def test_a_trust_directory_that_cannot_take_a_new_file_is_a_refusal_not_a_crash(
        published: Path, trust_dir: Path, transport: HttpTransport, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(path: Path, data: bytes, mode: int = 0o644) -> None:
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr("kiosk.trustdir.write_atomically", read_only)
    (published / "trust.cose").write_bytes(World().bundle_bytes(seq=2))
    pulled = pull_trust(transport, trust_dir, NOW)
    assert pulled.installed == [] and not pulled.refreshed and load_trust_dir(trust_dir).bundle.seq == 1
    assert pulled.refused == [f"trust.cose from the collector: cannot install it in {trust_dir}: Read-only file system"]
