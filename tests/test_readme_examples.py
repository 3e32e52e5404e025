"""Every `kiosk collector ...` line in README.md's code blocks runs as written, so the README cannot drift.

The lines are taken from the fenced code blocks (`kiosk collector`, `.venv/bin/kiosk collector` or
`$ kiosk collector`, a line ending in a backslash joined to the next) and run in README order by bash,
in a site folder holding what the README says it holds (cert.pem, key.pem, published/), with a data
folder of their own and no $KIOSK_COLLECTOR_DB: the database is what the commands choose themselves.
`serve` runs in the background while the lines after it run, and must answer, then stop on SIGTERM.
Only the README's placeholder PUBLIC_KEY is filled in (a kiosk's public key, as `kiosk device show`
prints it), and the port of `--port`, so that tests running side by side do not collide.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.collector_process import self_signed_certificate
from tests.factories import World

ROOT = Path(__file__).resolve().parents[1]
COMMAND = re.compile(r"^(?:\$ )?(?:\.venv/bin/)?kiosk collector (\w+)")
ACTIONS = {"serve", "enroll", "devices", "faults", "export", "report", "revoke"}  # each shown at least once


def collector_examples(readme: str) -> list[str]:
    """The `kiosk collector` command lines of the fenced code blocks, in order, without a `$ ` prompt."""
    found: list[str] = []
    in_block, joining = False, False
    for line in readme.splitlines():
        if line.lstrip().startswith("```"):
            in_block, joining = not in_block, False
            continue
        if not in_block:
            continue
        if joining:
            found[-1] = found[-1][:-1].rstrip() + " " + line.strip()
        elif COMMAND.match(line):
            found.append(line.strip().removeprefix("$ "))
        else:
            continue
        joining = found[-1].endswith("\\")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site_folder(folder: Path) -> dict[str, str]:
    """A folder as the README's collector expects it, and the environment to run the examples in."""
    folder.mkdir()
    self_signed_certificate(folder)
    (folder / "published").mkdir()
    (folder / "published" / "trust.cose").write_bytes(World().bundle_bytes())
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)  # `.venv/bin/kiosk` as in a checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["XDG_DATA_HOME"] = str(folder.parent / "data")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `kiosk` as after setup
    return env


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60  # a hang guard: it answers within a second or two
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited {process.returncode}: {log.read_text()}"
        try:
            if httpx.get(f"{url}/v1/time", timeout=1, verify=False).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"serve did not answer: {log.read_text()}")


def run_examples(readme: str, folder: Path) -> list[tuple[str, str]]:
    """Run every example of `readme` in `folder`; (line, output) of each. Fails on the first that fails."""
    examples = collector_examples(readme)
    assert {COMMAND.match(line).group(1) for line in examples} >= ACTIONS, examples  # type: ignore[union-attr]
    env = site_folder(folder / "site")
    key_file = folder / "kiosk" / "device.key"
    shown = subprocess.run([sys.executable, "-m", "kiosk", "device", "show", "--key", str(key_file), "--json"],
                           capture_output=True, text=True, env=env, check=True)
    public_key = json.loads(shown.stdout)["public_key"]
    servers: list[tuple[subprocess.Popen[bytes], str]] = []
    done: list[tuple[str, str]] = []
    try:
        for example in examples:
            line = re.sub(r"\bPUBLIC_KEY\b", public_key, example)
            port = free_port()
            line = re.sub(r"--port \d+", f"--port {port}", line)
            if COMMAND.match(line).group(1) == "serve":  # type: ignore[union-attr]
                log = folder / f"serve-{len(servers)}.log"
                with open(log, "wb") as out:
                    process = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=folder / "site", env=env,
                                               stdout=out, stderr=subprocess.STDOUT)
                servers.append((process, example))
                wait_until_serving(f"{'https' if '--tls-cert' in line else 'http'}://127.0.0.1:{port}", process, log)
                done.append((example, log.read_text()))
                continue
            ran = subprocess.run(["bash", "-c", line], cwd=folder / "site", env=env, capture_output=True, text=True,
                                 timeout=120)
            assert ran.returncode == 0, f"README example failed (exit {ran.returncode}): {example}\n{ran.stderr}"
            done.append((example, ran.stdout))
    finally:
        for process, _ in servers:
            process.send_signal(signal.SIGTERM)
    for process, example in servers:
        # uvicorn finishes the requests in flight, then raises the SIGTERM it caught again: a service stopped
        # by systemd ends "killed by TERM", which systemd counts as a clean stop.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM), f"README example did not stop cleanly: {example}"
    return done


@pytest.mark.slow
def test_every_collector_example_in_the_readme_runs_as_written(tmp_path: Path) -> None:
    done = run_examples((ROOT / "README.md").read_text(encoding="utf-8"), tmp_path)
    database = tmp_path / "data" / "kiosk" / "collector.db"
    assert database.is_file()  # the one the commands chose by themselves, serve's and the others' alike
    listed = [output for line, output in done if shlex.split(line)[2] == "devices"]
    assert listed and all(len(output.splitlines()) >= 2 for output in listed)  # the kiosk enrolled above


def test_the_examples_are_found_in_code_blocks_only_with_their_continuations() -> None:
    readme = ("`kiosk collector devices` in a sentence\n```\n$ kiosk collector serve --port 8443 \\\n"
              "    --host 0.0.0.0\nkiosk collector devices\noutput line\n```\n"
              "kiosk collector revoke X\n```sh\n.venv/bin/kiosk collector faults --json\n```\n")
    assert collector_examples(readme) == ["kiosk collector serve --port 8443 --host 0.0.0.0",
                                          "kiosk collector devices", ".venv/bin/kiosk collector faults --json"]
