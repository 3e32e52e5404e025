"""A web console to test against, as people get one: a real `kiosk collector serve` process, accounts made with
`kiosk collector user add`, kiosks that logged events and synced them with `kiosk sync`, and browsers (httpx
clients with their own cookie jars) that sign in through the login form.

    site = ConsoleSite.start(folder, db_url, trust_dir)            # a collector, no data
    site.add_user("ann", "viewer", sites=["Joy City"])             # -> the TOTP secret of admin/tracer accounts
    kiosk = site.kiosk("k1", "Joy City", [Scan(...), ...])         # its log, enrolled, synced
    ann = site.login("ann")                                        # an httpx.Client holding ann's session
    ann.get("/events?site=Joy+City")
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kiosk.audit.events import Event
from kiosk.audit.store import AuditLog
from kiosk.console.totp import STEP, from_base32, hotp, step_of
from tests.collector_process import CollectorProcess, Kiosk

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def kiosk_cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, input=stdin,
                          timeout=timeout)


def trust_folder(folder: Path) -> Path:
    """A kiosk's trust directory (the tests' root pinned, a bundle installed), as conftest's trust_dir makes it."""
    from tests.factories import World, pub

    (folder / "roots").mkdir(parents=True, exist_ok=True)
    (folder / "roots" / "root.pub").write_text(pub("root").hex() + "\n")
    (folder / "trust.cose").write_bytes(World().bundle_bytes())
    return folder


