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
