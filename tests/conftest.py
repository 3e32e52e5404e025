import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.factories import World, pub


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own data folder (~/.local/share/kiosk): what the kiosk keeps there (the default audit log
    of `kiosk run`/`kiosk scan`, the trust refresh record, a default collector database) never lands in the
    home of whoever runs the tests, nor leaks between tests. Subprocesses inherit it."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))
    for variable in ("KIOSK_STATE_DIR", "KIOSK_COLLECTOR_DB", "KIOSK_AUDIT_LOG", "KIOSK_DEVICE_KEY"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def trust_dir(tmp_path: Path) -> Path:
    """A trust directory on disk: the test root pinned, the World's bundle installed."""
    folder = tmp_path / "trust"
    (folder / "roots").mkdir(parents=True)
    (folder / "roots" / "root.pub").write_text(pub("root").hex() + "\n")
    (folder / "trust.cose").write_bytes(World().bundle_bytes())
    return folder


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of an empty database on a throwaway PostgreSQL server, one per session (per xdist worker).

    Without PostgreSQL's binaries the tests that need it are skipped, or fail under CI
    (the CI variable set), where ./run.sh test installs them and their absence is a bug.
    """
    import os

    from tests.pg_server import PostgresMissing, postgres_server

    try:
        with postgres_server() as url:
            yield url
    except PostgresMissing as err:  # raised on the way in, before anything was yielded
        if os.environ.get("CI"):
            pytest.fail(str(err))
        pytest.skip(str(err))


@contextmanager
def made_read_only(folder: Path) -> Iterator[Path]:
    """`folder` (made here) as one nobody can write to, root included: a read-only tmpfs as root (root ignores
    0555), else 0555.

    No silent fallback: where root cannot mount, the test fails and says why, rather than
    testing a folder that root can write to after all.
    """
    import subprocess

    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "kiosk-test-ro", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"as root a read-only folder needs a read-only mount, and mount failed: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    with made_read_only(tmp_path / "read-only") as folder:
        yield folder
