from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import World, pub


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
