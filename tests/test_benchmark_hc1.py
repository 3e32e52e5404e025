"""benchmarks/hc1.py and benchmarks/hc1_frames.py run: smoke runs with tiny numbers (--quick), so the scripts
cannot rot.

They are benchmarks, not tests of speed: nothing here looks at how fast anything was (a shared machine decides
that). What is held is that each script still does its whole job: every figure the issue asks for is printed
beside its goal, the codes it times are valid ones (decide() passes them), and the dense HC1 codes really are of
the QR versions the issue names, rendered and read.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANG = 900  # seconds: only against a hang
RATE = r"[\d,]+/s \( *[\d.]+ us\)"


def bench(script: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"], capture_output=True,
                          text=True, timeout=HANG, cwd=ROOT)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_decide_speed_reports_each_algorithm_against_its_signature_check() -> None:
    out = bench("hc1.py")
    for alg, key in (("ES256", "ECDSA P-256"), ("PS256", "RSA-PSS 3072")):
        part = out.split(f"{alg} ({key})", 1)[1].split("\n\n", 1)[0]
        for figure in (f"{key} verify alone \\(cryptography\\)", "hc1.verify", "hc1.decode_text alone",
                       "decide\\(\\): decode \\+ DSC \\+ verify \\+ all checks"):
            assert re.search(rf"^  {figure}.* {RATE} +\[wall +[\d,]+/s\]$", part, re.M), (figure, part)
        assert re.search(r"^  decide\(\) / verify alone: [\d.]+ ", part, re.M), part
        assert re.search(rf"^{alg} decide\(\) [\d,]+/s \(goal: >= 5,000/s\): (met|MISSED)$", out, re.M), out


@pytest.mark.slow  # renders 16 frames of 1280x720
def test_dense_frames_report_read_rate_and_decode_time_against_phc1() -> None:
    out = bench("hc1_frames.py")
    versions = re.search(r"^8 HC1 codes \(ES256, \d+-\d+ characters; QR version at level M: (.*?)\) and 8 PHC1 "
                         r"codes \(version 9, ", out, re.M)
    assert versions, out
    # Two codes of each version 12 to 15 (what ES256 DCCs take at level M; the script's docstring says why).
    assert versions.group(1) == "v12 2, v13 2, v14 2, v15 2", versions.group(1)
    for name in ("HC1", "PHC1"):
        assert re.search(rf"^{name} +read on the first frame +\d+/8 \( *[\d.]+%\), within 10 frames +\d+/8 +CPU "
                         r"median +[\d.]+ ms, p95 +[\d.]+ ms +\[wall median +[\d.]+ ms\]$", out, re.M), out
    assert re.search(r"^HC1 read on the first frame, by version: v12 \d/2, v13 \d/2, v14 \d/2, v15 \d/2$", out, re.M)
    assert re.search(r"^HC1 read rate on the first frame [\d.]+% \(goal: >= 99%\): (met|MISSED)$", out, re.M), out
    assert re.search(r"^HC1 median decode / PHC1 median decode [\d.]+x \(goal: <= 2x\): (met|MISSED)$", out, re.M)
