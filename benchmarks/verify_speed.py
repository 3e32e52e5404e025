"""Decode + verify of valid PHC1 codes on one core: codes per second and microseconds each.

Goal (issue 2): at least 10,000 per second; the Ed25519 check alone allows ~18,000.
Run: .venv/bin/python benchmarks/verify_speed.py
"""

from __future__ import annotations

import os
import statistics
import time

from nacl.signing import SigningKey

from kiosk import cose
from kiosk.healthcode import decode_text
from kiosk.issuer import KeyGrant, issue_code, sign_bundle
from kiosk.policy import Policy
from kiosk.trust import TrustStore, parse_bundle
from kiosk.verdict import Reading, decide

ROUNDS, PER_ROUND = 7, 5000


def main() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal says
    root, issuer = SigningKey.generate(), SigningKey.generate()
    now = int(time.time())
    grant = KeyGrant(bytes(issuer.verify_key), "CN-120000", now - 86400, now + 86400)
    bundle = parse_bundle(sign_bundle(root, seq=1, iat=now, keys=[grant]),
                          {cose.kid_of(bytes(root.verify_key)): bytes(root.verify_key)})
    store, policy = TrustStore(bundle), Policy(require_temperature=True)
    texts = [issue_code(issuer, iss="CN-120000", status=0, iat=now - 30, exp=now + 3600, name="张*明")[0]
             for _ in range(PER_ROUND)]
    reading = Reading(36.6, now)
    print(f"code text {len(texts[0])} characters, one core, {ROUNDS} rounds of {PER_ROUND}")
    for label, work in (
        ("decode only (base45+CBOR+COSE+claims)", lambda t: decode_text(t)),
        ("Ed25519 verify only", None),
        ("decide: decode + verify + all checks", lambda t: decide(t, store, policy, reading, now)),
    ):
        if work is None:
            scanned = [decode_text(t) for t in texts]
            key = bundle.keys[scanned[0].sign1.kid].pub
            rates = _rounds(lambda scanned=scanned, key=key: [cose.verify(s.sign1, key) for s in scanned])
        else:
            assert label.startswith("decode only") or decide(texts[0], store, policy, reading, now).reason == "ok"
            rates = _rounds(lambda work=work: [work(t) for t in texts])
        best, median = max(rates), statistics.median(rates)
        print(f"{label:<40} median {median:>8,.0f}/s ({1e6 / median:5.1f} us)   best {best:>8,.0f}/s")


def _rounds(run) -> list[float]:  # type: ignore[no-untyped-def]
    rates = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        rates.append(PER_ROUND / (time.perf_counter() - started))
    return rates


if __name__ == "__main__":
    main()
