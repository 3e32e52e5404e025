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
    ("[policy]\nmax_agee = 1\n", "[policy] unknown setting(s): max_agee"),
    ("[policy]\nskew = -1\n", "[policy] skew = -1: expected a number of seconds, 0 or more"),
    ("[policy]\nskew = true\n", "skew = true: expected a number"),
    ("[policy]\nfever_threshold = 'hot'\n", 'fever_threshold = "hot": expected a temperature'),
    ("[policy]\nplausible_min = 44\n", "plausible_min = 44: expected a temperature at most plausible_max"),
    ("[policy]\naccept_printed = 1\n", "accept_printed = 1: expected true or false"),
    ("[trust]\npath = 'x'\n", "[trust] unknown setting(s): path; expected one of: dir, warn_hours, alarm_hours"),
    ("policy = 3\n", "policy = 3: expected a [policy] table"),
    ("[trust]\nwarn_hours = 0\n", "[trust] warn_hours = 0: expected hours above 0"),
    ("[trust]\nwarn_hours = 80\n", "warn_hours = 80: expected hours <= alarm_hours"),
    ("[trust]\nalarm_hours = 'long'\n", 'alarm_hours = "long": expected a number'),
    ("[sync]\nbatch = 10\n", '[sync] needs url = "https://..."'),
    ("[sync]\nurl = 'ftp://x'\n", '[sync] url = "ftp://x": expected'),
    ("[sync]\nurl = 'http://x'\nbatch = 0\n", "[sync] batch = 0: expected 1 to 5000 events"),
    ("[sync]\nurl = 'http://x'\ntimeout = 0\n", "[sync] timeout = 0: expected seconds above 0"),
    ("[sync]\nurl = 'http://x'\ntrust_pull = 1\n", "[sync] trust_pull = 1: expected true or false"),
    ("[sync]\nurl = 'http://x'\nurl2 = 1\n", "[sync] unknown setting(s): url2"),
    ("sync = 1\n", "sync = 1: expected a [sync] table"),
])
def test_bad_config_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_config(text, Path("/etc/kiosk.toml"))
    assert message in str(caught.value)
    assert str(caught.value).startswith("/etc/kiosk.toml: ")


def test_unreadable_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.toml")


def test_sync_and_trust_age_settings_are_read_with_paths_relative_to_the_file() -> None:
    config = parse_config("[trust]\nwarn_hours = 12\nalarm_hours = 48.5\n[sync]\nurl = 'https://c.example:8443'\n"
                          "device_key = 'keys/device.key'\nca_file = '/etc/ca.pem'\nbatch = 200\ninterval = 30\n"
                          "clock_warn = 60\n", Path("/etc/kiosk/kiosk.toml"))
    assert config.sync is not None and config.sync.url == "https://c.example:8443" and config.sync.batch == 200
    assert config.sync.device_key == Path("/etc/kiosk/keys/device.key") and config.sync.ca_file == Path("/etc/ca.pem")
    assert (config.limits.trust_warn, config.limits.trust_alarm, config.limits.clock_warn) == (12 * 3600.0,
                                                                                               48.5 * 3600.0, 60.0)
    defaults = parse_config("")
    assert defaults.sync is None and (defaults.limits.trust_warn, defaults.limits.trust_alarm) == (86400.0, 259200.0)
