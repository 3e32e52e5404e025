"""The kiosk's own identity: an Ed25519 key made on first start, which signs what it uploads.

The private part never leaves the kiosk (mode 0600); the collector enrolls the
public part. The device id is the key's kid (first 8 bytes of SHA-256 of the
public key, as for issuer keys), so it cannot be claimed without the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

from kiosk.cose import kid_of
from kiosk.errors import KeyFileError
from kiosk.fileio import data_path, write_new_private
from kiosk.keyfiles import private_key_text, read_signing_key


def default_key_path() -> Path:
    """$KIOSK_DEVICE_KEY, else kiosk/device.key under the XDG data folder (~/.local/share)."""
    return data_path("KIOSK_DEVICE_KEY", "device.key")


@dataclass(frozen=True)
class DeviceIdentity:
    key: SigningKey
    path: Path

    @property
    def public(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def id(self) -> str:
        return kid_of(self.public).hex()


def load_or_create(path: Path | None = None) -> tuple[DeviceIdentity, bool]:
    """The identity at `path`, made there (0600) if there is none yet; (identity, whether it was made now)."""
    path = path or default_key_path()
    made = False
    if not path.exists():
        try:
            write_new_private(path, private_key_text(SigningKey.generate()))
            made = True
        except FileExistsError:
            pass  # another process made it a moment ago: use that one
        except OSError as err:
            raise KeyFileError(f"{path}: cannot create the device key: {err}") from None
    return DeviceIdentity(read_signing_key(path), path), made
