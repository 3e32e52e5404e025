"""Render a code's text as a QR picture, the way an issuer prints or shows it."""

from __future__ import annotations

from pathlib import Path

import segno


def save_png(text: str, path: Path, scale: int = 8) -> None:
    """A PNG of `text` as a full QR symbol (never Micro QR), alphanumeric mode, level M."""
    # The whole PHC1 text is in the alphanumeric set (spec section 1): 5.5 bits a character.
    mode = "alphanumeric" if text.startswith("PHC1:") else None
    segno.make_qr(text, error="m", mode=mode, boost_error=False).save(str(path), scale=scale, border=4)
