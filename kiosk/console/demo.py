"""`kiosk collector demo`: the web console on demo data, in one command, with nothing to install or set up.

It serves a collector exactly as `kiosk collector serve` does (kiosk/collector/serve.py's serve(), SQLite in a
temporary folder unless --db), with the console's trust page checking uploads against the demo root and a
subject key the demo kiosks share. Six kiosks at three sites (kiosk/console/demo_kiosks.py) are enrolled, play
today's hours so far and send them through the sync API, as signed batches over HTTP to the running server;
then they keep syncing on their timer, and now and then someone new is scanned, so the overview moves.
Two accounts are made through the console's Users API: a manager of one site and an admin (whose one-time
code is printed every 30 seconds). Ctrl-C stops it; the temporary folder goes with it.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TextIO

import httpx

from kiosk.audit.zones import zone_for
from kiosk.console.demo_kiosks import JOY, OUTCOMES, PLANS, TRACED, DemoKiosk, day_of, play
from kiosk.console.totp import STEP, step_of, to_base32, totp, uri
from kiosk.demo import BEIJING, DEMO_DIR, JAN_2026, JAN_2036, JUN_2026, LI_LEI, SHANGHAI, TIANJIN
from kiosk.errors import KioskError

SEED = 14  # the demo's random day: the same people and verdicts each run
LIVE_EVERY = 12.0  # seconds, on average, between new scans once the day so far is in
READY_WITHIN = 60.0  # seconds the server may take to answer before the demo gives up feeding it
MANAGER, ADMIN = "manager", "admin"


@dataclass(frozen=True)
class Files:
    subject_key: Path  # the deployment's HMAC key: the kiosks' [log] secret_file and the console's --subject-key
    published: Path  # the collector's --trust-files: what it serves to the kiosks
    upload: Path  # a newer trust bundle, for the trust page


@dataclass(frozen=True)
class Logins:
    manager_password: str
    admin_password: str
    admin_secret: bytes


def run_demo(db: str | None, host: str, port: int, out: TextIO = sys.stdout) -> int:
    """Serve the demo until SIGINT/SIGTERM; KioskError for a database that is not empty, a port taken, ..."""
    folder = Path(tempfile.mkdtemp(prefix="kiosk-collector-demo-"))
    # The kiosks keep their trust refresh records in the data folder: the demo's own, never the user's.
    os.environ["KIOSK_STATE_DIR"] = str(folder / "state")
    try:
        with _terminated_as_exit():
            _run(folder, db or f"sqlite:///{folder / 'collector.db'}", host, port, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM and Ctrl-C end the demo with the shell's status for them (143, 130), its folder deleted:
    uvicorn stops serving, then raises the signal again once it has put back the handler it found, which is
    this one (Python's own SIGTERM would end the process before any `finally`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    # Ctrl-C too: a KeyboardInterrupt could land in a demo kiosk's `except`, not here (status 0, seen once).
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(folder: Path, url: str, host: str, port: int, out: TextIO) -> None:
    from kiosk.collector.serve import ConsoleOptions, serve
    from kiosk.console.demo_kiosks import Authority
    from kiosk.trustdir import load_trust_dir

    _check_port(host, port)
    files = _files(folder, time.time())
    rng = random.Random(SEED)
    local = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # every address: this machine is one of them
    address = f"http://{'[' + local + ']' if ':' in local else local}:{port}"
    authority, trust = Authority(rng), load_trust_dir(DEMO_DIR)
    with contextlib.ExitStack() as stack:
        kiosks = []
        for i, plan in enumerate(PLANS):
            kiosk = DemoKiosk(plan, folder / "kiosks" / str(i), files.subject_key, address, trust, authority)
            stack.callback(kiosk.close)
            kiosks.append(kiosk)
        _enrol(url, kiosks)
        logins = _accounts(url)
        stop = threading.Event()
        feeder = threading.Thread(target=_feed, args=(kiosks, address, rng, logins, files, folder, out, stop),
                                  name="demo-kiosks", daemon=True)
        feeder.start()
        stack.callback(feeder.join, 15)
        stack.callback(stop.set)
        serve(url, host=host, port=port, trust_files=files.published,
              console=ConsoleOptions(subject_key=files.subject_key, trust_root=DEMO_DIR))


def _check_port(host: str, port: int) -> None:
    """A port another server holds is said at once: the demo's kiosks would otherwise sync with that one."""
    if not 0 < port < 65536:
        raise KioskError(f"--port must be 1 to 65535, not {port}")
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        said = (err.strerror or str(err)).split(" (")[0]
        raise KioskError(f"cannot listen on {host}:{port}: {said} (another --port?)") from None


