"""The built-in demo: a queue of people at a checkpoint, each scan through the real verifier.

Uses the demo-only trust material in kiosk/demo_keys (see its README): it issues
PHC1 codes with the demo issuer keys and EU DCC (HC1) codes with the demo's
document signer certificates (DSCs), and films the queue (render_queue) for the
camera pipeline; `kiosk demo` verifies them offline and prints what the screen
would show. The queue is written once, for a door with a thermometer;
bus_queue derives the bus's from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nacl.signing import SigningKey

from kiosk.base45 import b45decode, b45encode
from kiosk.fileio import write_atomically
from kiosk.healthcode import AMBER, DYNAMIC, GREEN, PRINTED, RED
from kiosk.issuer import KeyGrant, issue_code, sign_bundle, sign_status_list
from kiosk.keyfiles import private_key_text, read_signing_key
from kiosk.verdict import Reading

if TYPE_CHECKING:  # the HC1 issuing side loads `cryptography`: only the queue and make_demo_keys need it
    from kiosk.formats.hc1_issue import Signer

# Package data, so an installed kiosk has its demo too; keys/demo in a checkout is a link to it.
DEMO_DIR = Path(__file__).resolve().parent / "demo_keys"
TIANJIN, BEIJING, SHANGHAI = "CN-120000", "CN-110000", "CN-310000"
JAN_2026, JUN_2026, JAN_2036 = 1767225600, 1780272000, 2082758400
JUN_2021, JUN_2022 = 1622505600, 1654041600
DAY = 86400
# The person whose printed code turned red after it was printed (the status list says so).
LI_LEI = bytes.fromhex("4c49204c454920202020202020202001")
# The reasons only a thermometer can give (spec section 5's last checks): nobody in a bus's queue is there for them.
THERMOMETER_REASONS = frozenset({"fever", "temperature_missing", "temperature_implausible"})


@dataclass(frozen=True)
class Person:
    """One person at the checkpoint: what they show, what the thermometer says, what should happen."""

    who: str
    text: str
    reading: Reading | None
    expected: str  # the reason the verifier should give


@dataclass(frozen=True)
class DemoDsc:
    """A document signer certificate of the demo (dsc/NAME.pem and dsc/NAME.key), as `kiosk trust make-dsc`
    makes one: its country, algorithm, the certificate types it may sign (None: all) and its validity."""

    name: str
    country: str
    alg: str
    usage: frozenset[str] | None
    not_before: int
    not_after: int


DEMO_DSCS = (
    DemoDsc("de", "DE", "es256", None, JAN_2026, JAN_2036),
    DemoDsc("fr", "FR", "ps256", None, JAN_2026, JAN_2036),
    DemoDsc("at-tests-only", "AT", "es256", frozenset({"test"}), JAN_2026, JAN_2036),
    DemoDsc("nl-expired", "NL", "es256", None, JUN_2021, JUN_2022),
)


def make_demo_keys(directory: Path) -> None:
    """Write demo trust material (DEMO ONLY) into `directory`: the keys and DSCs it lacks (those there are kept),
    then the trust bundle (seq 1) and the status list signed afresh. It made kiosk/demo_keys (the DSCs were
    added to it later the same way)."""
    private = directory / "private"
    names = ("demo-root", "tianjin", "beijing", "shanghai-leaked")
    for name in names:
        if not (private / f"{name}.key").exists():
            write_atomically(private / f"{name}.key", private_key_text(SigningKey.generate()).encode(), mode=0o600)
    keys = {name: read_signing_key(private / f"{name}.key") for name in names}
    write_atomically(directory / "roots" / "demo-root.pub", bytes(keys["demo-root"].verify_key).hex().encode() + b"\n")
    grants = [KeyGrant(bytes(keys[n].verify_key), iss, JAN_2026, JAN_2036)
              for n, iss in (("tianjin", TIANJIN), ("beijing", BEIJING), ("shanghai-leaked", SHANGHAI))]
    leaked = bytes(keys["shanghai-leaked"].verify_key)
    from kiosk.cose import kid_of

    dscs = [signer.der for signer in make_demo_dscs(directory).values()]
    bundle = sign_bundle(keys["demo-root"], seq=1, iat=JAN_2026, keys=grants, revoked=[kid_of(leaked)], dscs=dscs)
    write_atomically(directory / "trust.cose", bundle)
    status = sign_status_list(keys["tianjin"], seq=1, iat=JUN_2026, iss=TIANJIN, entries=[(LI_LEI, RED, JUN_2026)])
    write_atomically(directory / "status.cose", status)


def make_demo_dscs(directory: Path) -> dict[str, Signer]:
    """The demo's DSCs in directory/dsc, each made (with a CSCA of its country, made for it and not kept) where it
    is missing, as `kiosk trust make-dsc` makes them."""
    from kiosk.formats.hc1_issue import make_csca, make_dsc, read_signer, save_signer

    made = {}
    for dsc in DEMO_DSCS:
        prefix = directory / "dsc" / dsc.name
        if not prefix.with_suffix(".pem").exists():
            csca = make_csca(dsc.country, not_before=dsc.not_before, not_after=dsc.not_after + 3650 * DAY,
                             name=f"CSCA {dsc.country} (kiosk demo - DEMO ONLY)")
            save_signer(make_dsc(csca, country=dsc.country, not_before=dsc.not_before, not_after=dsc.not_after,
                                 alg=dsc.alg, usage=dsc.usage, name=f"DSC {dsc.country} (kiosk demo - DEMO ONLY)"),
                        prefix)
        made[dsc.name] = read_signer(prefix)
    return made


def _tamper(text: str) -> str:
    """Change one byte of the signed payload, as someone editing a screenshot would."""
    raw = bytearray(b45decode(text[5:]))
    raw[len(raw) // 2] ^= 0x01
    return "PHC1:" + b45encode(bytes(raw))


def queue(now: float, directory: Path = DEMO_DIR) -> Iterator[Person]:
    """The demo queue: every verdict a volunteer meets in a day, in a few people."""
    tianjin = read_signing_key(directory / "private" / "tianjin.key")
    beijing = read_signing_key(directory / "private" / "beijing.key")
    leaked = read_signing_key(directory / "private" / "shanghai-leaked.key")
    stranger = SigningKey(os.urandom(32))
    t = int(now)

    def phone(status: int, key: SigningKey = tianjin, iss: str = TIANJIN, age: int = 20, name: str = "张*明") -> str:
        return issue_code(key, iss=iss, status=status, iat=t - age, exp=t - age + 86400, kind=DYNAMIC, name=name)[0]

    def paper(status: int, iat: int, exp: int, subject: bytes | None = None) -> str:
        return issue_code(tianjin, iss=TIANJIN, status=status, iat=iat, exp=exp, kind=PRINTED,
                          subject=subject, name="李*")[0]

    def warm(celsius: float) -> Reading:
        return Reading(celsius, now - 0.5)

    yield Person("green phone code", phone(GREEN), warm(36.5), "ok")
    yield Person("green code from Beijing", phone(GREEN, beijing, BEIJING, name="王*"), warm(36.8), "ok")
    yield Person("amber phone code", phone(AMBER), warm(36.6), "status_amber")
    yield Person("red phone code", phone(RED), warm(36.4), "status_red")
    yield Person("feverish, green code", phone(GREEN), warm(38.2), "fever")
    yield Person("did not step up to the thermometer", phone(GREEN), None, "temperature_missing")
    yield Person("thermometer aimed at a sleeve", phone(GREEN), warm(29.5), "temperature_implausible")
    yield Person("screenshot of a code 10 minutes old", phone(GREEN, age=600), warm(36.5), "too_old")
    yield Person("printed code from last month", paper(GREEN, t - 30 * 86400, t + 30 * 86400), warm(36.7), "ok")
    yield Person("printed code that expired", paper(GREEN, t - 60 * 86400, t - 3600), warm(36.7), "expired")
    yield Person("printed code, status changed to red since",
               paper(GREEN, JAN_2026, JAN_2036, LI_LEI), warm(36.6), "status_red")
    yield from _eu_travellers(t, directory, warm)
    yield Person("code signed with a revoked key", phone(GREEN, leaked, SHANGHAI), warm(36.5), "key_revoked")
    yield Person("forged code (unknown signer)", phone(GREEN, stranger), warm(36.5), "unknown_key")
    yield Person("edited screenshot", _tamper(phone(RED)), warm(36.5), "bad_signature")
    yield Person("a shop's payment QR", "https://pay.example.com/shop/1234", warm(36.5), "not_health_code")
    yield Person("a damaged code", "PHC1:6BF%NOT*A*CODE", warm(36.5), "malformed")


def _eu_travellers(t: int, directory: Path, warm: Callable[[float], Reading]) -> Iterator[Person]:
    """Travellers with EU Digital COVID Certificates (HC1), signed with the demo's DSCs (kiosk/demo_keys/dsc)."""
    from kiosk.formats import hc1_payload as dcc
    from kiosk.formats.hc1_issue import read_signer, sign_hc1

    def eu(dsc: str, holder: dcc.Holder, iat: int, certificate: str, entry: dict[str, object]) -> str:
        signer = read_signer(directory / "dsc" / dsc)
        return sign_hc1(signer, iss=signer.country, iat=iat, exp=iat + 365 * DAY,
                        hcert=dcc.hcert(holder, certificate, entry))

    rki, nl = "Robert Koch-Institut", "Ministry of Health Welfare and Sport"
    vaccinated = dcc.vaccinated(country="DE", issuer=rki, date=t - 60 * DAY)
    negative = dcc.tested(country="FR", issuer="Ministère de la Santé", sampled=t - 20 * 3600)
    positive = dcc.tested(country="DE", issuer=rki, sampled=t - 5 * 3600, negative=False)
    in_austria = dcc.vaccinated(country="AT", issuer="BMSGPK", date=t - 90 * DAY)
    in_2022 = dcc.vaccinated(country="NL", issuer=nl, date=t - 40 * DAY)
    erika, wang = dcc.Holder("Mustermann", "Erika", dob="1964-08-12"), dcc.Holder("王", "芳", "WANG", "FANG", "1990")
    yield Person("printed EU vaccination certificate (Germany)",
                 eu("de", erika, t - 50 * DAY, "vaccination", vaccinated), warm(36.6), "ok")
    yield Person("EU test certificate, negative (France, RSA key)",
                 eu("fr", wang, t - 19 * 3600, "test", negative), warm(36.7), "ok")
    yield Person("EU test certificate, positive",
                 eu("de", dcc.Holder("Schmidt", "Anna"), t - 4 * 3600, "test", positive), warm(36.5), "test_positive")
    yield Person("EU vaccination certificate from a signer for tests only",
                 eu("at-tests-only", dcc.Holder("Gruber", "Lukas"), t - 80 * DAY, "vaccination", in_austria),
                 warm(36.8), "wrong_key_usage")
    yield Person("EU certificate signed by a DSC that expired in 2022",
                 eu("nl-expired", dcc.Holder("de Vries", "Sanne"), t - 30 * DAY, "vaccination", in_2022),
                 warm(36.6), "key_expired")


