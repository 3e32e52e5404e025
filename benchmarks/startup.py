"""How long the `kiosk` command takes to start: `kiosk verify` and `kiosk --help`, against Python itself.

A gate script may run `kiosk verify` once a person, so it must start about as fast as
Python loading the two libraries a verification needs. Goal (issue 12): the median wall
time of `kiosk verify` (a valid code, the demo trust) and of `kiosk --help` within 3x of
`python -c "import nacl.signing, cbor2"` on the same machine. The commands run in turns,
round after round, so a busy moment of the machine falls on all of them alike; the CPU time
(user + system, of the process alone) is printed beside, as it varies less on a busy machine.
Run: .venv/bin/python benchmarks/startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIOSK = str(Path(sys.executable).with_name("kiosk"))  # the command pip installed beside this interpreter
DEMO = ROOT / "kiosk" / "demo_keys"
GOAL = 3.0  # times the baseline
HEAVY = ("numpy", "cv2", "httpx", "sqlite_utils", "kivy", "serial", "starlette")


def commands() -> dict[str, list[str]]:
    code = subprocess.run([KIOSK, "issue", "--key", str(DEMO / "private" / "tianjin.key"), "--iss", "CN-120000"],
                          check=True, capture_output=True, text=True).stdout.strip()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "baseline: import nacl.signing, cbor2": [sys.executable, "-c", "import nacl.signing, cbor2"],
        "kiosk --help": [KIOSK, "--help"],
        "kiosk verify (valid code)": [KIOSK, "verify", "--trust", str(DEMO), code],
        "kiosk verify --help": [KIOSK, "verify", "--help"],
        "kiosk trust show": [KIOSK, "trust", "show", "--trust", str(DEMO)],
    }


def timed(argv: list[str], name: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run, in ms."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{name}: exit {process.returncode}: {err.decode(errors='replace').strip()}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def modules_loaded(argv: list[str]) -> tuple[int, list[str]]:
    """How many modules the command imports, and which of the heavy libraries among them."""
    probe = ("import sys\nfrom kiosk.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})\n"
             "print(len(sys.modules), *heavy, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=False)
    last = done.stderr.splitlines()[-1].split()
    return int(last[0]), last[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="runs of each command (default 21)")
    args = parser.parse_args()
    runs = commands()
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for argv in runs.values():  # once each, unmeasured: the file cache warm for all alike
        subprocess.run(argv, capture_output=True, check=False)
    for _ in range(args.rounds):
        for name, argv in runs.items():
            wall, used = timed(argv, name)
            times[name].append(wall)
            cpu[name].append(used)
    baseline = statistics.median(times["baseline: import nacl.signing, cbor2"])
    baseline_cpu = statistics.median(cpu["baseline: import nacl.signing, cbor2"])
    print(f"{args.rounds} runs each, in turns; the whole process, in ms")
    print(f"{'command':<38} {'median':>7} {'min':>6} {'p90':>6} {'x base':>7} | {'CPU':>6} {'x base':>7} | "
          f"{'modules':>7}  heavy imports")
    for name, argv in runs.items():
        ordered = sorted(times[name])
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        median, median_cpu = statistics.median(ordered), statistics.median(cpu[name])
        loaded, heavy = modules_loaded(argv[1:]) if argv[0] == KIOSK else (0, [])
        shown = f"{loaded:>7}  {' '.join(heavy) or '-'}" if argv[0] == KIOSK else ""
        print(f"{name:<38} {median:>7.1f} {ordered[0]:>6.1f} {p90:>6.1f} {median / baseline:>6.1f}x | "
              f"{median_cpu:>6.1f} {median_cpu / baseline_cpu:>6.1f}x | {shown}")
    for name in ("kiosk verify (valid code)", "kiosk --help"):
        ratio = statistics.median(times[name]) / baseline
        print(f"goal: {name} within {GOAL:.0f}x of the baseline: {ratio:.1f}x, {'met' if ratio <= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