def database_url(request: pytest.FixtureRequest, folder: Path, name: str) -> str:
    """The collector database of a test module's site, by the fixture's param: a SQLite file in `folder`, or a
    new database `name_<random>` on the session's throwaway PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{folder}/collector.db"
    from tests.pg_server import create_database

    return create_database(request.getfixturevalue("pg_url"), f"{name}_{uuid.uuid4().hex[:10]}")


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page holds no csrf_token field"
    return found.group(1)


@dataclass(frozen=True)
class Scan:
    """One event a kiosk logs: a scan (subject given) or a registration by hand (kind "manual")."""

    at: float
    verdict: str | None = "pass"
    reason: str | None = "ok"
    subject: str | None = None  # the subject reference as logged
    temperature: float | None = None
    kind: str = "scan"
    fields: dict[str, object] = field(default_factory=dict)
    operator: str | None = None


@dataclass
class ConsoleSite:
    collector: CollectorProcess
    folder: Path
    trust_dir: Path
    totp: dict[str, bytes] = field(default_factory=dict)  # account -> its second-factor secret
    kiosks: dict[str, Kiosk] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)  # kiosk -> its [log] site
    used: dict[str, int] = field(default_factory=dict)  # account -> the last TOTP step its logins used
    origin: float = 0.0  # when the test made its data: times in it are relative to this
    clients: list[httpx.Client] = field(default_factory=list)  # closed by close_browsers() after each test
    signed_in: dict[tuple[str, str, str | None], dict[str, str]] = field(default_factory=dict)  # login -> cookies

    @classmethod
    def start(cls, folder: Path, db_url: str, trust_dir: Path, *, extra: tuple[str, ...] = (),
              https: tuple[Path, Path] | None = None) -> ConsoleSite:
        folder.mkdir(parents=True, exist_ok=True)
        return cls(CollectorProcess(db_url, folder, extra=extra, https=https), folder, trust_dir)

    @property
    def url(self) -> str:
        return self.collector.url

    def stop(self) -> None:
        self.close_browsers()
        self.collector.stop()

    def close_browsers(self) -> None:
        while self.clients:
            self.clients.pop().close()

    def add_user(self, name: str, role: str, sites: list[str] | None = None) -> bytes | None:
        args = ["collector", "user", "add", name, "--role", role, "--db", self.collector.db_url]
        for site in sites or []:
            args += ["--site", site]
        done = kiosk_cli(*args, stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        found = re.search(r"secret: ([A-Z2-7]+)", done.stdout)
        if found:
            self.totp[name] = from_base32(found.group(1))
        return self.totp.get(name)

    def kiosk(self, key: str, site: str, events: list[Scan], *, name: str = "") -> Kiosk:
        """A kiosk at `site` that logged `events`, enrolled here (as `name`) and synced with `kiosk sync`."""
        kiosk = self.kiosks.get(key)
        self.sites[key] = site
        if kiosk is None:
            kiosk = self.kiosks[key] = Kiosk.make(self.folder / key)
            done = kiosk_cli("collector", "enroll", kiosk.identity.public.hex(), "--name", name or key,
                             "--db", self.collector.db_url)
            assert done.returncode == 0, done.stderr
        log = AuditLog(kiosk.log_path)
        log.db.execute("PRAGMA synchronous=OFF")  # test material: no fsync per event
        try:
            for e in events:
                log.append(Event(log.next_id(e.at), e.at, e.kind, site=site, lane="1", device=kiosk.identity.id,
                                 verdict=e.verdict, reason=e.reason, temperature=e.temperature,
                                 subject_ref=e.subject, operator=e.operator, details=dict(e.fields)))
        finally:
            log.close()
        self.sync(key)
        return kiosk

    def config(self, key: str) -> Path:
        kiosk = self.kiosks[key]
        path = self.folder / key / "kiosk.toml"
        path.write_text(f'[trust]\ndir = "{self.trust_dir}"\n[log]\npath = "{kiosk.log_path}"\n'
                        f'site = {json.dumps(self.sites[key])}\nlane = "1"\n'
                        f'[sync]\nurl = "{self.url}"\ndevice_key = "{kiosk.identity.path}"\n')
        return path

    def register(self, key: str, fields: dict[str, str], temperature: float, operator: str = "vol-3") -> str:
        """A person registered by hand at the kiosk (`kiosk log register`): the event's id."""
        args = [f"--field={k}={v}" for k, v in fields.items()]
        done = kiosk_cli("--config", str(self.config(key)), "log", "register", *args, "--temperature",
                         str(temperature), "--operator", operator)
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["id"])

    def correct(self, key: str, event_id: str, fields: dict[str, str], operator: str = "李") -> str:
        args = [f"--field={k}={v}" for k, v in fields.items()]
        done = kiosk_cli("--config", str(self.config(key)), "log", "correct", event_id, *args, "--operator", operator)
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["id"])

    def sync(self, key: str) -> None:
        done = kiosk_cli("--config", str(self.config(key)), "sync", "--no-trust")
        assert done.returncode == 0, done.stderr

    def browser(self) -> httpx.Client:
        verify = self.collector._verify  # the collector's own certificate under HTTPS
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, verify=verify)
        self.clients.append(client)
        return client

    def login(self, name: str, password: str = PASSWORD, *, language: str | None = None,
              fresh: bool = False) -> httpx.Client:
        """A browser signed in as `name` through the login form (with its TOTP code when it has one).

        The session of the account's last login is taken again while the server still knows it (`fresh`: a
        new login whatever): each TOTP code is taken once, so an admin's fourth login within 30 s would wait
        for the next code, and a module's tests would spend minutes waiting.
        """
        key = (name, password, language)
        if not fresh and key in self.signed_in:
            client = self.browser()
            client.cookies.update(self.signed_in[key])
            if client.get("/").status_code == 200:
                return client
        client = self._login(name, password, language)
        self.signed_in[key] = dict(client.cookies)
        return client

    def _login(self, name: str, password: str, language: str | None) -> httpx.Client:
        client = self.browser()
        answer = self.sign_in(client, name, password)
        for _ in range(3):  # an earlier test's failed login made this address wait: the page says how long
            if answer.status_code != 429:
                break
            wait = re.search(r"请(\d+)秒后再试", answer.text)
            assert wait is not None, answer.text
            time.sleep(int(wait.group(1)) + 0.5)  # the page rounds the wait: a little more, then try again
            answer = self.sign_in(client, name, password)
        assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text[:400]
        if language:
            client.get(f"/login?lang={language}")
        return client

    def code(self, name: str) -> str:
        """A TOTP code for `name` not used before: each is taken once, so a second login in the same 30 s takes
        the next step's (the console takes one step either side of now)."""
        now = step_of(time.time())
        step = max(now, self.used.get(name, now - 1) + 1)
        if step > now + 1:
            time.sleep((step - 1) * STEP - time.time() + 0.05)
        self.used[name] = step
        return hotp(self.totp[name], step)

    def sign_in(self, client: httpx.Client, name: str, password: str = PASSWORD,
                code: str | None = None) -> httpx.Response:
        form = client.get("/login")
        if code is None and name in self.totp:
            code = self.code(name)
        return client.post("/login", data={"username": name, "password": password, "code": code or "",
                                           "csrf_token": csrf_of(form.text)})
