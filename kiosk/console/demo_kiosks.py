"""The kiosks of `kiosk collector demo`: six of them at three sites, each a real kiosk's parts without a camera.

A person's code is issued with the demo authority's keys (kiosk/demo_keys, as `kiosk demo` makes its queue),
verified offline by the verifier's own decide(), committed by the audit Recorder (scans, registrations by hand
and their corrections, device outages) and sent by the sync service as signed batches over HTTP: the collector
gets nothing a real kiosk would not send. Today's hours so far are played at once (a seeded random day, so two
runs look alike), then each kiosk keeps syncing on its timer, and now and then someone new is scanned.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from nacl.signing import SigningKey

from kiosk.audit.recorder import Recorder
from kiosk.audit.settings import LogConfig
from kiosk.demo import BEIJING, DEMO_DIR, TIANJIN
from kiosk.healthcode import AMBER, DYNAMIC, GREEN, PRINTED, RED
from kiosk.issuer import issue_code
from kiosk.keyfiles import read_signing_key
from kiosk.policy import Policy
from kiosk.sync.service import SyncOutcome, SyncParts, sync_once
from kiosk.sync.settings import SyncConfig
from kiosk.sync.wiring import build_sync
from kiosk.trust import TrustStore
from kiosk.verdict import Reading, decide

JOY, EAST, BUS = "Joy City 大悦城", "East Station 东站", "Bus 37 37路"
HOSTILE_NAME = "<script>alert(1)</script>"  # a registration typed by someone hostile: shown as text everywhere
# The person the demo's trace finds: at Joy City, on the bus, then at East Station, among others each time.
TRACED = hashlib.sha256(b"kiosk collector demo: the traced person").digest()[:16]
PEOPLE = 600  # the town: regulars of each site, and people who go everywhere
# How busy each hour of the day is, against a kiosk's peak (rush hours at 8, 12 and 18).
SHAPE = {6: .3, 7: .7, 8: 1.0, 9: .8, 10: .5, 11: .6, 12: .9, 13: .7, 14: .5, 15: .5, 16: .6, 17: .9, 18: 1.0,
         19: .7, 20: .5, 21: .3, 22: .2, 23: .1}
# What people show, and how often (out of 100): most are green and pass.
OUTCOMES = (("green", 80.0), ("printed", 4.0), ("amber", 4.0), ("red", 2.0), ("old", 2.0), ("expired", 1.0),
            ("forged", 1.0), ("fever", 1.5), ("missing", 2.0), ("junk", 0.5))
THERMOMETER_ONLY = frozenset({"fever", "missing"})


@dataclass(frozen=True)
class Plan:
    """One simulated kiosk: its [log] device name, site and lane, and how many people its busiest hour sees."""

    name: str
    site: str
    lane: str
    peak: int
    thermometer: bool = True


PLANS = (Plan("North Gate 北门", JOY, "1", 36), Plan("South Gate 南门", JOY, "2", 22),
         Plan("Car Park 停车场", JOY, "P", 10), Plan("Hall A 候车厅A", EAST, "A", 30),
         Plan("Hall B 候车厅B", EAST, "B", 18), Plan("Bus 0815", BUS, "37路", 14, thermometer=False))


@dataclass
class Devices:
    """What the kiosk's status tells the collector of its devices (kiosk.sync.service.StatusReporter reads it)."""

    camera: str | None = "ok"
    scanner: str | None = None
    thermometer: str | None = "ok"


