"""Every error the kiosk raises on purpose, drawn and defined once here.

    KioskError                a message for people: the CLI prints it as one line and exits 2
    ├── MalformedCode         a scanned code that breaks the wire format (reason `malformed`)
    ├── TrustFileError        a trust file that cannot be read or does not verify
    │   └── ImportRefused     a trust file refused by `kiosk trust import`
    ├── KeyFileError          an issuer key file that cannot be read
    ├── ConfigError           a configuration file or value that makes no sense
    ├── ImageError            a picture that cannot be read (`kiosk decode`, `kiosk verify --image`)
    ├── LogWriteError         the audit log cannot be opened, read or written; nothing was half-written
    ├── ExportError           an export or report that cannot be written
    ├── SyncError             a sync pass that did not finish (the kiosk's side)
    │   ├── SyncUnavailable   the collector unreachable or silent
    │   └── SyncRefused       the collector refused a batch (`code`); resending will not help by itself
    ├── BatchRefused          the collector's side: a batch it will not take (`code`, the HTTP `status`)
    ├── StoreError            the collector's database cannot be opened, read or written
    ├── Forbidden             the web console: an account may not do this, or not for that site (403/404)
    └── NoSuchAccount         the web console: no account by that name (also a LookupError: 404)

The one exception that is not here, kiosk/sync/uploader.py's private `_Oversized`, never leaves that module:
it tells the uploader to halve a batch.
"""

from __future__ import annotations

from typing import ClassVar


class KioskError(Exception):
    """Base of all errors the kiosk raises on purpose; the message is for people."""


class MalformedCode(KioskError):
    """The text starts with PHC1: but is not a well-formed health code."""


class TrustFileError(KioskError):
    """A trust file is missing, unreadable, corrupt or does not verify."""

    def __init__(self, problem: str, path: str | None = None) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class ImportRefused(TrustFileError):
    """`kiosk trust import` refused a file; the installed one is untouched."""


class KeyFileError(KioskError):
    """An issuer or root key file cannot be read or holds no valid key."""


class ConfigError(KioskError):
    """The configuration is unreadable or holds a value that makes no sense."""


class SyncError(KioskError):
    """A sync pass did not finish; the events stay pending and are sent again later."""


class SyncUnavailable(SyncError):
    """The collector could not be reached or did not answer in time."""


class SyncRefused(SyncError):
    """The collector refused a batch for a reason resending will not fix by itself (not enrolled, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ImageError(KioskError):
    """The file is not a picture that can be read."""


class LogWriteError(KioskError):
    """The audit log could not be written; nothing was half-written."""


class ExportError(KioskError):
    """An export or report could not be written; nothing was left under its name."""


class StoreError(KioskError):
    """The collector's database cannot be opened, read or written; the message says which and why."""


class BatchRefused(KioskError):
    """The collector will not take a batch. `code` is for programs, the message for people."""

    STATUS: ClassVar[dict[str, int]] = {"malformed": 400, "bad_signature": 401, "stale": 401,
                                        "unknown_device": 403, "revoked": 403, "replayed": 409, "too_large": 413}

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = self.STATUS.get(code, 400)


class Forbidden(KioskError):
    """The console account may not do this, or not for that site: the web answers 403 (or 404), and shows nothing."""


class NoSuchAccount(KioskError, LookupError):
    """No console account has that name (the web answers 404)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no console account {name[:64]!r} (`kiosk collector user list` lists them)")