def _files(folder: Path, now: float) -> Files:
    """The subject key, the trust files the collector publishes (a bundle the demo root signed two hours ago, a
    status list an hour ago), and a newer bundle to upload."""
    from kiosk.cose import kid_of
    from kiosk.healthcode import RED
    from kiosk.issuer import KeyGrant, sign_bundle, sign_status_list
    from kiosk.keyfiles import read_signing_key

    private = DEMO_DIR / "private"
    root = read_signing_key(private / "demo-root.key")
    issuers = [(read_signing_key(private / f"{name}.key"), iss)
               for name, iss in (("tianjin", TIANJIN), ("beijing", BEIJING), ("shanghai-leaked", SHANGHAI))]
    grants = [KeyGrant(bytes(key.verify_key), iss, JAN_2026, JAN_2036) for key, iss in issuers]
    revoked = [kid_of(bytes(issuers[2][0].verify_key))]  # the leaked Shanghai key, as in the kiosk's demo

    def bundle(seq: int, iat: float) -> bytes:
        return sign_bundle(root, seq=seq, iat=int(iat), keys=grants, revoked=revoked)

    subject_key = folder / "subject.key"
    subject_key.write_text(secrets.token_hex(32) + "\n")
    subject_key.chmod(0o600)
    published = folder / "published"
    published.mkdir()
    (published / "trust.cose").write_bytes(bundle(2, now - 2 * 3600))
    # The status list as the Tianjin issuer keeps it current: Li Lei's printed code turned red (kiosk/demo.py).
    status = sign_status_list(issuers[0][0], seq=2, iat=int(now - 3600), iss=TIANJIN, entries=[(LI_LEI, RED, JUN_2026)])
    (published / "status.cose").write_bytes(status)
    upload = folder / "upload" / "trust.cose"
    upload.parent.mkdir()
    upload.write_bytes(bundle(3, now - 60))
    return Files(subject_key, published, upload)


def _enrol(url: str, kiosks: list[DemoKiosk]) -> None:
    """Enrol the kiosks, as `kiosk collector enroll` does, in a database that holds no kiosk or account yet."""
    from kiosk.collector.database import open_store
    from kiosk.console.console_db import open_console_store

    with open_store(url, create=True) as store, open_console_store(url) as console:
        if store.devices() or console.users():
            raise KioskError("the database already holds kiosks or console accounts: the demo adds its own to an "
                             "empty one (leave out --db for a temporary one)")
        for kiosk in kiosks:
            store.enroll(kiosk.public_key, kiosk.plan.name, time.time())


def _accounts(url: str) -> Logins:
    """A manager of one site and an admin, made as `kiosk collector user add` makes them."""
    from kiosk.console.auth import console_services
    from kiosk.console.console_db import open_console_store

    manager, admin = f"demo-{secrets.token_hex(4)}", f"demo-{secrets.token_hex(4)}"
    with open_console_store(url) as store:
        users = console_services(store)[1]
        users.add(MANAGER, "manager", frozenset({JOY}), manager, actor="demo", address="")
        secret = users.add(ADMIN, "admin", None, admin, actor="demo", address="").totp_secret
    assert secret is not None  # an admin always has a second factor
    return Logins(manager, admin, secret)


