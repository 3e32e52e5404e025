"""A throwaway PostgreSQL server for tests and benchmarks: `with postgres_server() as url: ...`.

It runs Debian's (or any) PostgreSQL binaries from PATH or /usr/lib/postgresql/*/bin
in a fresh folder under the system's temp dir, on a free port of 127.0.0.1, with
trust authentication and its socket in that folder, so any number of them (one per
pytest-xdist worker) run side by side. `initdb` refuses to run as root: as root the
server runs as the `postgres` user, and its folder is given to that user (which is
why it is not under pytest's tmp_path: that one is private to root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

DATABASE = "kiosk_test"
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # throwaway data: no fsync waits


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries (or, as root, no `postgres` user to run them as)."""


def find_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's versioned folders, newest first."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    def version(folder: Path) -> int:
        return int(folder.parent.name) if folder.parent.name.isdigit() else 0

    for folder in sorted(map(Path, glob.glob("/usr/lib/postgresql/*/bin")), key=version, reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server(durable: bool = False, database: str = DATABASE) -> Iterator[str]:
    """Start a server, create `database`, yield its URL; stop the server and delete everything afterwards.

    `durable=False` turns fsync off (tests); a benchmark passes True to time what a real server does.
    """
    bin_dir = find_bin()
    if bin_dir is None:
        raise PostgresMissing("PostgreSQL is not installed: no initdb on PATH nor in /usr/lib/postgresql/*/bin "
                              "(Debian: apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresMissing("running as root, and there is no `postgres` user to run PostgreSQL as") from None
        as_user = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))  # short: a socket path holds 107 bytes at most
    data = folder / "data"
    if as_user:
        os.chown(folder, owner.pw_uid, owner.pw_gid)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # cwd=folder: the postgres user may not enter the caller's working directory.
        return subprocess.run([*as_user, str(bin_dir / args[0]), *args[1:]], cwd=folder, capture_output=True,
                              text=True, timeout=120)

    started = False
    try:
        done = run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                   "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
        for _ in range(5):  # another process may take the free port before the server binds it: pick another
            port = _free_port()
            options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 {'' if durable else FAST}"
            done = run("pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "-t", "60",
                       "start")
            if done.returncode == 0:
                started = True
                break
        if not started:
            log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log[-2000:]}")
        url = f"postgresql://postgres@127.0.0.1:{port}"
        _create_database(url, database)
        yield f"{url}/{database}"
    finally:
        if started:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _create_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def create_database(url: str, name: str) -> str:
    """A new empty database on the server of `url`; its URL."""
    server_url = url.rsplit("/", 1)[0]
    _create_database(server_url, name)
    return f"{server_url}/{name}"
