import pytest

from tests.factories import World


@pytest.fixture
def world() -> World:
    return World()
