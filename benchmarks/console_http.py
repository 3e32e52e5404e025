"""benchmarks/console.py's browsers: accounts made with `kiosk collector user add`, sessions that sign in through
the login form (with a TOTP code where the role needs one), and the console's pages timed over HTTP as a browser
asks for them (the whole answer read).
"""

from __future__ import annotations

import html
import math
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import psutil  # type: ignore[import-untyped]

from kiosk.console.totp import STEP, from_base32, totp

PASSWORD = "bench password 2026"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT = re.compile(r'href="([^"]*)" rel="next"')
_VISITS = re.compile(r'data-visits="(\d+)"')


def add_account(db_url: str, name: str, role: str, sites: tuple[str, ...] = ()) -> bytes | None:
    """An account made as an admin makes one; its second-factor secret when the role has one."""
    args = [sys.executable, "-m", "kiosk", "collector", "user", "add", name, "--role", role, "--db", db_url]
    for site in sites:
        args += ["--site", site]
    done = subprocess.run(args, input=PASSWORD + "\n", capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"kiosk collector user add {name}: {' '.join(done.stderr.split())}")
    found = re.search(r"secret: ([A-Z2-7]+)", done.stdout)
    return from_base32(found.group(1)) if found else None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    if not found:
        raise RuntimeError("the page holds no csrf_token field")
    return found.group(1)


class Console:
    """The console at `url`, and a browser (an httpx client with its own cookies) per signed-in person."""

    def __init__(self, url: str) -> None:
        self.url = url

    def login(self, name: str, secret: bytes | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=600, follow_redirects=False, trust_env=False)
        for _ in range(3):
            form = client.get("/login")
            code = totp(secret, time.time()) if secret else ""
            answer = client.post("/login", data={"username": name, "password": PASSWORD, "code": code,
                                                 "csrf_token": csrf_of(form.text)})
            if answer.status_code == 303:
                return client
            if secret is None or answer.status_code != 401:
                break
            time.sleep(STEP - time.time() % STEP + 0.5)  # this step's code was taken already (a login just before)
        client.close()
        raise RuntimeError(f"{name} could not sign in: {answer.status_code} {' '.join(answer.text.split())[:200]}")


def fetch(client: httpx.Client, url: str, method: str = "GET", data: dict[str, str] | None = None) -> httpx.Response:
    answer = client.request(method, url, data=data)
    if answer.status_code != 200:
        raise RuntimeError(f"{method} {url}: {answer.status_code} {' '.join(answer.text.split())[:300]}")
    return answer


def timed(client: httpx.Client, url: str, method: str = "GET",
          data: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = fetch(client, url, method, data)
    return time.perf_counter() - started, answer


def next_link(page: str) -> str | None:
    """The events list's link to its next (older) page."""
    found = _NEXT.search(page)
    return html.unescape(found.group(1)) if found else None


def trace(client: httpx.Client, subject: str, since: str, until: str) -> tuple[float, int, int]:
    """One trace through the form (its CSRF token from the page): (seconds, visits, others listed)."""
    token = csrf_of(fetch(client, "/trace").text)
    seconds, answer = timed(client, "/trace", "POST", {"subject": subject, "since": since, "until": until,
                                                       "window": "15", "case": "BENCH-2026-014",
                                                       "csrf_token": token})
    visits = _VISITS.search(answer.text)
    return seconds, int(visits.group(1)) if visits else -1, answer.text.count("data-other=")


def export(client: httpx.Client, url: str, pid: int) -> tuple[int, float, int, int]:
    """Stream a CSV export, counting its rows, while the server's resident memory is sampled:
    (rows, seconds, RSS before, RSS at its highest)."""
    server = psutil.Process(pid)
    before = peak = server.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    lines = 0
    try:
        started = time.perf_counter()
        with client.stream("GET", url) as answer:
            if answer.status_code != 200:
                raise RuntimeError(f"GET {url}: {answer.status_code}")
            for chunk in answer.iter_bytes():
                lines += chunk.count(b"\n")  # the generated events hold no line break inside a field
        seconds = time.perf_counter() - started
    finally:
        done.set()
        sampler.join()
    return lines - 1, seconds, before, peak


@dataclass
class Users:
    """People at work in the console at once, each in a thread with its own session, each page followed by a
    pause (`think` seconds on average, as a person reads it), until stopped."""

    clients: list[httpx.Client]
    pages: Callable[[int, random.Random], str]  # person -> the next page they open
    think: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _work(self, i: int) -> None:
        rng = random.Random(i)
        while not self._stop.is_set():
            try:
                seconds, _ = timed(self.clients[i], self.pages(i, rng))
                self.latencies.append(seconds)
            except (RuntimeError, httpx.HTTPError) as err:
                self.errors.append(str(err))
            self._stop.wait(rng.uniform(0.5, 1.5) * self.think)

    def start(self) -> None:
        self._began = time.perf_counter()
        self._threads = [threading.Thread(target=self._work, args=(i,)) for i in range(len(self.clients))]
        for thread in self._threads:
            thread.start()

    def stop(self) -> float:
        """Stop them; the seconds they worked."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return time.perf_counter() - self._began
