"""What `ChainDecoder` falls back on: changed copies of an image, pyzbar, the region of a code seen; shared helpers.

The copies give zxing-cpp another chance at a code it could not read. `sharpened`, `resized`
and the global binarizer (decoders.py) are the cheap retries. `VIEWS` come after them, each
followed by those retries: the image turned 45 degrees (modules fall across the pixel grid
differently, so binarizing and sampling err elsewhere), enlarged up to three times (small
modules), and with its local contrast equalized (shadows, glare, washed-out prints).
Figures: benchmarks/read_rate.py.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.healthcode import PREFIX
from kiosk.scanner.types import Image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sighting:
    """A code zxing-cpp located but could not read."""

    quad: npt.NDArray[np.float32]  # (4, 2) corners, in image pixels
    modules: int | None  # the symbol's width in modules, when its version was read

    def pitch(self) -> float | None:  # pixels a module along the sides, if the version is known
        side = float(np.linalg.norm(self.quad - np.roll(self.quad, 1, axis=0), axis=1).mean())
        return side / self.modules if self.modules else None


View = Callable[[Image, int], "Image | None"]  # an image, the longest side a copy may have -> a copy (None: no use)


def as_gray(image: Any) -> Image | None:
    """A contiguous 8-bit grey image from a grey, BGR or BGRA uint8 array; None for anything else."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        return None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        return np.asarray(cv2.cvtColor(np.ascontiguousarray(image), code), np.uint8)
    return None


def ordered(texts: Sequence[str]) -> list[str]:
    """Each distinct text once, PHC1 texts first, otherwise in the order found."""
    unique = list(dict.fromkeys(t for t in texts if t))
    return sorted(unique, key=lambda t: not t.startswith(PREFIX))


def resized(gray: Image, factor: float) -> Image:
    interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA  # area averaging also smooths noise
    return np.asarray(cv2.resize(gray, None, fx=factor, fy=factor, interpolation=interpolation), np.uint8)


def sharpened(gray: Image) -> Image:
    """Unsharp mask: crisper module edges in a blurred code."""
    return np.asarray(cv2.addWeighted(gray, 1.8, cv2.GaussianBlur(gray, (0, 0), 2.0), -0.8, 0), np.uint8)


def rotated(gray: Image, max_side: int = 0, degrees: float = 45.0) -> Image:
    """`gray` turned about its centre on a canvas that holds all of it, the corners filled with its border's median."""
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(h * sin + w * cos) + 1, int(h * cos + w * sin) + 1)
    matrix[0, 2] += size[0] / 2 - w / 2
    matrix[1, 2] += size[1] / 2 - h / 2
    fill = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))  # the quiet zone's shade
    return np.asarray(cv2.warpAffine(gray, matrix, size, flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=fill), np.uint8)


def enlarged(gray: Image, max_side: int) -> Image | None:
    """Three times the size, or as much as `max_side` allows; None if that is less than 1.25 times."""
    factor = min(3.0, max_side / max(gray.shape))
    return resized(gray, factor) if factor >= 1.25 else None


def equalized(gray: Image, max_side: int = 0) -> Image:
    """Contrast-limited adaptive histogram equalization: local contrast evened out."""
    return np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray), np.uint8)


VIEWS: tuple[View, ...] = (rotated, enlarged, equalized)


def view_pixels(view: View, shape: tuple[int, ...], max_side: int) -> int:
    """Pixels of the copy `view` would make of an image of `shape`, before making it (0: it makes none)."""
    h, w = shape[:2]
    if view is rotated:
        side = int((h + w) * math.sqrt(0.5)) + 1
        return side * side
    if view is enlarged:
        factor = min(3.0, max_side / max(h, w))
        return int(h * w * factor * factor) if factor >= 1.25 else 0
    return h * w


def region_of(gray: Image, sighting: Sighting, margin: float = 0.3) -> tuple[Image, Sighting]:
    """The bounding box of a sighting with a margin (quiet zone and some), and the sighting in it."""
    h, w = gray.shape
    lo, hi = sighting.quad.min(axis=0), sighting.quad.max(axis=0)
    m = margin * float(max(hi - lo))
    x0, y0 = int(max(0, lo[0] - m)), int(max(0, lo[1] - m))
    x1, y1 = int(min(w, hi[0] + m + 1)), int(min(h, hi[1] + m + 1))
    return gray[y0:y1, x0:x1], Sighting(sighting.quad - np.array([x0, y0], np.float32), sighting.modules)


def distinct(seen: list[Sighting], shape: tuple[int, ...]) -> list[Sighting]:
    """Sightings worth a region: inside the image, not tiny, one a place (several passes see one code)."""
    h, w = shape[:2]
    kept: list[Sighting] = []
    for s in seen:
        size, centre = float(max(s.quad.max(axis=0) - s.quad.min(axis=0))), s.quad.mean(axis=0)
        if size >= 8 and 0 <= centre[0] < w and 0 <= centre[1] < h and all(
                np.linalg.norm(centre - k.quad.mean(axis=0)) > 0.25 * size for k in kept):
            kept.append(s)
    return kept


def dark_on_light(region: Image, quad: npt.NDArray[np.float32]) -> bool:
    """Whether the quiet zone round `quad` is lighter than the symbol (which is half dark modules)."""
    inside, ring = np.zeros(region.shape, np.uint8), np.zeros(region.shape, np.uint8)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 1)
    centre = quad.mean(axis=0)
    cv2.fillConvexPoly(ring, ((quad - centre) * 1.12 + centre).astype(np.int32), 1)
    ring &= 1 - inside
    if not ring.any() or not inside.any():
        return True
    return bool(region[ring > 0].mean() >= region[inside > 0].mean())


class PyzbarDecoder:
    """ZBar through pyzbar, QR only; the text is the payload as UTF-8 (bad bytes replaced)."""

    def __init__(self) -> None:
        self.errors = 0  # exceptions from pyzbar/zbar, each treated as nothing found
        self.calls = 0

    def decode(self, image: Image) -> list[str]:
        self.calls += 1
        gray = as_gray(image)
        if gray is None or min(gray.shape) < 2:
            return []
        try:
            from pyzbar import pyzbar  # type: ignore[import-untyped]  # loads libzbar when first needed

            found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
            return ordered([bytes(s.data).decode("utf-8", errors="replace") for s in found])
        except Exception:
            self.errors += 1
            log.debug("pyzbar failed", exc_info=True)
            return []
