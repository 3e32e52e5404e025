"""Every setting of the configuration file, declared once. Pure: no IO.

Each setting's type, default, range and words live here and nowhere else:
the section parsers (kiosk/config.py, policy.py, devices_config.py,
audit/settings.py, sync/settings.py, checkpoint/settings.py) read a section
through kiosk/tables.check_section and fill in these defaults; their
dataclasses take their defaults from here; the admin screen's controls and
their ranges, and the README's settings table (`python -m
kiosk.settings_readme`), are made from it. What a section's parser still
checks itself is what one setting cannot say alone (alarm_hours against
warn_hours, plausible_min against plausible_max, a timezone's name, a PIN
hash's shape, a protocol's own options).
"""

from __future__ import annotations

from typing import Any

from kiosk.settings_model import AdminControl, Late, Section, Setting, section

TEXT, NUMBER, WHOLE, FLAG, LIST, TABLE = (str,), (int, float), (int,), (bool,), (list,), (dict,)
SECONDS = "a number of seconds, {low} or more"  # [policy]: the words Policy has always used
CELSIUS = "a temperature in Celsius, e.g. 37.3"
NOT_NEGATIVE = "a number {low} or more"  # [thermometer] and [scanner]: counts, sizes and times
PLACES = "relative: to the config file"
DAYS = "a whole number of days, {low} to {high}"  # [hc1]
HOURS = "a number of hours above {low}, at most {high}"

