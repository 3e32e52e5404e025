"""`kiosk demo`: the kiosk's main job on its built-in demo, no camera or thermometer needed."""

from __future__ import annotations

import argparse
import time
from typing import Any

from kiosk.cli.common import print_json
from kiosk.demo import DEMO_DIR, queue
from kiosk.errors import KioskError
from kiosk.policy import Policy
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import decide

WORDS = {"pass": "PASS ", "deny": "DENY ", "retry": "RETRY"}


def register(commands: Any) -> None:
    from kiosk.cli.common import new_command

    p = new_command(commands, "demo", "run the built-in checkpoint demo (demo-only keys)")
    p.add_argument("--json", action="store_true", help="one JSON line per verdict instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not (DEMO_DIR / "trust.cose").exists():
        raise KioskError(f"demo trust material not found in {DEMO_DIR}: run the demo from a checkout")
    trust = load_trust_dir(DEMO_DIR)
    policy = Policy(require_temperature=True)  # a door with a thermometer
    now = time.time()
    surprises = 0
    if not args.json:
        print("Checkpoint demo: each person's code is verified offline against keys/demo (DEMO ONLY)\n")
    for number, scan in enumerate(queue(now), 1):
        started = time.perf_counter()
        verdict = decide(scan.text, trust, policy, scan.reading, now)
        ms = (time.perf_counter() - started) * 1000
        surprises += verdict.reason != scan.expected
        if args.json:
            print_json({"person": scan.who, **verdict.as_dict(), "ms": round(ms, 3)})
            continue
        shown = verdict.as_dict()
        details = " ".join(str(shown[k]) for k in ("status", "kind", "name") if shown[k] is not None)
        temp = f"{scan.reading.celsius:.1f} °C" if scan.reading else "no reading"
        mark = "" if verdict.reason == scan.expected else f"   <-- expected {scan.expected}"
        print(f"{number:2}  {WORDS[verdict.verdict]}  {verdict.reason:<24} {temp:>10}  {details:<24} "
              f"{scan.who} ({ms:.2f} ms){mark}")
    if not args.json:
        print(f"\n{number} people, {surprises} unexpected verdicts")
    return 1 if surprises else 0
