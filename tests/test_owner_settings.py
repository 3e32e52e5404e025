"""Issue 13, section 2 item 10: every setting is declared once (kiosk/settings_table.py), and what is declared
is what the parsers, the admin screen and the README apply.

The expected values are this file's own: the defaults and ranges the README and
the spec (section 5) state, and the fever threshold's range at the kiosk,
36.0 to 40.0 °C. A declaration changed here on purpose (monkeypatch) must move
what the parser does, so a parser that keeps a number of its own fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.audit.settings import LogConfig, parse_log
from kiosk.checkpoint.admin import EDITABLE, Admin
from kiosk.checkpoint.settings import KioskSettings, SignalSettings, parse_kiosk, parse_signal
from kiosk.config import Config, parse_config
from kiosk.devices_config import ScannerConfig, ThermometerConfig, parse_scanner, parse_thermometer
from kiosk.errors import ConfigError
from kiosk.policy import Policy
from kiosk.settings_model import AdminControl
from kiosk.settings_readme import in_readme, markdown
from kiosk.settings_table import SECTIONS, admin_controls, setting
from kiosk.sync.health import Limits
from kiosk.sync.settings import SyncConfig, parse_sync
from kiosk.tables import check_section
from kiosk.thermometer.compensation import Compensation
from kiosk.ui import texts
from tests.test_admin import admin, checkpoint, media, recorder  # noqa: F401 - fixtures
from tests.test_ui import PIN, Door, door  # noqa: F401 - the real Kivy app through a real checkpoint

ROOT = Path(__file__).resolve().parents[1]
FILE = Path("/etc/kiosk/kiosk.toml")


def redeclare(monkeypatch: pytest.MonkeyPatch, section: str, key: str, **changes: Any) -> None:
    """Change one declaration for this test: `[section] key`, or `compensation.offset` inside [thermometer]."""
    outer, _, inner = key.partition(".")
    declared = SECTIONS[section].settings[outer]
    if inner:
        within = tuple(s._replace(**changes) if s.key == inner else s for s in declared.within)
        monkeypatch.setitem(SECTIONS[section].settings, outer, declared._replace(within=within))
    else:
        monkeypatch.setitem(SECTIONS[section].settings, outer, declared._replace(**changes))


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE)
    return str(caught.value).removeprefix(f"{FILE}: ")


# -- a declared range reaches the parser ------------------------------------------------------------------------

# (section, key, the declaration's change, a config that holds before it and is refused after, the refusal)
RANGES = [
    ("trust", "warn_hours", {"low": 1}, "[trust]\nwarn_hours = 0.5\n",
     "[trust] warn_hours = 0.5: expected hours above 1"),
    ("policy", "reading_window", {"low": 1}, "[policy]\nreading_window = 0.5\n",
     "[policy] reading_window = 0.5: expected a number of seconds, 1 or more"),
    ("thermometer", "interval", {"low": 0.05}, '[thermometer]\nprotocol = "gy906"\nport = "x"\ninterval = 0.01\n',
     "[thermometer] interval = 0.01: expected a number 0.05 or more"),
    ("scanner", "holdoff", {"low": 1}, "[scanner]\nholdoff = 0.5\n",
     "[scanner] holdoff = 0.5: expected a number 1 or more"),
    ("log", "retention_days", {"low": 7}, '[log]\npath = "a.db"\nretention_days = 3\n',
     "[log] retention_days = 3: expected days above 7"),
    ("sync", "timeout", {"low": 1}, '[sync]\nurl = "http://x"\ntimeout = 1\n',
     "[sync] timeout = 1: expected seconds above 1"),
    ("sync", "batch", {"high": 100}, '[sync]\nurl = "http://x"\nbatch = 200\n',
     "[sync] batch = 200: expected 1 to 100 events"),
    ("kiosk", "verdict_seconds", {"high": 30}, "[kiosk]\nverdict_seconds = 45\n",
     "[kiosk] verdict_seconds = 45: expected seconds between 0.3 and 30"),
    ("kiosk", "lockout_attempts", {"low": 3}, "[kiosk]\nlockout_attempts = 2\n",
     "[kiosk] lockout_attempts = 2: expected 3 or more wrong PINs"),
    ("kiosk", "mode", {"choices": ("door",)}, '[kiosk]\nmode = "bus"\n', '[kiosk] mode = "bus": expected "door"'),
    ("signal", "on_pass", {"nonempty": False}, '[signal]\nport = "x"\non_pass = ""\n', None),
]


@pytest.mark.parametrize(("section", "key", "change", "text", "refused"), RANGES,
                         ids=[f"{r[0]}.{r[1]}" for r in RANGES])
def test_a_declared_range_is_the_one_the_parser_keeps(monkeypatch: pytest.MonkeyPatch, section: str, key: str,
                                                      change: dict[str, Any], text: str, refused: str | None) -> None:
    if refused is None:  # a check taken away: what was refused now holds
        with pytest.raises(ConfigError):
            parse_config(text, FILE)
        redeclare(monkeypatch, section, key, **change)
        assert parse_config(text, FILE).signal == SignalSettings("x", 9600, b"")
        return
    parse_config(text, FILE)  # holds as declared today
    redeclare(monkeypatch, section, key, **change)
    assert error(text) == refused


# The ends of the ranges the README states: (config, holds). "0.3 to 60" holds both ends; "above 0" not 0.
ENDS = [("[kiosk]\nverdict_seconds = 0.3\n", True), ("[kiosk]\nverdict_seconds = 60\n", True),
        ("[kiosk]\nverdict_seconds = 0.29\n", False), ("[kiosk]\nverdict_seconds = 60.01\n", False),
        ("[kiosk]\nreading_wait = 0\n", True), ("[kiosk]\nreading_wait = 10\n", True),
        ("[kiosk]\nreading_wait = 10.01\n", False), ("[kiosk]\nlockout_attempts = 1\n", True),
        ("[kiosk]\nlockout_attempts = 0\n", False), ("[kiosk]\nlockout_seconds = 0.1\n", True),
        ("[kiosk]\nlockout_seconds = 0\n", False),
        ('[sync]\nurl = "http://x"\nbatch = 1\n', True), ('[sync]\nurl = "http://x"\nbatch = 5000\n', True),
        ('[sync]\nurl = "http://x"\nbatch = 5001\n', False), ('[sync]\nurl = "http://x"\ninterval = 0\n', False),
        ("[trust]\nwarn_hours = 0.01\n", True), ("[trust]\nalarm_hours = 999999\n", True),
        ("[trust]\nalarm_hours = 1000000\n", False), ("[scanner]\nholdoff = 0\n", True),
        ("[scanner]\nidle_fps = 0.01\n", True), ("[scanner]\nwidth = -1\n", False),
        ("[policy]\nskew = 0\n", True), ("[policy]\nmax_age = -0.01\n", False),
        ('[log]\npath = "a.db"\nretention_days = 0.5\n', True), ('[log]\npath = "a.db"\nretention_days = 0\n', False),
        ('[signal]\nport = "x"\non_pass = "\\n"\n', True), ('[signal]\nport = ""\n', False)]


@pytest.mark.parametrize(("text", "holds"), ENDS, ids=[t.replace("\n", " ").strip() for t, _ in ENDS])
def test_the_ends_of_each_range(text: str, holds: bool) -> None:
    if holds:
        parse_config(text, FILE)
    else:
        assert error(text).startswith("[")  # one line naming the setting


def test_a_policy_made_in_code_keeps_the_declared_range_too(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Policy(reading_window=0.5).reading_window == 0.5
    redeclare(monkeypatch, "policy", "reading_window", low=1)
    with pytest.raises(ConfigError) as caught:
        Policy(reading_window=0.5)
    assert str(caught.value) == "[policy] reading_window = 0.5: expected a number of seconds, 1 or more"


# -- a declared default reaches the parser ----------------------------------------------------------------------

# (section, key, the new default, a config, what the parsed config then holds)
DEFAULTS: list[tuple[str, str, Any, str, Callable[[Config], object], object]] = [
    ("trust", "alarm_hours", 48, "", lambda c: c.limits.trust_alarm, 48 * 3600.0),
    ("policy", "fever_threshold", 37.5, "", lambda c: c.policy.fever_threshold, 37.5),
    ("thermometer", "compensation.offset", 1.0, '[thermometer]\nprotocol = "gy906"\nport = "x"\n',
     lambda c: c.thermometer and c.thermometer.compensation.offset, 1.0),
    ("thermometer", "interval", 0.5, '[thermometer]\nprotocol = "gy906"\nport = "x"\n',
     lambda c: c.thermometer and c.thermometer.interval, 0.5),
    ("scanner", "holdoff", 2.0, "", lambda c: c.scanner.holdoff, 2.0),
    ("log", "retention_days", 14, '[log]\npath = "a.db"\n', lambda c: c.log and c.log.retention_days, 14.0),
    ("sync", "batch", 100, '[sync]\nurl = "http://x"\n', lambda c: c.sync and c.sync.batch, 100),
    ("sync", "clock_warn", 30.0, '[sync]\nurl = "http://x"\n', lambda c: c.limits.clock_warn, 30.0),
    ("sync", "clock_warn", 30.0, "", lambda c: c.limits.clock_warn, 30.0),  # no [sync]: still the status bar's
    ("kiosk", "verdict_seconds", 4.0, "", lambda c: c.kiosk.verdict_seconds, 4.0),
    ("kiosk", "lockout_attempts", 7, "", lambda c: c.kiosk.lockout_attempts, 7),
    ("signal", "on_pass", "GO\n", '[signal]\nport = "x"\n', lambda c: c.signal and c.signal.on_pass, b"GO\n"),
]


@pytest.mark.parametrize(("section", "key", "new", "text", "read", "expected"), DEFAULTS,
                         ids=[f"{d[0]}.{d[1]}{'' if d[3] else ' (no section)'}" for d in DEFAULTS])
def test_a_declared_default_is_the_one_the_parser_fills_in(monkeypatch: pytest.MonkeyPatch, section: str, key: str,
                                                          new: object, text: str, read: Callable[[Config], object],
                                                          expected: object) -> None:
    assert read(parse_config(text, FILE)) != expected
    redeclare(monkeypatch, section, key, default=new)
    assert read(parse_config(text, FILE)) == expected


def test_a_bus_has_its_own_declared_verdict_time(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_config('[kiosk]\nmode = "bus"\n').kiosk.verdict_seconds == 1.5
    assert parse_config('[kiosk]\nmode = "bus"\nverdict_seconds = 2\n').kiosk.verdict_seconds == 2.0
    redeclare(monkeypatch, "kiosk", "verdict_seconds", bus_default=1.0)
    assert parse_config('[kiosk]\nmode = "bus"\n').kiosk.verdict_seconds == 1.0


# -- the defaults the README and the spec state, whether read from a file or made in code ------------------------

def test_the_defaults_are_the_ones_the_readme_states() -> None:
    spec = Policy(skew=120, max_age=300, accept_printed=True, require_temperature=False, fever_threshold=37.3,
                  plausible_min=34.0, plausible_max=43.0, reading_window=3.0)
    assert Policy() == parse_config("").policy == spec
    door_kiosk = KioskSettings("door", "", 3.0, True, True, "zh", None, 5, 300.0, 1.5)
    assert KioskSettings() == parse_kiosk({}) == door_kiosk
    assert ScannerConfig() == parse_scanner({}) == ScannerConfig(None, None, None, None, None, 9600, 5.0, 10.0, 5.0)
    assert Limits() == parse_config("").limits == Limits(24 * 3600.0, 72 * 3600.0, 120.0)
    assert Compensation() == Compensation(2.5, 0.0, 25.0)
    assert ThermometerConfig("gy906", "x") == parse_thermometer({"protocol": "gy906", "port": "x"}) == \
        ThermometerConfig("gy906", "x", 9600, 0.1, {}, Compensation(2.5, 0.0, 25.0))
    assert LogConfig(Path("/a.db")) == parse_log({"path": "/a.db"}, None) == \
        LogConfig(Path("/a.db"), "", "", "", None, False, 28.0, "continue", "zh", ("name", "phone", "id_last4"), "")
    assert SyncConfig("http://x") == parse_sync({"url": "http://x"}, None) == \
        SyncConfig("http://x", None, None, 500, 60.0, 10.0, True, 3600.0, 120.0)
    assert SignalSettings("x") == parse_signal({"port": "x"}) == SignalSettings("x", 9600, b"OPEN\r\n")


def test_a_parsed_default_is_never_shared() -> None:
    first = parse_log({"path": "a.db"}, None)
    parse_thermometer({"protocol": "gy906", "port": "x"}).options["changed"] = True  # type: ignore[index]
    assert first.manual_fields == ("name", "phone", "id_last4")
    assert setting("thermometer", "options").default == {} and setting("log", "manual_fields").default == \
        ["name", "phone", "id_last4"]


def test_every_declared_default_passes_its_own_declaration() -> None:
    for section in SECTIONS.values():
        given = {key: s.default for key, s in section.settings.items() if s.default is not None}
        required = {key: "x" for key, s in section.settings.items() if s.required and not s.choices}
        required |= {key: s.options()[0] for key, s in section.settings.items() if s.required and s.choices}
        check_section(section, {**given, **required})
        for s in section.settings.values():
            assert s.about and (s.expected or float not in s.types), (section.name, s.key)  # words for every number


def test_a_changed_rule_idle_fps_says_one_thing() -> None:
    """idle_fps is declared "above 0" once; -1 used to get the section's "0 or more", 0 its own words."""
    for value in ("-1", "0", "nan"):
        assert error(f"[scanner]\nidle_fps = {value}\n").endswith(": expected more than 0 frames a second")


