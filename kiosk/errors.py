"""Every error the kiosk raises on purpose, drawn once here.

    KioskError
    ├── MalformedCode      a scanned code that breaks the wire format (reason `malformed`)
    ├── TrustFileError     a trust file that cannot be read or does not verify
    │   └── ImportRefused  a trust file refused by `kiosk trust import`
    ├── KeyFileError       an issuer key file that cannot be read
    └── ConfigError        a configuration file or value that makes no sense
"""

from __future__ import annotations


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
