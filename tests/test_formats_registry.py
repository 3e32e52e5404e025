"""The format registry (issue 15, "Format"): a text's prefix picks its format; the rest of the pipeline is shared.

"Adding a third format later (SMART Health Cards `shc:/`, for example) must be one module": the fake format
below is that module's worth (a name, a prefix, its checks), registered with one line, and everything after
its checks (the temperature rules, the JSON line, the audit event, the screen) works for it unchanged.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from kiosk.audit.events import scan_event
from kiosk.checkpoint.view import verdict_view
from kiosk.formats import registry
from kiosk.formats.credential import Checked, Credential
from kiosk.policy import Policy
from kiosk.trust import TrustStore
from kiosk.verdict import Reading, decide, decide_strict
from tests.factories import NOW, World, code
from tests.test_owner_sources import cycles, imports_of

ROOT = Path(__file__).resolve().parents[1]
STORE = World().store()


# -- a third format, in one module's worth ---------------------------------------------------------------------------

class SmartHealthCard:
    """`shc:/good` is a genuine card, `shc:/old` an expired one, anything else under the prefix unreadable."""

    name = "shc"
    prefix = "shc:/"

    def check(self, text: str, trust: TrustStore, policy: Policy, now: float) -> Checked:
        card = Credential("shc", "https://spec.smarthealth.cards/issuer", int(now) - 60, int(now) + 3600,
                          b"\x07" * 16, None, "immunization", "S**** ****", None)
        if text == "shc:/good":
            return Checked(None, b"shc-kid1", card)
        if text == "shc:/old":
            return Checked("expired", b"shc-kid1", card)
        return Checked("malformed")


@pytest.fixture
def third(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "FORMATS", (*registry.FORMATS, SmartHealthCard()))  # the one line


def test_a_text_with_no_registered_prefix_is_no_health_code() -> None:
    assert decide("shc:/good", STORE, Policy(), None, NOW).reason == "not_health_code"


def test_a_third_format_is_routed_by_its_prefix_and_gets_the_shared_rest(third: None) -> None:
    passed = decide_strict("shc:/good", STORE, Policy(), Reading(36.6, NOW - 0.5), NOW)
    assert (passed.reason, passed.format) == ("ok", "shc")
    assert decide_strict("shc:/good", STORE, Policy(), Reading(38.5, NOW - 0.5), NOW).reason == "fever"
    assert decide_strict("shc:/good", STORE, Policy(require_temperature=True), None, NOW).reason == \
        "temperature_missing"
    assert decide_strict("shc:/old", STORE, Policy(), None, NOW).reason == "expired"
    assert decide_strict("shc:/%%", STORE, Policy(), None, NOW).reason == "malformed"
    shown = passed.as_json()
    assert (shown["format"], shown["iss"], shown["subject"], shown["name"], shown["kid"]) == \
        ("shc", "https://spec.smarthealth.cards/issuer", "07" * 16, "S**** ****", b"shc-kid1".hex())
    assert json.loads(json.dumps(shown)) == shown  # prints
    event = scan_event(passed, at=NOW, secret=None, event_id="01J00000000000000000000SHC")
    assert (event.code_kind, event.details, event.subject_ref) == ("immunization", {"format": "shc"}, "07" * 16)
    assert verdict_view(passed, at=NOW, hold=3.0).name == "S**** ****"
    # The formats already there are untouched by the newcomer.
    assert decide_strict(code(), STORE, Policy(), None, NOW).format == "phc1"
    assert decide_strict("HC1:%%", STORE, Policy(), None, NOW).format == "hc1"


@pytest.mark.parametrize(("text", "name"), [
    ("PHC1:anything", "phc1"), ("HC1:anything", "hc1"), ("HC1:", "hc1"), ("hc1:x", None), ("phc1:x", None),
    (" HC1:x", None), ("HC2:x", None), ("HL0:x", None), ("", None), (b"HC1:x", None), (None, None),
])
def test_format_of_reads_the_prefix_exactly(text: object, name: str | None) -> None:
    found = registry.format_of(text)
    assert (found.name if found else None) == name


def test_no_prefix_starts_another_and_names_are_unique() -> None:
    """Else a text would belong to two formats, and the order of FORMATS would decide silently."""
    formats = registry.FORMATS
    assert len({f.name for f in formats}) == len(formats) == 2
    assert [f.prefix for f in formats] == ["PHC1:", "HC1:"]
    for a in formats:
        assert not [b.name for b in formats if b is not a and b.prefix.startswith(a.prefix)], a.name


# -- the shape of the code: pure, no cycles, short modules --------------------------------------------------------

CORE = ["kiosk.verdict", "kiosk.policy", "kiosk.formats.registry", "kiosk.formats.credential", "kiosk.formats.phc1",
        "kiosk.formats.hc1_checks", "kiosk.formats.hc1_rules"]
IMPURE = {"cv2", "serial", "kivy", "sqlite3", "socket", "http", "httpx", "urllib", "numpy", "requests",
          "psycopg", "starlette", "uvicorn", "zxingcpp", "pyzbar"}


def external_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_verdict_pipeline_is_pure_short_and_in_no_import_cycle() -> None:
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts): p for p in (ROOT / "kiosk").rglob("*.py")
             if p.name != "__init__.py"}
    graph = {module: imports_of(path, set(files)) - {module} for module, path in files.items()}
    assert graph["kiosk.verdict"] >= {"kiosk.formats.registry"}  # the reader sees what it must
    assert [sorted(group) for group in cycles(graph) if set(CORE) & group] == []
    for module in CORE:
        path = files[module]
        assert not external_imports(path) & IMPURE, module
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, module
