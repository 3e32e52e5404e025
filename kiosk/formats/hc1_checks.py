"""HC1, the EU Digital COVID Certificate / WHO format (spec section 9): its checks, in their order. Pure.

Decoding and the signature are kiosk/formats/hc1.py's; the document signer certificates (DSCs) travel in the
trust bundle (kiosk/dsc.py, TrustBundle.dscs); the content rules are kiosk/formats/hc1_rules.py's. This module
says in which order they run and what a verified code shows (spec sections 5 and 9).
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import TYPE_CHECKING

from kiosk.errors import MalformedCode
from kiosk.formats.credential import Checked, Credential
from kiosk.formats.hc1_rules import content_reason
from kiosk.policy import Policy
from kiosk.trust import TrustStore

if TYPE_CHECKING:
    from kiosk.dsc import Dsc
    from kiosk.formats.hc1 import Dcc

SUBJECT_LENGTH = 16  # bytes of SHA-256 of the UVCI: the same length as PHC1's subject, for the log's subject_ref
MAX_MASKED = 24  # characters shown of one masked name part: the stars say there is a name, not all of it


class Hc1:
    name = "hc1"
    prefix = "HC1:"  # kiosk.formats.hc1.PREFIX, written out: that module loads `cryptography` (see check)

    def check(self, text: str, trust: TrustStore, policy: Policy, now: float) -> Checked:
        """unknown_key, bad_signature, the DSC's checks, the code's times, then the content rules."""
        # Imported with the first HC1 code: `kiosk verify` of a PHC1 code never loads `cryptography`.
        from kiosk.formats import hc1

        try:
            scanned = hc1.decode_text(text)
        except MalformedCode:
            return Checked("malformed")
        kid = scanned.kid
        candidates = trust.bundle.dscs.get(kid, ()) if kid is not None else ()
        if not candidates:
            return Checked("unknown_key", kid)
        signers = [dsc for dsc in candidates if hc1.verify(scanned, dsc.public_key)]
        if not signers:
            return Checked("bad_signature", kid)
        dcc = scanned.dcc
        # 8 bytes of a hash may name more than one DSC: one that passes every check of a DSC signs, if any does.
        judged = [(d, key_reason(d, dcc, policy, now)) for d in signers]
        dsc, reason = next((found for found in judged if found[1] is None), judged[0])
        credential = credential_of(dcc, dsc)
        if kid in trust.bundle.revoked:
            return Checked("key_revoked", kid, credential)
        reason = reason or content_reason(dcc.certificate, dcc.entry, policy.hc1, now)
        if reason == "malformed":  # a field a content rule needs is unreadable: shown as no code at all
            return Checked(reason, kid)
        return Checked(reason, kid, credential)


def key_reason(dsc: Dsc, dcc: Dcc, policy: Policy, now: float) -> str | None:
    """The DSC's checks and the code's times, in the order of spec section 9 (the key's revocation before them)."""
    if not dsc.covers(dcc.iat):
        return "key_expired"
    if dcc.certificate not in dsc.certificates:
        return "wrong_key_usage"
    if dcc.iss is not None and dsc.country is not None and dcc.iss.upper() != dsc.country.upper():
        return "issuer_mismatch"
    if dcc.iat > now + policy.skew:
        return "not_yet_valid"
    if dcc.exp < now - policy.skew:
        return "expired"
    # The DSC at the clock, after the code's own times: a code past its exp is "expired" whatever its DSC says (the
    # catalogue's CO17). The DSC's start needs no check at the clock: not_before <= iat <= now + skew by now.
    if now - policy.skew > dsc.not_after:
        return "key_expired"
    return None


def credential_of(dcc: Dcc, dsc: Dsc) -> Credential:
    """What a verified DCC shows: the issuing country, a subject from its UVCI, the masked name; never the dob."""
    subject = hashlib.sha256(dcc.uvci.encode()).digest()[:SUBJECT_LENGTH] if dcc.uvci else None
    return Credential("hc1", dcc.iss or dsc.country, dcc.iat, dcc.exp, subject, None, dcc.certificate,
                      masked_name(dcc.family or dcc.family_latin, dcc.given), None)


def masked_name(family: str | None, given: str | None) -> str | None:
    """The family name's first character, every other letter starred: "Müller", "Max" -> "M***** ***".

    The native script where the code has it (the caller passes nam.fn before nam.fnt). Spaces stay, so a
    volunteer sees how many names there are; no part shows more than MAX_MASKED characters.
    """
    parts = [unicodedata.normalize("NFC", part).strip()[:MAX_MASKED] for part in (family, given) if part]
    parts = [part for part in parts if part]
    if not parts:
        return None
    starred = ["".join(" " if c.isspace() else "*" for c in part) for part in parts]
    first = parts[0][0]
    starred[0] = (first if first.isprintable() else "*") + starred[0][1:]
    return " ".join(starred)


HC1 = Hc1()
