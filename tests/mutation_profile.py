"""A pytest plugin for the mutation run only (pyproject.toml [tool.mutmut] loads it with -p).

Every surviving mutant runs all the tests that reach it, so the property tests' hundreds of
examples would make one run last hours. Here each Hypothesis test gets at most
KIOSK_MUTATION_EXAMPLES examples (default 60), drawn the same way every run (derandomize):
a mutant then survives or dies the same way each time. ./run.sh test never loads this.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

EXAMPLES = int(os.environ.get("KIOSK_MUTATION_EXAMPLES", "60"))
settings.register_profile("mutation", max_examples=EXAMPLES, derandomize=True, database=None, deadline=None)
settings.load_profile("mutation")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test's own @settings(max_examples=...) outranks any profile, so cap it on the test itself.
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None:
            test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                own, max_examples=min(own.max_examples, EXAMPLES), derandomize=True, database=None)
