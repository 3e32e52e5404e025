"""The DCC payload (the `hcert` of an HC1 code) as an issuer writes it: the holder and one certificate entry.

For the issuing side only (kiosk/formats/hc1_issue.py signs what this builds). The fields and value sets are
the EU DCC schema's (version 1.3.0): a vaccination `v`, a test `t` or a recovery `r`, each a list of one entry.
Dates are ISO 8601 text, as the schema wants; times given here as epoch seconds are written in UTC.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

SCHEMA_VERSION = "1.3.0"
CERTIFICATE_KEYS = {"vaccination": "v", "test": "t", "recovery": "r"}
COVID_19 = "840539006"  # tg: the disease targeted (SNOMED CT)
NEGATIVE, POSITIVE = "260415000", "260373001"  # tr: "not detected", "detected"
TEST_TYPES = {"naat": "LP6464-4", "rat": "LP217198-3"}  # tt: nucleic acid amplification, rapid antigen
_UVCI_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Holder:
    """Whom the certificate names: `family` and `given` in the holder's own script, their ICAO 9303 Latin forms
    (made from the names when those are Latin letters), and the date of birth (YYYY-MM-DD, YYYY-MM or YYYY)."""

    family: str
    given: str | None = None
    family_latin: str | None = None
    given_latin: str | None = None
    dob: str = "1964-08-12"

    def nam(self) -> dict[str, str]:
        nam = {"fn": self.family, "fnt": self.family_latin or icao_latin(self.family)}
        if self.given is not None:
            nam |= {"gn": self.given, "gnt": self.given_latin or icao_latin(self.given)}
        return nam


def icao_latin(name: str) -> str:
    """The machine-readable form of a Latin-script name (ICAO 9303, simplified): upper case A-Z, `<` between
    words, accents dropped (Müller -> MULLER). A name in another script has no such form here: give it."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).upper()
    words = "".join(c if "A" <= c <= "Z" else " " if c in " -'" else "?" for c in plain).split()
    if not words or any("?" in word for word in words):
        raise ValueError("no Latin (ICAO 9303) form of this name: give it")
    return "<".join(words)


def uvci(country: str) -> str:
    """A random unique vaccination certificate identifier of `country` (UVCI, schema option 1)."""
    return f"URN:UVCI:01:{country}:" + "".join(secrets.choice(_UVCI_ALPHABET) for _ in range(26))


def day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).date().isoformat()


def instant(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def vaccinated(*, country: str, issuer: str, date: float, dose: int = 2, doses: int = 2,
                certificate_id: str | None = None) -> dict[str, object]:
    """A vaccination entry: dose `dose` of `doses` given on `date` (Comirnaty, as the schema's examples)."""
    return {"tg": COVID_19, "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": dose,
            "sd": doses, "dt": day(date), "co": country, "is": issuer, "ci": certificate_id or uvci(country)}


def tested(*, country: str, issuer: str, sampled: float, negative: bool = True, kind: str = "naat",
         centre: str = "Test centre 1", certificate_id: str | None = None) -> dict[str, object]:
    """A test entry: a sample taken at `sampled`, its result, a NAAT (PCR) or rapid antigen test."""
    entry: dict[str, object] = {"tg": COVID_19, "tt": TEST_TYPES[kind], "sc": instant(sampled),
                                "tr": NEGATIVE if negative else POSITIVE, "tc": centre, "co": country, "is": issuer,
                                "ci": certificate_id or uvci(country)}
    if kind == "rat":
        entry["ma"] = "1232"  # the device (the EU common list's identifier)
    else:
        entry["nm"] = "PCR test"
    return entry


def recovered(*, country: str, issuer: str, first_positive: float, valid_from: float | None = None,
             valid_until: float | None = None, certificate_id: str | None = None) -> dict[str, object]:
    """A recovery entry: the first positive test on `first_positive`; valid from 11 days after it to 180 by
    default, as the EU rules set them."""
    start = valid_from if valid_from is not None else first_positive + timedelta(days=11).total_seconds()
    end = valid_until if valid_until is not None else first_positive + timedelta(days=180).total_seconds()
    return {"tg": COVID_19, "fr": day(first_positive), "co": country, "is": issuer, "df": day(start),
            "du": day(end), "ci": certificate_id or uvci(country)}


def hcert(holder: Holder, certificate: str, entry: dict[str, object]) -> dict[str, object]:
    """The DCC of `holder` with one `certificate` ("vaccination", "test" or "recovery") entry."""
    return {"ver": SCHEMA_VERSION, "nam": holder.nam(), "dob": holder.dob, CERTIFICATE_KEYS[certificate]: [entry]}
