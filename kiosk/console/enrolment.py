"""What an admin pastes to enrol a kiosk, read: the public key `kiosk device show` prints (its whole output, its
`--json`, its "enroll" line, or the 64 hex digits alone) and the kiosk's name. Pure; hostile text in, one-line
errors out (ValueError).
"""

from __future__ import annotations

import re
import shlex

from kiosk.device_names import name_problem

MAX_PASTE = 4096  # characters: `kiosk device show` prints about 400
_KEY = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")


def public_key(pasted: str) -> bytes:
    """The one Ed25519 public key (32 bytes) in `pasted`; ValueError when there is none, or more than one."""
    if len(pasted) > MAX_PASTE:
        raise ValueError(f"public key: at most {MAX_PASTE} characters (paste what `kiosk device show` prints)")
    keys = {found.lower() for found in _KEY.findall(pasted)}
    if not keys:
        raise ValueError("public key: no key of 64 hex digits in what was pasted (`kiosk device show` prints it "
                         "as \"public key\")")
    if len(keys) > 1:
        raise ValueError(f"public key: {len(keys)} different keys of 64 hex digits in what was pasted: paste one "
                         "kiosk's")
    return bytes.fromhex(keys.pop())


def pasted_name(pasted: str) -> str:
    """The name of the "enroll" line `kiosk device show` prints (`... --name 'Gate 2'`), or "" if none."""
    for line in pasted.splitlines():
        if "--name" not in line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:  # unbalanced quotes: no name to take
            return ""
        for i, word in enumerate(words):
            if word == "--name" and i + 1 < len(words):
                return words[i + 1]
            if word.startswith("--name="):
                return word.removeprefix("--name=")
    return ""


def kiosk_name(typed: str, pasted: str) -> str:
    """The name to enrol the kiosk under: the one typed, else the enroll line's; ValueError when it cannot be a
    kiosk's name (kiosk/device_names.py)."""
    name = typed.strip() or pasted_name(pasted)
    if problem := name_problem(name):
        raise ValueError(f"name: {problem}")
    return name
