"""The TOML configuration and the policy it sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import Config, default_trust_dir, load_config, parse_config
from kiosk.errors import ConfigError
from kiosk.policy import Policy


def test_no_file_gives_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    assert load_config(None) == Config()


def test_every_policy_setting_is_read(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("""
[trust]
dir = "trust"
[policy]
skew = 30
max_age = 60.5
accept_printed = false
require_temperature = true
fever_threshold = 37.5
plausible_min = 35
plausible_max = 42
reading_window = 2
""")
    config = load_config(path)
    assert config.trust_dir == tmp_path / "trust"  # relative to the file
    assert config.policy == Policy(skew=30, max_age=60.5, accept_printed=False, require_temperature=True,
                                   fever_threshold=37.5, plausible_min=35, plausible_max=42, reading_window=2)


def test_kiosk_config_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.toml"
    path.write_text("[policy]\nmax_age = 10\n")
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    assert load_config(None).policy.max_age == 10


def test_default_trust_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_TRUST_DIR", "/srv/trust")
    assert default_trust_dir() == Path("/srv/trust")
    monkeypatch.delenv("KIOSK_TRUST_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert default_trust_dir() == Path("/data/kiosk/trust")


@pytest.mark.parametrize(("text", "message"), [
    ("[policy\n", "not valid TOML"),
    ("[polcy]\nskew = 1\n", "unknown section(s): polcy"),
    ("[policy]\nmax_agee = 1\n", "unknown policy setting(s): max_agee"),
    ("[policy]\nskew = -1\n", "skew must be a number of seconds >= 0"),
    ("[policy]\nskew = true\n", "skew must be a number"),
    ("[policy]\nfever_threshold = 'hot'\n", "fever_threshold must be a temperature"),
    ("[policy]\nplausible_min = 44\n", "plausible_min is above plausible_max"),
    ("[policy]\naccept_printed = 1\n", "accept_printed must be true or false"),
    ("[trust]\npath = 'x'\n", "[trust] takes only dir"),
    ("policy = 3\n", "[policy] must be a table"),
])
def test_bad_config_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_config(text, Path("/etc/kiosk.toml"))
    assert message in str(caught.value)
    assert str(caught.value).startswith("/etc/kiosk.toml: ")


def test_unreadable_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.toml")