SECTIONS: dict[str, Section] = {s.name: s for s in (
    section("trust", "the trust data codes are verified against", [
        Setting("dir", TEXT, None, f"the folder that holds trust.cose and roots/ ({PLACES})",
                default_text="`$KIOSK_TRUST_DIR`, else `kiosk/trust` in the data folder (`~/.local/share`)"),
        Setting("warn_hours", NUMBER, 24, "trust data not refreshed for this long: a warning",
                low=0, above=True, high=1e6, below=True, expected="hours above {low}"),
        Setting("alarm_hours", NUMBER, 72, "... for this long: an alarm (at least warn_hours)",
                low=0, above=True, high=1e6, below=True, expected="hours above {low}"),
    ]),
    section("policy", "the verdict's thresholds (spec section 5)", [
        Setting("skew", NUMBER, 120.0, "seconds of clock difference forgiven on iat and exp",
                low=0, expected=SECONDS,
                admin=AdminControl("时钟误差容限", "clock skew allowed", 30.0, 0.0, 1800.0, "s")),
        Setting("max_age", NUMBER, 300.0, "seconds a dynamic (phone) code stays good after its iat",
                low=0, expected=SECONDS,
                admin=AdminControl("手机码有效期", "phone code max age", 30.0, 30.0, 3600.0, "s")),
        Setting("accept_printed", FLAG, True, "paper codes are accepted",
                admin=AdminControl("接受纸质码", "accept printed codes")),
        Setting("require_temperature", FLAG, False,
                "a reading is required (`kiosk run` and `kiosk scan` with a `[thermometer]` require one anyway)"),
        Setting("fever_threshold", NUMBER, 37.3, "°C; a reading at or above it is a fever", expected=CELSIUS,
                admin=AdminControl("发热阈值", "fever threshold", 0.1, 36.0, 40.0, "°C", decimals=1)),
        Setting("plausible_min", NUMBER, 34.0, "°C; a reading below it is measured again (at most plausible_max)",
                expected=CELSIUS),
        Setting("plausible_max", NUMBER, 43.0, "°C; a reading above it is measured again", expected=CELSIUS),
        Setting("reading_window", NUMBER, 3.0, "seconds a thermometer reading stays fresh", low=0,
                expected=SECONDS),
    ], own_words=True),
    section("hc1", "the content rules of EU DCC / WHO `HC1:` certificates (spec section 9)", [
        Setting("vaccination_min_days", WHOLE, 14, "days after the last dose before a vaccination counts",
                low=0, high=3650, expected=DAYS),
        Setting("vaccination_max_days", WHOLE, 270, "days after the last dose a vaccination still counts (at least "
                "vaccination_min_days; a booster counts with no limit)", low=1, high=3650, expected=DAYS),
        Setting("test_max_hours_naat", NUMBER, 72.0, "hours after its sample a NAAT (PCR) test counts",
                low=0, above=True, high=8760, expected=HOURS),
        Setting("test_max_hours_rat", NUMBER, 48.0, "hours after its sample a rapid antigen (RAT) test counts; a "
                "test of another type, the shorter of the two", low=0, above=True, high=8760, expected=HOURS),
    ], own_words=True),
    section("thermometer", "an infrared thermometer on a serial port (see Thermometers)", [
        Setting("protocol", TEXT, None, "what the device speaks", required=True,
                choices=Late("kiosk.thermometer.protocols", "PROTOCOLS")),
        Setting("port", TEXT, None, "a pyserial URL: `/dev/ttyUSB0`, `/dev/serial/by-id/...`, `socket://host:port`",
                required=True),
        Setting("baudrate", WHOLE, 9600, "bits a second on the serial line", low=0, expected=NOT_NEGATIVE),
        Setting("interval", NUMBER, 0.1, "seconds between polls", low=0, expected=NOT_NEGATIVE),
        Setting("options", TABLE, {}, "the protocol's own settings (template, slave, register, scale, ...)"),
        Setting("compensation", TABLE, None, "forehead skin to body: body = skin + offset + ambient_slope × "
                "(ambient_ref - ambient)", default_text="the three below", within=(
            Setting("offset", NUMBER, 2.5, "°C added to the skin reading (0: a device that reports body "
                    "temperature)", expected="a finite number"),
            Setting("ambient_slope", NUMBER, 0.0, "°C added per degree the room is below ambient_ref",
                    expected="a finite number"),
            Setting("ambient_ref", NUMBER, 25.0, "°C: the room temperature that needs no correction",
                    expected="a finite number"),
        )),
    ], absent="no thermometer (a bus): no temperature required",
        needs='needs protocol and port, e.g. protocol = "gy906", port = "/dev/ttyUSB0"'),
    section("scanner", "the camera and the 2D barcode scanner that `kiosk run` and `kiosk scan` read", [
        Setting("camera", (str, int), None, "a camera index, `/dev/video0`, a video file, a folder or a stream URL",
                low=0, expected=NOT_NEGATIVE, default_text="none: no camera"),
        Setting("width", WHOLE, None, "pixels asked of the camera", low=0, expected=NOT_NEGATIVE,
                default_text="the camera's"),
        Setting("height", WHOLE, None, "pixels asked of the camera", low=0, expected=NOT_NEGATIVE,
                default_text="the camera's"),
        Setting("fps", NUMBER, None, "frames a second asked of the camera", low=0, expected=NOT_NEGATIVE,
                default_text="the camera's"),
        Setting("serial", TEXT, None, "a 2D barcode scanner in USB serial mode (a pyserial URL)",
                default_text="none"),
        Setting("serial_baudrate", WHOLE, 9600, "the 2D scanner's bits a second", low=0, expected=NOT_NEGATIVE),
        Setting("holdoff", NUMBER, 5.0, "seconds out of sight before the same code is a new scan", low=0,
                expected=NOT_NEGATIVE),
        Setting("idle_after", NUMBER, 10.0, "seconds with no code before only idle_fps frames a second are decoded "
                "(0: never)", low=0, expected=NOT_NEGATIVE),
        Setting("idle_fps", NUMBER, 5.0, "frames decoded a second while idle", low=0, above=True,
                expected="more than {low} frames a second"),
    ]),
    section("log", "the audit log (see The audit log)", [
        Setting("path", TEXT, None, f"the log's file ({PLACES})", required=True),
        Setting("site", TEXT, "", "the site, in every event"),
        Setting("lane", TEXT, "", "a lane, a gate, or a vehicle / route id on a bus"),
        Setting("device", TEXT, "", "this kiosk's name: enroll it at the collector under the same"),
        Setting("secret_file", TEXT, None, f"the authority's HMAC key for subject references, hex ({PLACES})",
                default_text="a key the kiosk makes beside the log"),
        Setting("raw_subject", FLAG, False, "store raw subject ids, where the authority requires it"),
        Setting("retention_days", NUMBER, 28.0, "days of events `kiosk log purge` keeps", low=0, above=True,
                expected="days above {low}"),
        Setting("on_failure", TEXT, "continue", "a log that cannot be written: go on with a warning, or deny a pass",
                choices=("continue", "deny")),
        Setting("language", TEXT, "zh", "the words of exports and day reports", choices=("zh", "en")),
        Setting("manual_fields", LIST, ["name", "phone", "id_last4"],
                "what a volunteer records for a person without a code"),
        Setting("timezone", TEXT, "", "an IANA zone (`Asia/Shanghai`) for exports and reports",
                default_text="the machine's (`TZ`, `/etc/localtime`)"),
    ], absent="`kiosk run` and `kiosk scan` log to `audit.db` in the data folder (`$KIOSK_AUDIT_LOG`)",
        needs='needs path, e.g. path = "/var/lib/kiosk/audit.db"'),
    section("sync", "the collector the log is sent to (see Sync: the collector)", [
        Setting("url", TEXT, None, "the collector's address, `http://...` or `https://...`", required=True),
        Setting("device_key", TEXT, None, f"this kiosk's Ed25519 key ({PLACES})",
                default_text="`$KIOSK_DEVICE_KEY`, else `device.key` in the data folder"),
        Setting("ca_file", TEXT, None, f"the certificate authority of a collector with its own ({PLACES})",
                default_text="the system's"),
        Setting("batch", WHOLE, 500, "events per signed batch", low=1, high=Late("kiosk.sync.protocol", "MAX_EVENTS"),
                expected="{low} to {high} events"),
        Setting("interval", NUMBER, 60.0, "seconds between passes when idle (new events go within seconds anyway)",
                low=0, above=True, expected="seconds above {low}"),
        Setting("timeout", NUMBER, 10.0, "seconds to wait for the collector", low=0, above=True,
                expected="seconds above {low}"),
        Setting("trust_pull", FLAG, True, "pull new trust files from the collector"),
        Setting("trust_every", NUMBER, 3600.0, "seconds between trust pulls", low=0, above=True,
                expected="seconds above {low}"),
        Setting("clock_warn", NUMBER, 120.0, "seconds the clock may differ from the collector's before a warning",
                low=0, above=True, expected="seconds above {low}"),
    ], absent="no collector: the log stays on the kiosk", needs='needs url = "https://..." (the collector)'),
    section("kiosk", "the checkpoint (`kiosk run`)", [
        Setting("mode", TEXT, "door", "a gate with a thermometer, or a tablet at a bus door", choices=("door", "bus")),
        Setting("vehicle", TEXT, "", "bus mode: the bus or route, the lane of every event and shown on screen"),
        Setting("verdict_seconds", NUMBER, 3.0, "how long a verdict stays on screen", bus_default=1.5,
                low=0.3, high=60, expected="seconds between {low} and {high}"),
        Setting("fullscreen", FLAG, True, "fill the screen"),
        Setting("sound", FLAG, True, "a sound for each verdict"),
        Setting("language", TEXT, "zh", "which language leads on screen (both are always shown)",
                choices=("zh", "en")),
        Setting("admin_pin_hash", TEXT, None, "the admin PIN's hash, from `kiosk admin hash-pin`",
                default_text="none: the admin screens are closed"),
        Setting("lockout_attempts", WHOLE, 5, "wrong PINs in a row before the admin screens lock", low=1,
                expected="{low} or more wrong PINs"),
        Setting("lockout_seconds", NUMBER, 300.0, "... for this long", low=0, above=True,
                expected="seconds above {low}"),
        Setting("reading_wait", NUMBER, 1.5, "seconds a code read before the thermometer's first reading waits "
                "for one", low=0, high=10, expected="seconds between {low} (no wait) and {high}"),
    ]),
    section("signal", "a turnstile or a lamp on a serial line, sent a command on every PASS", [
        Setting("port", TEXT, None, "a pyserial URL or device", required=True, nonempty=True,
                expected='a pyserial URL or device, e.g. "/dev/kiosk-gate"'),
        Setting("baudrate", WHOLE, 9600, "bits a second on the line"),
        Setting("on_pass", TEXT, "OPEN\r\n", "what to send on a pass (TOML escapes)", nonempty=True,
                expected='the bytes to send on a pass, e.g. "OPEN\\r\\n"'),
    ], absent="nothing is opened", needs='needs port (a pyserial URL or device), e.g. port = "/dev/kiosk-gate"'),
)}


def setting(section_name: str, key: str) -> Setting:
    """The declaration of `[section] key`; an inline table's setting is named with a dot (compensation.offset)."""
    outer, _, inner = key.partition(".")
    found = SECTIONS[section_name].settings[outer]
    return found.child(inner) if inner else found


def default(section_name: str, key: str) -> Any:
    """A setting's declared default, for its dataclass (a list or table is copied: a default is never shared)."""
    value = setting(section_name, key).default
    return value.copy() if isinstance(value, (list, dict)) else value


def admin_controls() -> dict[str, AdminControl]:
    """The [policy] settings the admin screen may change, in the order they are declared."""
    return {key: s.admin for key, s in SECTIONS["policy"].settings.items() if s.admin is not None}


def admin_range_problem(values: dict[str, object]) -> str | None:
    """Why a value the admin screen asks for is outside its control's range (one line); None: all are within.

    Values of the wrong type are Policy's to refuse, with its own words."""
    controls = admin_controls()
    for key, value in values.items():
        control = controls.get(key)
        if control is None or control.step is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not control.low <= value <= control.high:
            return (f"{key} must be between {control.shown(control.low)} and {control.shown(control.high)}"
                    f" {control.unit}")
    return None