class Authority:
    """The demo authority's codes for a person at a moment (random parts from the demo's seeded generator)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tianjin = read_signing_key(DEMO_DIR / "private" / "tianjin.key")
        self.beijing = read_signing_key(DEMO_DIR / "private" / "beijing.key")
        self.stranger = SigningKey(rng.randbytes(32))

    def code(self, outcome: str, subject: bytes, at: float) -> str:
        t, rng = int(at), self.rng
        key, iss = (self.beijing, BEIJING) if rng.random() < 0.2 else (self.tianjin, TIANJIN)
        status = {"amber": AMBER, "red": RED}.get(outcome, GREEN)
        iat, exp, kind = t - rng.randint(5, 40), t + 86400, DYNAMIC
        if outcome == "old":
            iat -= 600  # a screenshot of a code ten minutes old
        elif outcome in ("printed", "expired"):
            kind, iat = PRINTED, t - 20 * 86400
            exp = t - 3600 if outcome == "expired" else t + 40 * 86400
        elif outcome == "forged":
            key = self.stranger
        elif outcome == "junk":
            return "https://pay.example.com/shop/1234"
        return issue_code(key, iss=iss, status=status, iat=iat, exp=exp, kind=kind, subject=subject,
                          name="张*", cti=rng.randbytes(12))[0]

    def reading(self, outcome: str, at: float, thermometer: bool) -> Reading | None:
        if not thermometer or outcome == "missing":
            return None
        low, high = (38.0, 38.9) if outcome == "fever" else (36.1, 37.2)
        return Reading(round(self.rng.uniform(low, high), 1), at - 0.5)


class DemoKiosk:
    """One kiosk: its audit log (the Recorder), its device key and sync parts, its devices' states."""

    def __init__(self, plan: Plan, folder: Path, subject_key: Path, collector: str, trust: TrustStore,
                 authority: Authority) -> None:
        self.plan, self.trust, self.authority = plan, trust, authority
        folder.mkdir(parents=True, exist_ok=True)
        settings = LogConfig(folder / "audit.db", site=plan.site, lane=plan.lane, device=plan.name,
                             secret_file=subject_key)
        self.recorder = Recorder.open(settings)
        self.policy = Policy(require_temperature=plan.thermometer)
        self.devices = Devices(thermometer="ok" if plan.thermometer else None)
        self.trust_dir = _trust_copy(folder / "trust")
        self.key_file = folder / "device.key"
        self.sync: SyncParts = build_sync(SyncConfig(collector, device_key=self.key_file), self.recorder.audit,
                                          self.trust_dir)
        self.sync.report_devices(lambda: self.devices)

    @property
    def public_key(self) -> bytes:
        return self.sync.identity.public

    def scan(self, subject: bytes, outcome: str, at: float) -> str:
        """A person shows a code and is measured: the verdict, committed to the log (its verdict name)."""
        if not self.plan.thermometer and outcome in THERMOMETER_ONLY:
            outcome = "green"
        text = self.authority.code(outcome, subject, at)
        measuring = self.plan.thermometer and self.devices.thermometer == "ok"
        verdict = decide(text, self.trust, self.policy, self.authority.reading(outcome, at, measuring), at)
        return self.recorder.record(verdict, at).verdict

    def send(self, pull_trust: bool = False) -> SyncOutcome:
        return sync_once(self.sync, pull_trust=pull_trust)

    def close(self) -> None:
        self.sync.close()
        self.recorder.close()


def _trust_copy(folder: Path) -> Path:
    """A kiosk's own trust directory: the demo root pinned and the demo bundle and status list installed (the
    collector's newer ones arrive with the first sync)."""
    (folder / "roots").mkdir(parents=True, exist_ok=True)
    for name in ("roots/demo-root.pub", "trust.cose", "status.cose"):
        (folder / name).write_bytes((DEMO_DIR / name).read_bytes())
    return folder


