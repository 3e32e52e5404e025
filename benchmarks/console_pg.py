"""A PostgreSQL server for benchmarks/console.py whose data stays in a folder, so a rerun (--reuse) finds the
loaded database again; tests/pg_server.py's throwaway server deletes its folder when it stops.

Durable (fsync on, as a real server runs), with the few settings a server for a city's data would be given:
shared_buffers 1 GB and room for the write-ahead log (a bulk load would otherwise checkpoint every minute).
As root it runs as the `postgres` user, like tests/pg_server.py; its folder is given to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.pg_server import find_bin

DATABASE = "kiosk_console_bench"
SETTINGS = ("-c shared_buffers=1GB -c max_wal_size=4GB -c checkpoint_timeout=30min -c maintenance_work_mem=512MB "
            "-c effective_cache_size=8GB")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def kept_postgres(folder: Path) -> Iterator[str]:
    """Start the server of `folder` (made there on first use) on a free port; yield its database's URL; stop it
    cleanly (its data kept)."""
    bin_dir = find_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    as_user: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*as_user, str(bin_dir / args[0]), *args[1:]], cwd=folder, capture_output=True,
                              text=True, timeout=3600)

    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        done = run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C")
        if done.returncode:
            raise RuntimeError(f"initdb failed in {folder}: {' '.join((done.stdout + done.stderr).split())[-400:]}")
    port = _free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' {SETTINGS}"
    done = run("pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "-t", "600", "start")
    if done.returncode:
        log = (folder / "log").read_text(errors="replace")[-600:] if (folder / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {' '.join((done.stdout + done.stderr + log).split())[-600:]}")
    try:
        server = f"postgresql://postgres@127.0.0.1:{port}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        yield f"{server}/{DATABASE}"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-t", "600", "stop")
