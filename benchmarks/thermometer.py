"""Thermometer polling: query-to-reading time at 9600 baud, and the poller's CPU at 10 polls a second.

Goals (issue 4): a reading within 30 ms of the query (the 12 bytes on the wire
take ~12.5 ms), and the poller under 2% of a core at 10 polls per second.
The device is the simulator in another process, answering at the speed of a
9600-baud wire, so this process's CPU time is the poller's alone.
Run: .venv/bin/python benchmarks/thermometer.py [SECONDS] [PROTOCOL]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from kiosk.thermometer.poller import ThermometerPoller
from kiosk.thermometer.protocols import make_driver

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {"gy906": [], "modbus": ["--set", "slave=1"], "textline": ["--set", 'template="T={object}"']}


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    protocol = sys.argv[2] if len(sys.argv) > 2 else "gy906"
    simulator = subprocess.Popen([sys.executable, "-m", "kiosk", "thermometer", "simulate", "--protocol", protocol,
                                  *OPTIONS[protocol]], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert simulator.stdout is not None
        port = simulator.stdout.readline().strip()
        driver = make_driver(protocol, {"slave": 1} if protocol == "modbus" else
                             {"template": "T={object}"} if protocol == "textline" else {})
        poller = ThermometerPoller(port, driver, interval=0.1)
        poller.start()
        time.sleep(1.0)  # warm up: open the port, first replies
        poller.latencies.clear()
        readings_before = poller.state.readings
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        state = poller.state
        poller.stop()
    finally:
        simulator.terminate()
        simulator.wait(10)
    latencies = sorted(x * 1000 for x in poller.latencies)
    polls = state.readings - readings_before
    print(f"{protocol} at 9600 baud, {wall:.1f} s, {polls} readings ({polls / wall:.1f}/s), "
          f"{state.missed_polls} missed polls, {state.errors} bad frames")
    if latencies:
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        print(f"query -> reading: median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
              f"max {latencies[-1]:.1f} ms")
    print(f"poller CPU: {100 * cpu / wall:.2f}% of one core")


if __name__ == "__main__":
    main()
