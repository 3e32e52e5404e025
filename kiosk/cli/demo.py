"""`kiosk demo`: the kiosk's main job on its built-in demo, no camera or thermometer needed.

A queue of people (every kind of verdict) is rendered into a video, played
through the real camera pipeline and decoders, each code verified offline
against keys/demo with the reading the thermometer took of that person, and
each verdict committed to a temporary audit log before it is shown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.cli.common import new_command, print_json
from kiosk.demo import DEMO_DIR, queue, render_queue
from kiosk.errors import KioskError
from kiosk.policy import Policy
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import decide

WORDS = {"pass": "PASS ", "deny": "DENY ", "retry": "RETRY"}


def register(commands: Any) -> None:
    p = new_command(commands, "demo", "run the built-in checkpoint demo (demo-only keys)")
    p.add_argument("--json", action="store_true", help="one JSON line per verdict instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import LogConfig
    from kiosk.audit.store import AuditLog
    from kiosk.scanner.decoders import ChainDecoder
    from kiosk.scanner.frames import CaptureSource
    from kiosk.scanner.pipeline import CameraPipeline
    from kiosk.scanner.types import Scan

    if not (DEMO_DIR / "trust.cose").exists():
        raise KioskError(f"demo trust material not found in {DEMO_DIR}: run the demo from a checkout")
    trust = load_trust_dir(DEMO_DIR)
    policy = Policy(require_temperature=True)  # a door with a thermometer
    people = list(queue(time.time()))
    by_text = {person.text: person for person in people}
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as folder:
        video = render_queue(people, Path(folder) / "door.avi")
        settings = LogConfig(Path(folder) / "audit.db", site="demo", lane="1", device="demo-kiosk")
        audit = AuditLog(settings.path)
        recorder = Recorder(audit, settings, os.urandom(32))
        if not args.json:
            print(f"Checkpoint demo: {len(people)} people filmed at the door ({video.name}), read by the camera "
                  "pipeline,\nverified offline against keys/demo (DEMO ONLY), logged before shown\n")
        scans: list[Scan] = []
        pipeline = CameraPipeline(CaptureSource(str(video)), ChainDecoder(), latest_wins=False)
        pipeline.start(scans.append)
        pipeline.wait_until_done(timeout=120)
        pipeline.stop()
        surprises = 0
        for number, scan in enumerate(scans, 1):
            person = by_text[scan.text]
            # The thermometer measured this person as they stood at the door, half a second before the scan.
            now = time.time()
            reading = replace(person.reading, taken_at=now - 0.5) if person.reading else None
            verdict = decide(scan.text, trust, policy, reading, now)
            recorder.record(verdict, time.time())
            assert scan.frame_at is not None
            ms = (time.monotonic() - scan.frame_at) * 1000
            surprises += verdict.reason != person.expected
            if args.json:
                print_json({"person": person.who, **verdict.as_dict(), "ms": round(ms, 2)})
                continue
            shown = verdict.as_dict()
            details = " ".join(str(shown[k]) for k in ("status", "kind", "name") if shown[k] is not None)
            temp = f"{person.reading.celsius:.1f} °C" if person.reading else "no reading"
            mark = "" if verdict.reason == person.expected else f"   <-- expected {person.expected}"
            print(f"{number:2}  {WORDS[verdict.verdict]}  {verdict.reason:<24} {temp:>10}  {details:<24} "
                  f"{person.who}{mark}")
        missed = [p.who for p in people if p.text not in {s.text for s in scans}]
        chain = audit.verify()
        audit.close()
    if not args.json:
        print(f"\n{len(people)} people, {len(scans)} codes read, {surprises} unexpected verdicts"
              + (f"; not read: {', '.join(missed)}" if missed else ""))
        print(f"audit log: {chain.events} events, chain {'verifies' if chain.ok else 'BROKEN'}")
    return 1 if surprises or missed or not chain.ok else 0