def window(now: float, zone: tzinfo) -> tuple[float, float, float]:
    """(midnight, first event, last event) of today's played hours: from 06:00 to a minute ago; early in the day
    from midnight (a night shift, busier than the nights of a whole day, so there is something to see)."""
    local = datetime.fromtimestamp(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    start = midnight + 6 * 3600 if now - midnight >= 7 * 3600 else midnight
    return midnight, start, max(start + 60, now - 60)


Step = tuple[float, int, Callable[[float], object]]  # (when, order among equals, what the kiosk does)


def day_of(kiosks: list[DemoKiosk], now: float, zone: tzinfo, rng: random.Random) -> dict[str, list[Step]]:
    """Each kiosk's day so far (by name), in the order it happens: scans through the day's shape, plus what
    makes the console worth a look (a device outage, a fever cluster, registrations by hand with a correction,
    the hostile name, and the traced person's visits)."""
    midnight, start, end = window(now, zone)
    town = [rng.randbytes(16) for _ in range(PEOPLE)]
    regulars = {site: town[i * PEOPLE // 4:(i + 1) * PEOPLE // 4] for i, site in enumerate((JOY, EAST, BUS))}
    weights = [w for _, w in OUTCOMES]
    days: dict[str, list[Step]] = {}

    def at(fraction: float) -> float:
        return start + (end - start) * fraction

    for k in kiosks:
        steps: list[Step] = []
        hour = start
        while hour < end:
            share = min(end, hour + 3600) - hour
            local_hour = datetime.fromtimestamp(hour, zone).hour
            busy = SHAPE.get(local_hour, 0.05) if start > midnight else max(0.4, SHAPE.get(local_hour, 0.0))
            count = round(k.plan.peak * busy * share / 3600 * rng.uniform(0.8, 1.2))
            for _ in range(count):
                people = regulars[k.plan.site] if rng.random() < 0.8 else town
                person, outcome = rng.choice(people), rng.choices([o for o, _ in OUTCOMES], weights)[0]
                steps.append((hour + rng.uniform(0, share), 0, _scanning(k, person, outcome)))
            hour += 3600
        days[k.plan.name] = steps
    by_name = {k.plan.name: k for k in kiosks}
    special = _special(by_name, midnight, end, at)
    for name, steps in special.items():
        days[name].extend(steps)
    for steps in days.values():
        steps.sort(key=lambda s: (s[0], s[1]))
    return days


def _scanning(kiosk: DemoKiosk, person: bytes, outcome: str) -> Callable[[float], object]:
    return lambda when: kiosk.scan(person, outcome, when)


def _special(kiosks: dict[str, DemoKiosk], midnight: float, end: float,
             at: Callable[[float], float]) -> dict[str, list[Step]]:
    north, car, hall_a, hall_b, bus = (kiosks[p.name] for p in (PLANS[0], PLANS[2], PLANS[3], PLANS[4], PLANS[5]))
    out: dict[str, list[Step]] = {name: [] for name in kiosks}
    # The car park's camera was lost for a while (an outage in its day), and is back.
    out[car.plan.name] += [(at(0.45), 1, lambda w: car.recorder.device_state("camera", "lost", w)),
                           (at(0.55), 1, lambda w: car.recorder.device_state("camera", "ok", w))]
    # Hall B's thermometer came loose a minute ago, and still is: its status says so with every batch, and
    # the people scanned there from now on are asked to try again (no reading).
    def unplug(when: float) -> None:
        hall_b.recorder.device_state("thermometer", "disconnected", when)
        hall_b.devices.thermometer = "disconnected"

    out[hall_b.plan.name].append((end, 3, unplug))
    # Three fevers at Hall B within one hour of the clock: the overview's fever-cluster alarm.
    anchor = max(at(0.0), end - 1800)
    hour = anchor - (anchor - midnight) % 3600
    span = min(end, hour + 3600) - max(hour, at(0.0))
    first = max(hour, at(0.0))
    out[hall_b.plan.name] += [(first + span * f, 1, _scanning(hall_b, bytes([0xFE, i]) * 8, "fever"))
                              for i, f in enumerate((0.2, 0.5, 0.8))]
    # People without a code, registered by hand at the north gate; a misspelt name (李四 for 李思) corrected later.
    policy, misspelt = north.policy, []

    def register(fields: dict[str, object], celsius: float) -> Callable[[float], object]:
        def act(when: float) -> None:
            event = north.recorder.manual(fields, at=when, temperature=celsius, operator="vol-2", policy=policy)
            if fields["name"] == "李四":
                misspelt.append(event.id)
        return act

    out[north.plan.name] += [
        (at(0.30), 1, register({"name": "王芳", "phone": "13900001111", "id_last4": "1234"}, 36.6)),
        (at(0.50), 1, register({"name": HOSTILE_NAME, "phone": "13800000000"}, 36.8)),
        (at(0.60), 1, register({"name": "李四", "phone": "13700002222"}, 36.5)),
        (at(0.65), 2, lambda w: north.recorder.correct(misspelt[0], {"name": "李思"}, at=w, temperature=None,
                                                       operator="vol-2", policy=policy, note="name misspelt"))]
    # The traced person: at the north gate, on the bus, then at Hall A.
    out[north.plan.name].append((at(0.35), 1, _scanning(north, TRACED, "green")))
    out[bus.plan.name].append((at(0.52), 1, _scanning(bus, TRACED, "green")))
    out[hall_a.plan.name].append((at(0.70), 1, _scanning(hall_a, TRACED, "green")))
    return out


def play(days: dict[str, list[Step]]) -> int:
    """Do every kiosk's day; the number of things done."""
    done = 0
    for steps in days.values():
        for when, _, act in steps:
            act(when)
            done += 1
    return done
