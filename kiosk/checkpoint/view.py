"""What the screens show, as plain values: the UI renders these and decides nothing. Pure.

The checkpoint builds a VerdictView for every decision and a StatusView for the
status bar; Kivy widgets bind to their fields. Headless mode prints the same
values as JSON, so what a gate controller reads is what a volunteer sees.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kiosk.checkpoint.wording import MEASURING, temperature_text, unopened_line, words_for
from kiosk.sync.health import Alert, age_text
from kiosk.terms import CERTIFICATE_OK, DEVICE_STATES, HC1_CERTIFICATES, words
from kiosk.verdict import Verdict

Level = str  # "ok", "warn" or "alarm"


@dataclass(frozen=True)
class VerdictView:
    verdict: str  # pass / deny / retry
    reason: str  # the spec's reason code
    title_zh: str
    title_en: str
    reason_zh: str
    reason_en: str
    icon: str  # "tick", "cross", "again": drawn by the UI, never colour alone
    background: tuple[float, float, float, float]
    foreground: tuple[float, float, float, float]
    name: str | None  # the masked name on the code ("张*明"), when the code was readable and trusted enough
    temperature: str | None  # "36.6 °C"
    hold: float  # seconds on screen before Scan comes back (a new code ends it sooner)
    at: float
    source: str = ""  # camera / serial / keyboard
    warnings: tuple[str, ...] = ()
    ms: float | None = None  # frame to decision, for the camera
    details: dict[str, Any] = field(default_factory=dict)  # the verdict as `kiosk verify` prints it (spec §6)
    certificate: str | None = None  # an HC1 code's type, both languages ("疫苗接种 vaccination"), beside the name

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict_view(verdict: Verdict, *, at: float, hold: float, source: str = "", ms: float | None = None) -> VerdictView:
    """The screen for a verdict, as final as it comes from the recorder (kiosk/audit/recorder.py: a pass refused
    because the log is down is already a deny, log_unavailable): shown, never decided again."""
    celsius = verdict.reading.celsius if verdict.reading is not None else None
    said = words_for(verdict.verdict, verdict.reason, celsius)
    # The claims only for codes whose signature checked out (from key_revoked on they are shown, spec §6).
    shown = verdict.credential if verdict.reason not in ("unknown_key", "bad_signature") else None
    name = shown.name if shown is not None else None
    certificate = " ".join(words(HC1_CERTIFICATES, shown.certificate)) if shown and shown.certificate else None
    # ok's words say "green code", PHC1's colour: an HC1 certificate that passes is said to be valid instead.
    reason_zh, reason_en = CERTIFICATE_OK if certificate and verdict.reason == "ok" else (said.reason_zh,
                                                                                          said.reason_en)
    return VerdictView(verdict.verdict, verdict.reason, said.title_zh, said.title_en, reason_zh,
                       reason_en, said.icon, said.background, said.foreground, name,
                       temperature_text(celsius), hold, at, source, tuple(verdict.warnings), ms, verdict.as_json(),
                       certificate)


@dataclass(frozen=True)
class MeasuringView:
    """A code is in hand but the thermometer has no confirmed reading yet: the checkpoint waits up to `wait` s."""

    source: str
    at: float
    wait: float
    zh: str = MEASURING[0]
    en: str = MEASURING[1]


@dataclass(frozen=True)
class StatusItem:
    key: str  # camera, scanner, thermometer, trust, clock, sync, log
    zh: str
    en: str
    level: Level = "ok"


@dataclass(frozen=True)
class StatusView:
    items: tuple[StatusItem, ...] = field(default_factory=tuple)

    @property
    def worst(self) -> Level:
        levels = [item.level for item in self.items]
        return "alarm" if "alarm" in levels else "warn" if "warn" in levels else "ok"

    def item(self, key: str) -> StatusItem | None:
        return next((i for i in self.items if i.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        return {i.key: {"level": i.level, "zh": i.zh, "en": i.en} for i in self.items}


@dataclass(frozen=True)
class DeviceStates:
    """What the devices say right now (None: the kiosk has no such device)."""

    camera: str | None = None  # "ok", "lost", "ended", ...
    scanner: str | None = None  # "ok", "disconnected"
    thermometer: str | None = None  # "ok", "no reading", "disconnected", "starting"
    celsius: float | None = None  # the latest compensated reading
    # Devices not opened once since start, each (key, the line said at start: which device, why, the retry).
    unopened: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SyncSummary:
    configured: bool = False
    pending: int = 0
    last_success: float | None = None
    error: str | None = None


def _device(key: str, zh: str, en: str, state: str | None, extra: str = "") -> StatusItem | None:
    if state is None:
        return None
    state_zh, state_en = DEVICE_STATES.get(state, (state, state))
    # Silence with nobody in range is normal for some thermometers: a warning; unplugged is an alarm.
    level = "ok" if state in ("ok", "starting", "ended") else "warn" if state == "no reading" else "alarm"
    return StatusItem(key, f"{zh} {state_zh}{extra}", f"{en} {state_en}{extra}", level)


def cannot_open(key: str, device: str, why: str | None, retry_every: float) -> list[tuple[str, str]]:
    """[(key, the line said at start)] for a device that has never opened, `why` it cannot; [] when `why` is None."""
    return [] if why is None else [(key, unopened_line(device, why, retry_every))]


def status_view(devices: DeviceStates, alerts: list[Alert], sync: SyncSummary, log_error: str | None,
                now: float) -> StatusView:
    """The status bar: devices, trust age, clock, unsynced events, logging, each with its level."""
    reading = f" {devices.celsius:.1f}°C" if devices.celsius is not None and devices.thermometer == "ok" else ""
    unopened = dict(devices.unopened)

    def state(key: str, value: str | None) -> str | None:  # "lost" would say it once worked
        return "cannot open" if value is not None and key in unopened else value

    items = [_device("camera", "摄像头", "camera", state("camera", devices.camera)),
             _device("scanner", "扫码器", "scanner", state("scanner", devices.scanner)),
             _device("thermometer", "测温", "thermometer", state("thermometer", devices.thermometer), reading)]
    trust = [a for a in alerts if a.code.startswith("trust")]
    items.append(StatusItem("trust", trust[0].zh, trust[0].en, "alarm" if trust[0].level == "alarm" else "warn")
                 if trust else StatusItem("trust", "信任数据 最新", "trust data current"))
    clock = [a for a in alerts if a.code == "clock_off"]
    if clock:
        items.append(StatusItem("clock", clock[0].zh, clock[0].en, "warn"))
    if sync.configured:
        ago = f"{age_text(now - sync.last_success)[1]}前" if sync.last_success else "从未"
        ago_en = f"{age_text(now - sync.last_success)[0]} ago" if sync.last_success else "never"
        items.append(StatusItem("sync", f"待上传 {sync.pending} · 上次同步 {ago}",
                                f"{sync.pending} unsynced · last sync {ago_en}",
                                "warn" if sync.error and sync.pending else "ok"))
    items.append(StatusItem("log", "记录 正常", "log ok") if log_error is None
                 else StatusItem("log", "记录失败！", "LOG NOT WRITTEN", "alarm"))
    return StatusView(tuple(i for i in items if i is not None))
