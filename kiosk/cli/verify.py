"""`kiosk verify`: one code (PHC1 or HC1), one JSON line, exit 0 pass / 1 deny / 3 retry / 2 error (spec section 6)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.cli.common import (
    add_trust_option,
    celsius,
    config_of,
    moment,
    new_command,
    policy_of,
    print_json,
    seconds,
    trust_dir_of,
)
from kiosk.errors import KioskError
from kiosk.formats.registry import format_of
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import Reading, Verdict, decide

EXIT_CODES = {"pass": 0, "deny": 1, "retry": 3}


def register(commands: Any) -> None:
    p = new_command(commands, "verify", "verify one health code offline and print the verdict as JSON")
    add_trust_option(p)
    p.add_argument("--now", type=moment, metavar="EPOCH_OR_ISO8601", help="the time to judge at (default: now)")
    p.add_argument("--temperature", type=celsius, metavar="CELSIUS",
                   help="a body temperature just measured; without it no temperature is required")
    p.add_argument("--max-age", type=seconds, metavar="S", help="how old a dynamic code may be (default 300)")
    p.add_argument("--skew", type=seconds, metavar="S", help="clock skew forgiven (default 120)")
    p.add_argument("--no-printed", action="store_true", help="refuse printed (paper) codes")
    p.add_argument("--image", metavar="FILE", help="read the code from a picture")
    p.add_argument("--log", type=Path, metavar="DB", help="append the verdict to this audit log before printing it")
    p.add_argument("text", nargs="?", metavar="TEXT", help="the QR text, or - to read it from standard input")
    p.set_defaults(run=run)


def _text_of(args: argparse.Namespace) -> str:
    if args.image is not None:
        if args.text is not None:
            raise KioskError("give TEXT, - or --image FILE, not two of them")
        from kiosk.scanner.decoders import decode_file  # OpenCV loads only when needed

        texts = decode_file(args.image)  # an unreadable picture is an ImageError: one line, exit 2
        if not texts:
            raise KioskError(f"{args.image}: no QR code found in the picture")
        return next((t for t in texts if format_of(t) is not None), texts[0])  # a health code before other QRs
    if args.text is None:
        raise KioskError("give the code as TEXT, - (standard input) or --image FILE")
    if args.text == "-":
        raw = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        return raw.rstrip("\r\n")  # the line end a shell or scanner adds is not part of the code
    return str(args.text)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {"require_temperature": args.temperature is not None}
    if args.max_age is not None:
        overrides["max_age"] = args.max_age
    if args.skew is not None:
        overrides["skew"] = args.skew
    if args.no_printed:
        overrides["accept_printed"] = False
    policy = policy_of(args).with_values(overrides)
    text = _text_of(args)
    trust = load_trust_dir(trust_dir_of(args))
    now = args.now if args.now is not None else time.time()
    reading = Reading(args.temperature, now) if args.temperature is not None else None
    verdict = decide(text, trust, policy, reading, now)
    if args.log is not None:
        verdict = _record(args, verdict, now)
    print_json(verdict.as_json())
    for warning in verdict.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    return EXIT_CODES[verdict.verdict]


def _record(args: argparse.Namespace, verdict: Verdict, now: float) -> Verdict:
    """The verdict committed to the log at --log first: the final decision (kiosk/audit/recorder.py says what a
    log that cannot be written, or opened, makes of it)."""
    from kiosk.audit.recorder import record_once
    from kiosk.checkpoint.factories import log_settings

    return record_once(log_settings(config_of(args), args.log), verdict, now)