def _feed(kiosks: list[DemoKiosk], address: str, rng: random.Random, logins: Logins, files: Files, folder: Path,
          out: TextIO, stop: threading.Event) -> None:
    """Once the server answers: the day so far, synced; the logins printed; then kiosks at work until `stop`."""
    if not _ready(address, stop):
        if not stop.is_set():
            sys.stderr.write(f"kiosk collector demo: the collector did not answer at {address}: no demo data sent\n")
        return
    zone = zone_for("")
    play(day_of(kiosks, time.time(), zone, rng))
    sent = 0
    for kiosk in kiosks:
        outcome = kiosk.send(pull_trust=True)
        if outcome.error:
            sys.stderr.write(f"kiosk collector demo: {kiosk.plan.name} could not sync: {outcome.error}\n")
        sent += outcome.sent
    for kiosk in kiosks:
        kiosk.sync.start_background()
    _say(out, banner(address, sent, logins, files, folder))
    _live(kiosks, rng, logins, zone, out, stop)  # its first line: the admin's code for now


def _ready(address: str, stop: threading.Event) -> bool:
    deadline = time.monotonic() + READY_WITHIN
    while not stop.is_set() and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{address}/v1/time", timeout=2).status_code == 200:
                return True
        stop.wait(0.2)
    return False


def banner(address: str, sent: int, logins: Logins, files: Files, folder: Path) -> str:
    sites = len({p.site for p in PLANS})
    return "\n".join([
        f"kiosk collector demo: {len(PLANS)} kiosks at {sites} sites sent {sent:,} events today through the sync "
        "API (signed batches), and keep syncing",
        f"  the console:   {address}/   (中文; English: the link at the top)",
        f"  site manager:  username {MANAGER}  password {logins.manager_password}  (only the site {JOY!r})",
        f"  admin:         username {ADMIN}  password {logins.admin_password}  (every site, kiosks, users, trust; "
        "asks a one-time code)",
        f"    the admin's TOTP secret {to_base32(logins.admin_secret)} (for an authenticator app: "
        f"{uri(logins.admin_secret, ADMIN)}); a code for now is printed every {STEP} s",
        f"  to trace (the admin's trace page): the subject {TRACED.hex()}, at {PLANS[0].site}, on {PLANS[5].site} "
        f"and at {PLANS[3].site} today",
        f"  to upload on the trust page: {files.upload} (a newer trust bundle, signed by the demo root)",
        f"  Ctrl-C stops the demo and deletes its folder {folder}",
    ])


def _live(kiosks: list[DemoKiosk], rng: random.Random, logins: Logins, zone: tzinfo, out: TextIO,
          stop: threading.Event) -> None:
    """A new code for the admin each TOTP step, and now and then someone scanned at a kiosk (sent at once)."""
    outcomes, weights = [o for o, _ in OUTCOMES], [w for _, w in OUTCOMES]
    next_scan = time.time() + rng.expovariate(1 / LIVE_EVERY)
    for step in _steps(stop):
        now = time.time()
        if step is not None:
            until = datetime.fromtimestamp((step + 1) * STEP, zone).strftime("%H:%M:%S")
            _say(out, f"  admin code now: {totp(logins.admin_secret, now)} (until {until})")
        if now >= next_scan:
            kiosk = rng.choice(kiosks)
            kiosk.scan(rng.randbytes(16), rng.choices(outcomes, weights)[0], now)
            kiosk.sync.wake()
            next_scan = now + rng.expovariate(1 / LIVE_EVERY)


def _steps(stop: threading.Event) -> Iterator[int | None]:
    """Every second until `stop`: the new TOTP step when one began (and the first at once), else None."""
    last = None
    while not stop.is_set():
        step = step_of(time.time())
        yield step if step != last else None
        last = step
        stop.wait(1.0)


def _say(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()
