"""Ed25519 key files.

A `.pub` file is one line of 64 hex digits, the 32-byte public key: the same
format as the pinned roots of a trust directory. A `.key` file is a comment line
that says it is private, then the 32-byte seed in 64 hex digits. Both modes are
set explicitly, whatever the umask: 0600 for the `.key`, 0644 for the `.pub`
(under umask 000 a `.pub` anyone may rewrite could be swapped for another key
before it is granted in a bundle). The comment keeps one from being taken for
the other: a private seed given as a `.pub` would otherwise be published in a
trust bundle.
"""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from kiosk.cose import kid_of
from kiosk.errors import KeyFileError
from kiosk.fileio import write_new, write_new_private
from kiosk.trust import parse_root

PRIVATE_MARK = "# kiosk Ed25519 private key (seed): keep it secret, never copy it to a kiosk"


def private_key_text(key: SigningKey) -> str:
    return f"{PRIVATE_MARK}\n{bytes(key).hex()}\n"


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise KeyFileError(f"{path}: cannot read the {what}: {err}") from None


def read_public_key(path: Path) -> bytes:
    text = _read(path, "public key")
    if PRIVATE_MARK in text:
        raise KeyFileError(f"{path}: this is a private key; give its .pub file")
    try:
        return parse_root(text)
    except ValueError as err:
        raise KeyFileError(f"{path}: not a public key: {err}") from None


def read_signing_key(path: Path) -> SigningKey:
    lines = _read(path, "private key").splitlines()
    if not lines or lines[0].strip() != PRIVATE_MARK:
        raise KeyFileError(f"{path}: not a private key made by kiosk keygen (a .pub file?)")
    try:
        return SigningKey(parse_root("\n".join(lines[1:])))
    except ValueError as err:
        raise KeyFileError(f"{path}: not a private key: {err}") from None


def generate(prefix: Path) -> tuple[Path, Path, bytes]:
    """Make a key pair: PREFIX.key (0600) and PREFIX.pub (0644); returns both paths and the kid."""
    key_path, pub_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for path in (key_path, pub_path):
        if path.exists():
            raise KeyFileError(f"{path} exists already; refusing to overwrite a key")
    key = SigningKey.generate()
    public = bytes(key.verify_key)
    write_new_private(key_path, private_key_text(key))
    write_new(pub_path, public.hex() + "\n", 0o644)
    return key_path, pub_path, kid_of(public)
