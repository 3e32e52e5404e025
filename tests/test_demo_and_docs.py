"""The built-in demo's queues and JSON lines; the README documents every command.

Every `kiosk demo` variant, run as a user runs it, is in tests/test_demo_variants.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kiosk.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_gives_every_person_the_expected_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 21  # 16 with PHC1 codes, 5 with EU certificates (HC1)
    reasons = {line["reason"] for line in lines}
    assert reasons >= {"ok", "status_amber", "status_red", "fever", "temperature_missing", "too_old",
                       "expired", "key_revoked", "unknown_key", "bad_signature", "not_health_code", "malformed"}
    assert {line["verdict"] for line in lines} == {"pass", "deny", "retry"}
    assert all(line["reason_en"] and line["reason_zh"] and line["source"] == "camera" for line in lines)


def _commands() -> list[str]:
    names = []
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            if nested:
                names += [f"kiosk {name} {child}" for child in nested[0].choices]
            else:
                names.append(f"kiosk {name}")
    return names


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = _commands()
    assert len(commands) >= 9
    missing = [c for c in commands if f"`{c}" not in readme]
    assert not missing, f"README lacks {missing}"


def test_readme_quick_start_has_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", quick, re.S)
    assert [b.strip() for b in blocks] == ["./run.sh demo", "./run.sh test"]
    assert "./run.sh test" in (ROOT / ".ci" / "run").read_text()


def test_readme_config_example_is_a_valid_config() -> None:
    from kiosk.config import parse_config

    readme = (ROOT / "README.md").read_text()
    example = re.findall(r"```toml\n(.*?)```", readme, re.S)
    assert len(example) == 1
    config = parse_config(example[0])
    assert config.thermometer is not None and config.thermometer.protocol == "gy906"
    assert config.scanner.camera == "0" and config.policy.fever_threshold == 37.3


def test_make_demo_keys_makes_what_the_demo_needs(tmp_path: Path) -> None:
    import stat

    from kiosk.demo import bus_queue, make_demo_keys, queue
    from kiosk.policy import Policy
    from kiosk.trustdir import load_trust_dir
    from kiosk.verdict import decide

    make_demo_keys(tmp_path / "demo")
    store = load_trust_dir(tmp_path / "demo")
    assert (len(store.bundle.keys), len(store.bundle.revoked), store.warnings) == (3, 1, ())
    assert store.status is not None and len(store.status) == 1
    assert stat.S_IMODE((tmp_path / "demo" / "private" / "tianjin.key").stat().st_mode) == 0o600
    import time

    now = time.time()
    door = list(queue(now, tmp_path / "demo"))
    for person in door:
        assert decide(person.text, store, Policy(require_temperature=True), person.reading, now).reason == \
            person.expected, person.who
    # A bus has no thermometer: the door's queue less those there for it, nobody measured, nothing required.
    thermometer = {"fever", "temperature_missing", "temperature_implausible"}
    bus = bus_queue(now, tmp_path / "demo")
    assert [p.who for p in bus] == [p.who for p in door if p.expected not in thermometer]
    for person in bus:
        assert person.reading is None and person.expected not in thermometer, person.who
        assert decide(person.text, store, Policy(), None, now).reason == person.expected, person.who