# -- the admin screen: one range for a setting, on the screen's keys and in Admin.set_policy --------------------

def test_the_admin_screen_offers_what_admin_may_change() -> None:
    assert set(admin_controls()) == set(EDITABLE)
    assert set(texts.POLICY_FIELDS) == {"fever_threshold", "max_age", "skew"} and set(texts.SWITCHES) == \
        {"accept_printed"}


# (key, lowest, highest, step): the fever threshold as this issue settles it, the others as the screen had them
ADMIN_RANGES = [("fever_threshold", 36.0, 40.0, 0.1), ("max_age", 30.0, 3600.0, 30.0), ("skew", 0.0, 1800.0, 30.0)]


@pytest.mark.parametrize(("key", "low", "high", "step"), ADMIN_RANGES, ids=[r[0] for r in ADMIN_RANGES])
def test_the_screen_keys_and_set_policy_keep_to_one_range(admin: Admin, key: str, low: float, high: float,  # noqa: F811
                                                          step: float) -> None:
    assert texts.stepped(key, low, -1) == low and texts.stepped(key, high, 1) == high
    assert texts.stepped(key, low, 1) == round(low + step, 2)
    for value in (low, high):
        assert admin.set_policy(**{key: value}).ok, value
    before = admin.policy_values()
    for value in (low - step, high + step):  # -30 s of skew is Policy's to refuse: no skew is below 0 anywhere
        assert not admin.set_policy(**{key: value}).ok and admin.policy_values() == before, value


