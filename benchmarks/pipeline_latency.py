"""From a frame entering the pipeline to its verdict, at 30 fps, 1280x720.

Goal (issue 3): p95 at most 15 ms, and the pipeline keeps up with 30 fps
without dropping the frame that holds a code.
A rendered video of a queue (each person: no code for a moment, then their code
in a random hard-but-readable look) is played at its own 30 fps through
cv2.VideoCapture, the capture thread, the decoder and decide().
Run: .venv/bin/python benchmarks/pipeline_latency.py [PEOPLE]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from nacl.signing import SigningKey

from kiosk.cose import kid_of
from kiosk.issuer import KeyGrant, issue_code, sign_bundle
from kiosk.policy import Policy
from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.synth import random_look, render_frame, write_video
from kiosk.scanner.types import Scan
from kiosk.trust import TrustStore, parse_bundle
from kiosk.verdict import decide

FPS, SIZE = 30, (1280, 720)


def main() -> None:
    people = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    root, issuer = SigningKey.generate(), SigningKey.generate()
    now = int(time.time())
    grant = KeyGrant(bytes(issuer.verify_key), "CN-120000", now - 86400, now + 86400)
    trust = TrustStore(parse_bundle(sign_bundle(root, seq=1, iat=now, keys=[grant]),
                                    {kid_of(bytes(root.verify_key)): bytes(root.verify_key)}))
    rng = np.random.default_rng(7)
    texts, frames = [], []
    for person in range(people):
        text = issue_code(issuer, iss="CN-120000", status=0, iat=now - 20, exp=now + 3600)[0]
        texts.append(text)
        frames += [render_frame(None, random_look(rng, SIZE), seed=person)] * 15  # stepping up
        look = random_look(rng, SIZE)
        frames += [render_frame(text, look, seed=1000 + person + i) for i in range(3)] * 5  # holding it out
    path = Path(tempfile.mkdtemp()) / "queue.avi"
    write_video(path, frames, FPS)
    print(f"{people} people, {len(frames)} frames of {SIZE[0]}x{SIZE[1]} at {FPS} fps ({len(frames) / FPS:.1f} s)")

    latencies: list[float] = []
    verdicts: list[str] = []

    def on_scan(scan: Scan) -> None:
        verdict = decide(scan.text, trust, Policy(), None, time.time())
        assert scan.frame_at is not None
        latencies.append((time.monotonic() - scan.frame_at) * 1000)
        verdicts.append(verdict.reason)

    pipeline = CameraPipeline(CaptureSource(str(path), pace=True), ChainDecoder(), holdoff=5.0)
    pipeline.start(on_scan)
    pipeline.wait_until_done(timeout=len(frames) / FPS + 30)
    pipeline.stop()
    stats = pipeline.stats
    read = len(set(texts) & set(pipeline.gate._last_seen))
    print(f"frames {stats.frames}, decoded {stats.decoded}, dropped {stats.dropped}; "
          f"people scanned {read}/{people}, verdicts {statistics.mode(verdicts) if verdicts else '-'}")
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(f"frame -> verdict: median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, "
              f"max {ordered[-1]:.1f} ms over {len(ordered)} scans")
    print(f"decode per frame: median {stats.decode_ms_median:.2f} ms")


if __name__ == "__main__":
    main()
