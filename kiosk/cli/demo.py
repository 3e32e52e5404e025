"""`kiosk demo`: the kiosk's main job on its built-in demo, no camera or thermometer needed.

A queue of people (every kind of verdict, for PHC1 codes and travellers' EU
certificates, HC1) is rendered into a video and played, at its own pace,
through the real camera pipeline and decoders; at the door a thermometer
simulator on a pseudo-terminal measures each person through the real driver
(with --bus: the bus's own queue, no thermometer); each code is
verified offline against keys/demo and committed to a temporary audit log
before it is shown. With a display the touchscreen opens; without one (or with
--headless) each verdict is a line of text, or JSON with --json.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path
from typing import Any

from kiosk.checkpoint.view import VerdictView
from kiosk.cli.common import new_command, print_json
from kiosk.demo import DEMO_DIR
from kiosk.errors import KioskError
from kiosk.terms import VERDICT_TITLES

WORDS = {verdict: f"{title:<5}" for verdict, (_, title) in VERDICT_TITLES.items()}  # "PASS ", "DENY ", "RETRY"


def register(commands: Any) -> None:
    p = new_command(commands, "demo", "run the built-in checkpoint demo (demo-only keys)")
    p.add_argument("--json", action="store_true", help="headless: one JSON line per verdict instead of a table")
    p.add_argument("--headless", action="store_true", help="no window, even with a display")
    p.add_argument("--bus", action="store_true", help="bus mode: the bus's queue, no thermometer, compact screen")
    p.add_argument("--pace", type=float, default=None, metavar="S",
                   help="seconds per person (default 1.6 headless, 3.5 on screen; at least 1.6 at the door, "
                        "0.8 on a bus)")
    p.add_argument("--screenshots", type=Path, metavar="DIR",
                   help="open the touchscreen (offscreen if there is no display) and save every screen it shows")
    p.set_defaults(run=run)


class Table:
    """A line per verdict (or JSON); the verdicts are kept to compare with what the demo expects."""

    def __init__(self, as_json: bool, bus: bool = False) -> None:
        self.as_json, self.bus = as_json, bus
        self.views: list[VerdictView] = []
        self.lock = threading.Lock()

    def on_verdict(self, view: VerdictView) -> None:
        with self.lock:
            self.views.append(view)
            number = len(self.views)
        if self.as_json:
            print_json({**{k: v for k, v in view.as_dict().items() if k not in ("background", "foreground")},
                        "number": number})
            return
        # A bus measures nobody: no temperature column, rather than a "no reading" that sounds like a fault.
        temp = "" if self.bus else f"{view.temperature or 'no reading':>10}  "
        certificate = f"  [EU {view.certificate}]" if view.certificate else ""  # an HC1 code's type, both languages
        print(f"{number:2}  {WORDS[view.verdict]}  {view.reason:<24} {temp}{view.name or '':<6} {view.reason_en}"
              f"{certificate}", flush=True)


def run(args: argparse.Namespace) -> int:
    from kiosk.checkpoint.demo import VEHICLE, build_demo
    from kiosk.cli.run import has_display, run_headless

    if not (DEMO_DIR / "trust.cose").exists():
        raise KioskError(f"demo trust material not found in {DEMO_DIR}: run the demo from a checkout")
    on_screen = not args.headless and not args.json and (has_display() or args.screenshots is not None)
    pace = args.pace or (3.5 if on_screen else 1.6)
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as folder:
        with build_demo(Path(folder), pace=pace, bus=args.bus) as demo:
            expected = [person.expected for person in demo.people]
            if not args.json:
                print(header(len(demo.people), demo.slot.seconds, VEHICLE if args.bus else None), flush=True)
            table = Table(args.json, args.bus)
            demo.checkpoint.observers.append(table)
            if on_screen:
                from kiosk.ui.app import run_ui

                run_ui(demo.checkpoint, demo.settings, None, screenshots=args.screenshots, exit_when_ended=True,
                       windowed=True, preview=demo.preview)
            else:
                run_headless(demo.checkpoint, None)
        chain = demo_chain(Path(folder) / "audit.db")
    reasons = [view.reason for view in table.views]
    surprises = len(reasons) != len(expected) or reasons != expected
    if not args.json:
        wrong = sum(a != b for a, b in zip(reasons, expected)) + abs(len(reasons) - len(expected))
        print(f"\n{len(demo.people)} people, {len(reasons)} codes read, {wrong} unexpected verdicts"
              + ("" if not surprises else f"\n  got      {reasons}\n  expected {expected}"))
        print(f"audit log: {chain[1]} events, chain {'verifies' if chain[0] else 'BROKEN'}")
    return 1 if surprises or not chain[0] else 0


def header(people: int, seconds: float, vehicle: str | None) -> str:
    """What the demo is, before its first verdict; `seconds` the pace it really plays at; a vehicle: a bus."""
    if vehicle is not None:
        return (f"Checkpoint demo, bus mode ({vehicle}): {people} passengers filmed at the bus door, {seconds:.1f} s "
                "each, read by the camera pipeline,\nno thermometer on a bus, verified offline against keys/demo "
                "(DEMO ONLY), logged before shown\n")
    return (f"Checkpoint demo: {people} people filmed at the door, {seconds:.1f} s each, read by the camera "
            "pipeline,\nmeasured by a thermometer on a pseudo-terminal, verified offline against keys/demo "
            "(DEMO ONLY), logged before shown\n")


def demo_chain(path: Path) -> tuple[bool, int]:
    from kiosk.audit.store import AuditLog

    with AuditLog(path) as log:
        report = log.verify()
    return report.ok, report.events