def test_the_fever_range_at_the_kiosk_says_its_ends(admin: Admin) -> None:  # noqa: F811
    done = admin.set_policy(fever_threshold=35.9)
    assert done.en == "not changed: fever_threshold must be between 36.0 and 40.0 °C"
    assert admin.set_policy(skew=1830).en == "not changed: skew must be between 0 and 1800 s"


def test_a_declared_admin_range_moves_set_policy(monkeypatch: pytest.MonkeyPatch, admin: Admin) -> None:  # noqa: F811
    assert admin.set_policy(fever_threshold=36.5).ok
    redeclare(monkeypatch, "policy", "fever_threshold",
              admin=AdminControl("发热阈值", "fever threshold", 0.1, 37.0, 38.0, "°C", decimals=1))
    assert admin.set_policy(fever_threshold=36.5).en == "not changed: fever_threshold must be between 37.0 and 38.0 °C"


def test_skew_is_changed_on_the_admin_screen(door: Callable[..., Door]) -> None:  # noqa: F811
    """The README says skew can be changed at the kiosk: the policy screen has its -/+ keys, with the fever
    threshold's at 36.0 °C at the lowest."""
    d = door(thermometer=False)
    d.ui.tap(d.app.root.ids.bar.ids.gear)
    d.enter_pin(PIN)
    d.tap("admin", "阈值与策略\nthresholds and policy")
    policy = d.app.screen("policy")
    d.ui.until(lambda: policy.values, "the policy values")
    ids = d.ui.ids("policy")
    assert (ids.skew.text, ids.fever.text) == ("120 s", "37.3 °C")
    from kivy.uix.label import Label  # type: ignore[import-untyped]

    assert [w for w in policy.walk() if isinstance(w, Label) and w.text == "时钟误差容限\nclock skew allowed"]
    d.ui.tap(ids.skew_up)
    for _ in range(20):  # 37.3 down by 2.0: the keys stop at the lowest the kiosk allows
        d.ui.tap(ids.fever_down)
    assert (ids.skew.text, ids.fever.text) == ("150 s", "36.0 °C")
    d.ui.tap(ids.save)
    d.ui.until(lambda: not d.app.busy and policy.message, "the policy answer")
    assert "changed for this run" in policy.message
    d.ui.frame()
    on_screen(d, policy, [ids[key] for key in ("fever_down", "fever_up", "age_down", "age_up", "skew_down", "skew_up",
                                               "printed", "save", "back")])
    assert (d.checkpoint.policy.skew, d.checkpoint.policy.fever_threshold) == (150.0, 36.0)
    logged = [e.details for e in d.events("admin") if e.details.get("action") == "policy"]
    assert logged[-1]["new"] == {"skew": 150.0, "fever_threshold": 36.0} and logged[-1]["old"]["skew"] == 120.0


