"""PHC1, this project's own format (spec sections 1-5): its checks, from the decoder to the status list. Pure.

Moved here unchanged from kiosk/verdict.py when HC1 joined (issue 15): the same checks in the same order,
so PHC1's verdicts and JSON stay what they were (tests/test_spec_vectors.py).
"""

from __future__ import annotations

from kiosk import cose
from kiosk.errors import MalformedCode
from kiosk.formats.credential import Checked, Credential
from kiosk.healthcode import AMBER, DYNAMIC, KIND_NAMES, PREFIX, PRINTED, RED, HealthCode, decode_text
from kiosk.policy import Policy
from kiosk.trust import TrustStore


def credential_of(code: HealthCode) -> Credential:
    """A PHC1 code's claims in the words every format shares."""
    return Credential("phc1", code.iss, code.iat, code.exp, code.subject, KIND_NAMES[code.kind], None, code.name,
                      code.status)


class Phc1:
    name = "phc1"
    prefix = PREFIX

    def check(self, text: str, trust: TrustStore, policy: Policy, now: float) -> Checked:
        """Spec section 5's checks 2 to 13, in order."""
        try:
            scanned = decode_text(text)
        except MalformedCode:
            return Checked("malformed")
        kid = scanned.sign1.kid
        key = trust.bundle.keys.get(kid)
        if key is None:
            return Checked("unknown_key", kid)
        if not cose.verify(scanned.sign1, key.pub):
            return Checked("bad_signature", kid)
        code = scanned.code
        status = trust.effective_status(code)
        credential = credential_of(code)

        def checked(reason: str | None) -> Checked:
            return Checked(reason, kid, credential, code, status)

        if kid in trust.bundle.revoked:
            return checked("key_revoked")
        if not key.covers(code.iat):
            return checked("key_expired")
        if code.iss != key.iss:
            return checked("issuer_mismatch")
        if code.iat > now + policy.skew:
            return checked("not_yet_valid")
        if code.exp < now - policy.skew:
            return checked("expired")
        if code.kind == DYNAMIC and now - code.iat > policy.max_age:
            return checked("too_old")
        if code.kind == PRINTED and not policy.accept_printed:
            return checked("printed_not_accepted")
        if status == RED:
            return checked("status_red")
        if status == AMBER:
            return checked("status_amber")
        return checked(None)


PHC1 = Phc1()