def bus_queue(now: float, directory: Path = DEMO_DIR) -> list[Person]:
    """The demo queue at a bus door: no thermometer, so nobody is measured and the people who were there for the
    thermometer stay off; everyone else's code decides as at the door, with the same reason."""
    return [replace(person, reading=None) for person in queue(now, directory)
            if person.expected not in THERMOMETER_REASONS]


def render_queue(people: list[Person], path: Path, fps: float = 30, stepping: int = 3, showing: int = 4) -> Path:
    """A video of the queue as the kiosk's camera films it: each person steps up (`stepping` frames with no
    code yet) and shows their code (`showing` frames)."""
    from kiosk.scanner.synth import PHC1_MODULES, Look, code_quad, render_frame, render_qr, write_video

    frames = []
    for number, person in enumerate(people):
        paper = "printed" in person.who
        # A denser code (an EU certificate: QR version 13-21) is held closer: shown larger, up to 0.6 of the width,
        # but never past the frame's edge (a code cut off is no code).
        modules = render_qr(person.text).shape[0] - 8
        look = Look(size=(640, 480), code_fraction=min(0.6, 0.38 * max(1.0, modules / PHC1_MODULES)),
                    rotation=(number * 37) % 30 - 15, tilt=(number * 11) % 25,
                    tilt_axis=number * 50.0, carrier="paper" if paper else "phone", dark_mode=number == 4,
                    hand=not paper, glare=0.3 if number == 7 else 0.0)
        while not _inside(code_quad(look, modules), look.size) and look.code_fraction > 0.2:
            look = replace(look, code_fraction=look.code_fraction - 0.01)
        stepping_up = render_frame(None, look, seed=2 * number)
        frames += [stepping_up] * stepping + [render_frame(person.text, look, seed=2 * number + 1)] * showing
    write_video(path, frames, fps)
    return path


def _inside(quad: Any, size: tuple[int, int], margin: float = 4) -> bool:
    """Whether a code's corners (with its quiet zone) lie inside a frame of `size`, `margin` pixels in."""
    return bool(quad.min() >= margin and quad[:, 0].max() <= size[0] - margin and quad[:, 1].max() <= size[1] - margin)