def on_screen(d: Door, policy: Any, keys: list[Any]) -> None:
    """Every key inside the window, 64 dp or more, none on another; the heading still under the status bar (a
    row too many pushes the screen's top up behind it)."""
    from kivy.metrics import dp  # type: ignore[import-untyped]
    from kivy.uix.label import Label  # type: ignore[import-untyped]

    def box(widget: Any) -> tuple[float, float, float, float]:
        left, bottom = widget.to_window(widget.x, widget.y)
        return left, bottom, left + widget.width, bottom + widget.height

    width, height = d.ui.window.size
    boxes = [box(key) for key in keys]
    for key, (left, bottom, right, top) in zip(keys, boxes):
        assert left >= 0 and right <= width and bottom >= 0 and top <= height and key.height >= dp(64) - 0.5, key.text
    for i, a in enumerate(boxes):
        assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3] for b in boxes[i + 1:]), keys[i].text
    heading = next(w for w in policy.walk() if isinstance(w, Label) and w.text.startswith("阈值与策略"))
    assert box(heading)[3] <= box(d.app.root.ids.bar)[1] + 0.5


# -- the README ----------------------------------------------------------------------------------------------------

def test_the_readme_settings_table_is_the_declared_one() -> None:
    """`python -m kiosk.settings_readme` prints the table; README.md holds it between its markers."""
    table = in_readme((ROOT / "README.md").read_text(encoding="utf-8"))
    assert table is not None, "README.md has no settings table: paste `python -m kiosk.settings_readme` into it"
    assert table == markdown(), "README.md's settings table differs: paste `python -m kiosk.settings_readme`"


def test_the_readme_table_says_the_declared_values() -> None:
    table = markdown()
    assert "| `fever_threshold` | number | `37.3` | any; on the admin screen 36.0 to 40.0 °C, in steps of 0.1 |" \
        in table
    assert "| `batch` | whole number | `500` | 1 to 5000 |" in table  # the wire format's largest batch
    assert "| `verdict_seconds` | number | `3` (bus: `1.5`) | 0.3 to 60 |" in table
    assert '| `protocol` | text | required | `"gy906"` or `"textline"` or `"modbus"` |' in table
    assert all(f"| `{key}` |" in table for section in SECTIONS.values() for key in section.settings)
