"""Ed25519 key files: one line of 64 hex digits each.

A `.pub` file holds the 32-byte public key, the same format as the pinned
roots of a trust directory; a `.key` file holds the 32-byte private seed and is
created with mode 0600.
"""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from kiosk.cose import kid_of
from kiosk.errors import KeyFileError
from kiosk.fileio import write_new_private
from kiosk.trust import parse_root


def _read_hex32(path: Path, what: str) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise KeyFileError(f"{path}: cannot read the {what}: {err}") from None
    try:
        return parse_root(text)
    except ValueError as err:
        raise KeyFileError(f"{path}: not a {what}: {err}") from None


def read_public_key(path: Path) -> bytes:
    return _read_hex32(path, "public key")


def read_signing_key(path: Path) -> SigningKey:
    return SigningKey(_read_hex32(path, "private key"))


def generate(prefix: Path) -> tuple[Path, Path, bytes]:
    """Make a key pair: PREFIX.key (0600) and PREFIX.pub; returns both paths and the kid."""
    key_path, pub_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for path in (key_path, pub_path):
        if path.exists():
            raise KeyFileError(f"{path} exists already; refusing to overwrite a key")
    key = SigningKey.generate()
    public = bytes(key.verify_key)
    write_new_private(key_path, bytes(key).hex() + "\n")
    pub_path.write_text(public.hex() + "\n", encoding="ascii")
    return key_path, pub_path, kid_of(public)
