"""benchmarks/console.py runs: a smoke run with tiny numbers (--quick) on each database, so the script cannot rot.

It is a benchmark, not a test of speed: nothing here looks at how fast anything was. What is held is that
the script still does its whole job: it loads the fleet (the bulk-loaded roll-ups the same as the store's own
backfill counts them, every event the kiosks logged in the collector), signs in, times every page the issue
names and prints each figure beside its goal, and measures a folder it kept again with --reuse.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg_server import find_bin

ROOT = Path(__file__).resolve().parents[1]
HANG = 900  # seconds: only against a hang
FIGURES = {  # what each figure line says, and its goal (issue 14, "Speed")
    r"overview, every site .* p95 +\d+ ms": "p95 <= 300 ms",
    r"overview, one site .* p95 +\d+ ms": "p95 <= 300 ms",
    r"events page, a site and a day .* p95 +\d+ ms": "p95 <= 200 ms",
    r"trace of a subject over 3 days .* max +[\d.]+ s.*\(\d+-\d+ visits": "<= 1 s",
    r"CSV export, streamed +[\d,]+ rows in .* = +[\d,]+ rows/s": ">= 80,000 rows/s",
    r"server RSS during the export +peak +\d+ MB": "<= 300 MB",
    r"sync throughput drop with the console in use +-?[\d.]+ %": "<= 20 %",
}


def bench(*args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "console.py"), "--quick", *args],
                          capture_output=True, text=True, timeout=HANG, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not done.stderr.strip() or "Traceback" not in done.stderr, done.stderr
    return done.stdout


def check_figures(out: str, backend: str) -> None:
    lines = [line for line in out.splitlines() if line.startswith(backend)]
    for figure, goal in FIGURES.items():
        found = [line for line in lines if re.search(figure, line)]
        assert found, f"no line of {figure!r} for {backend}:\n{out}"
        assert f"(goal: {goal}" in found[0], found[0]
    rounds = [line for line in lines if re.search(r"sync, 4 kiosks (alone|\+ 3 console users) +[\d,]+ events", line)]
    assert len(rounds) == 3, out  # alone, with the console in use, alone again
    sent = [int(re.search(r"([\d,]+) events", line).group(1).replace(",", "")) for line in rounds]  # type: ignore[union-attr]
    assert sent == [4 * 50] * 3, rounds  # --quick: 4 kiosks log 50 events a round, and all of them arrive
    stored = re.search(rf"{backend} +events in the collector's database +([\d,]+) \(the fleet logged ([\d,]+)\)", out)
    assert stored and stored.group(1) == stored.group(2), out


@pytest.mark.slow
def test_quick_run_on_sqlite_then_again_on_the_kept_folder(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    first = bench("--backend", "sqlite", "--dir", str(folder), "--keep")
    assert re.search(r"sqlite +roll-ups loaded vs the store's own backfill +the same", first), first
    assert "20,000 (the fleet logged 20,000)" in first, first  # --quick: 20,000 events, every one stored once
    assert re.search(r"sync, 4 kiosks' history \(the sample\) +[\d,]+ events", first), first  # the real sync path
    check_figures(first, "sqlite")
    assert (folder / "manifest.json").exists()

    again = bench("--backend", "sqlite", "--dir", str(folder), "--reuse")
    assert "loaded" not in again.replace("roll-ups loaded", ""), again  # measured without loading anything
    assert "kiosks' history" not in again, again  # the sample synced the first time
    check_figures(again, "sqlite")
    assert "20,600 (the fleet logged 20,600)" in again, again  # + the first run's three rounds of 4 x 50 events

    one = bench("--backend", "sqlite", "--dir", str(folder), "--reuse", "--only", "export")
    assert re.search(r"sqlite +CSV export, streamed +[\d,]+ rows", one), one
    assert not re.search(r"overview|events page|trace of|sync,", one), one  # only what --only named


@pytest.mark.slow
def test_quick_run_on_postgresql() -> None:
    if find_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (./run.sh test installs it)")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    out = bench("--backend", "postgresql")  # in a temporary folder: the postgres user must reach it (not tmp_path)
    assert re.search(r"postgresql +roll-ups loaded vs the store's own backfill +the same", out), out
    check_figures(out, "postgresql")
    folder = re.search(r"; in (\S+)$", out.splitlines()[0])
    assert folder, out
    assert not Path(folder.group(1)).exists()  # without --keep the databases (and the server's folder) are gone
