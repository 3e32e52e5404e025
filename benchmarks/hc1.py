"""decide() on valid HC1 (EU DCC) codes on one core, ES256 and PS256, against the signature check alone.

Goal (issue 15): decide() on a valid HC1 ES256 code at least 5,000 per second on one core; the same for RSA-PSS
(PS256, RSA 3072); say what ECDSA P-256 verify alone allows here, and the ratio. Each code is a vaccination
certificate signed by a DSC made with kiosk/formats/hc1_issue.py and listed in a trust bundle signed by a root,
as a kiosk has it; decide() is the whole verdict: prefix, Base45, inflate, CBOR, COSE, the DSC by kid, its
validity and key usage, the signature, time and the [hc1] content rules, and the temperature rules with a
reading. "verify alone" is `cryptography`'s verify of the DER signature over a prepared Sig_structure: what the
library allows with no decoding at all; "hc1.verify" adds what the decoder does per code (r||s to DER, the
Sig_structure's CBOR). Rates are the median of --rounds rounds, by the thread's CPU time (on a shared machine,
time other processes take from the core is not the verifier's), then by wall time.
Run: .venv/bin/python benchmarks/hc1.py [--codes N] [--rounds R] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from nacl.signing import SigningKey

from kiosk import cose
from kiosk.formats import hc1
from kiosk.formats import hc1_payload as dcc
from kiosk.formats.hc1_issue import Signer, make_csca, make_dsc, sign_hc1
from kiosk.issuer import sign_bundle
from kiosk.policy import Policy
from kiosk.trust import TrustStore, parse_bundle
from kiosk.verdict import Reading, decide

GOAL = 5000  # decide() per second, each algorithm
DAY = 86400


def signers(now: int) -> dict[str, Signer]:
    csca = make_csca("DE", not_before=now - DAY, not_after=now + 3650 * DAY)
    return {alg: make_dsc(csca, country="DE", not_before=now - DAY, not_after=now + 365 * DAY, alg=alg)
            for alg in ("es256", "ps256")}


def trust(now: int, dscs: list[Signer]) -> TrustStore:
    root = SigningKey.generate()
    data = sign_bundle(root, seq=1, iat=now, keys=[], dscs=[signer.der for signer in dscs])
    return TrustStore(parse_bundle(data, {cose.kid_of(bytes(root.verify_key)): bytes(root.verify_key)}))


def codes(signer: Signer, count: int, now: int) -> list[str]:
    """`count` valid vaccination certificates (each its own id and signature: nothing is cached between them)."""
    holder = dcc.Holder("Mustermann", "Erika")
    return [sign_hc1(signer, iss="DE", iat=now - 3600, exp=now + 365 * DAY, hcert=dcc.hcert(
        holder, "vaccination", dcc.vaccinated(country="DE", issuer="Robert Koch-Institut", date=now - 60 * DAY)))
            for _ in range(count)]


def rounds(work: Callable[[], int], count: int, repeat: int) -> tuple[float, float]:
    """Codes per second of `repeat` runs of `work` over `count` codes: the median by CPU time, and by wall time."""
    work()  # warm up: first calls load and cache
    cpu, wall = [], []
    for _ in range(repeat):
        started = time.thread_time(), time.perf_counter()
        work()
        cpu.append(count / (time.thread_time() - started[0]))
        wall.append(count / (time.perf_counter() - started[1]))
    return statistics.median(cpu), statistics.median(wall)


def der_signatures(scanned: list[hc1.ScannedDcc]) -> list[tuple[bytes, bytes]]:
    """Each code's signature as `cryptography` takes it, and its Sig_structure, made beforehand."""
    prepared = []
    for s in scanned:
        data = cbor2.dumps(["Signature1", s.protected, b"", s.payload])
        signature = s.signature
        if s.alg == hc1.ALG_ES256:
            r, s_ = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            signature = encode_dss_signature(r, s_)
        prepared.append((signature, data))
    return prepared


def raw_verify(public_key: object, prepared: list[tuple[bytes, bytes]]) -> Callable[[], int]:
    def run() -> int:
        for signature, data in prepared:
            if isinstance(public_key, ec.EllipticCurvePublicKey):
                public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            elif isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                                  hashes.SHA256())
        return len(prepared)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=3000, help="codes a round (default 3000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 codes, 2 rounds")
    args = parser.parse_args()
    count, repeat = (50, 2) if args.quick else (args.codes, args.rounds)
    if count < 1 or repeat < 1:
        parser.error("--codes and --rounds at least 1")
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal says
    now = int(time.time())
    made = signers(now)
    store, policy, reading = trust(now, list(made.values())), Policy(require_temperature=True), Reading(36.6, now)
    print(f"one core; {count} codes a round, {repeat} rounds; the median round's rate by CPU time (the thread's: "
          "time other processes take from the core is not counted), then by wall time")
    results: dict[str, dict[str, float]] = {}
    for alg, signer in made.items():
        texts = codes(signer, count, now)
        verdict = decide(texts[0], store, policy, reading, now)
        assert verdict.reason == "ok", f"{alg}: a valid code was decided {verdict.reason}"
        scanned = [hc1.decode_text(text) for text in texts]
        public_key = signer.certificate.public_key()
        key_name = "ECDSA P-256" if alg == "es256" else "RSA-PSS 3072"
        print(f"\n{alg.upper()} ({key_name}), code text {len(texts[0])} characters")
        figures = {}
        for label, work in (
            (f"{key_name} verify alone (cryptography)", raw_verify(public_key, der_signatures(scanned))),
            ("hc1.verify (r||s to DER, Sig_structure, verify)",
             lambda scanned=scanned, key=public_key: sum(hc1.verify(s, key) for s in scanned)),
            ("hc1.decode_text alone (Base45, inflate, CBOR)",
             lambda texts=texts: len([hc1.decode_text(t) for t in texts])),
            ("decide(): decode + DSC + verify + all checks",
             lambda texts=texts: len([decide(t, store, policy, reading, now) for t in texts])),
        ):
            figures[label], wall = rounds(work, count, repeat)
            print(f"  {label:<50} {figures[label]:>9,.0f}/s ({1e6 / figures[label]:6.1f} us)   [wall {wall:>7,.0f}/s]")
        decided = figures["decide(): decode + DSC + verify + all checks"]
        alone = figures[f"{key_name} verify alone (cryptography)"]
        results[alg] = {"decide": decided, "alone": alone}
        print(f"  decide() / verify alone: {decided / alone:.2f} (the signature takes {100 * decided / alone:.0f}% "
              f"of decide()'s time)")
    print()
    for alg, figures in results.items():
        verdict_word = "met" if figures["decide"] >= GOAL else "MISSED"
        print(f"{alg.upper()} decide() {figures['decide']:,.0f}/s (goal: >= {GOAL:,}/s): {verdict_word}")


if __name__ == "__main__":
    main()
