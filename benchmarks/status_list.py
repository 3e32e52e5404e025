"""A status list of 1,000,000 entries: load time, cost per verdict, resident memory.

Goals (issue 2): loads in under 2 s, adds under 5 us per verdict, under 250 MB resident.
Run: .venv/bin/python benchmarks/status_list.py [ENTRIES]
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nacl.signing import SigningKey

from kiosk.issuer import KeyGrant, issue_code, sign_bundle, sign_status_list
from kiosk.policy import Policy
from kiosk.trust import TrustStore
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import decide


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    root, issuer = SigningKey.generate(), SigningKey.generate()
    now = int(time.time())
    folder = Path(tempfile.mkdtemp(prefix="status-bench-"))
    (folder / "roots").mkdir()
    (folder / "roots" / "root.pub").write_text(bytes(root.verify_key).hex())
    grant = KeyGrant(bytes(issuer.verify_key), "CN-120000", now - 86400, now + 86400)
    (folder / "trust.cose").write_bytes(sign_bundle(root, seq=1, iat=now, keys=[grant]))
    subjects = [os.urandom(16) for _ in range(count)]
    data = sign_status_list(issuer, seq=1, iat=now, iss="CN-120000",
                            entries=((s, i % 3, now - 86400 + i) for i, s in enumerate(subjects)))
    (folder / "status.cose").write_bytes(data)
    del data
    (folder / "probes.bin").write_bytes(b"".join(subjects[:: max(1, count // 2000)]))
    (folder / "issuer.key").write_text(bytes(issuer).hex())
    del subjects
    print(f"status.cose: {count:,} entries, {(folder / 'status.cose').stat().st_size / 1e6:.1f} MB")
    # Measure in a fresh interpreter so that making the file above does not count in its memory.
    subprocess.run([sys.executable, __file__, "--measure", str(folder), str(now)], check=True)


def measure(folder: Path, now: int) -> None:
    raw = (folder / "probes.bin").read_bytes()
    probes = [raw[i : i + 16] for i in range(0, len(raw), 16)]
    issuer = SigningKey(bytes.fromhex((folder / "issuer.key").read_text()))
    _measure(folder, issuer, probes, now)


def _measure(folder: Path, issuer: SigningKey, probes: list[bytes], now: int) -> None:
    gc.collect()
    import kiosk.status_list  # noqa: F401  (imports are not the list's memory)

    base_rss = rss_mb()[0]
    started = time.perf_counter()
    store = load_trust_dir(folder)
    loaded = time.perf_counter() - started
    current, peak = rss_mb()
    assert store.status is not None and len(store.status) > 0, store.warnings
    print(f"load (verify signature + index): {loaded:.2f} s; resident {current:.0f} MB "
          f"(peak {peak:.0f} MB, {base_rss:.0f} MB before loading)")
    without = TrustStore(store.bundle)  # the same trust, without the status list
    policy = Policy()
    texts = [issue_code(issuer, iss="CN-120000", status=0, iat=now - 30, exp=now + 3600, subject=s,
                        kind=1)[0] for s in probes]
    for label, trust in (("verdict without status list", without), ("verdict with 1M status list", store)):
        best = min(_per_verdict(texts, trust, policy, now) for _ in range(5))
        print(f"{label:<32} {best:6.1f} us")
    lookups = min(_per_lookup(store, probes) for _ in range(5))
    print(f"status lookup alone              {lookups:6.2f} us  (the cost a verdict pays for the list)")


def _per_verdict(texts, trust, policy, now) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for text in texts:
        decide(text, trust, policy, None, now)
    return (time.perf_counter() - started) / len(texts) * 1e6


def _per_lookup(store, probes) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(20):
        for subject in probes:
            store.status.lookup(subject)
    return (time.perf_counter() - started) / (20 * len(probes)) * 1e6


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
