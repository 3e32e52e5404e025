"""QR decoders: zxing-cpp first, then more effort only where it can pay.

zxing-cpp reads most codes in a fraction of a millisecond; pyzbar is about twelve times slower
(24 ms on an empty 1280x720 frame) and reads fewer, though a few that zxing-cpp misses. So
`ChainDecoder` runs zxing-cpp once on the whole image and spends more only on a code zxing-cpp
located but could not read (`return_errors=True`): zxing-cpp again on that region, on changed
copies of it (sharpened, globally binarized, upscaled; then turned 45 degrees, enlarged,
contrast-equalized: fallbacks.py), then pyzbar on it. A small image (a crop, a close-up) where
nothing was seen gets the retries and pyzbar on the whole of it; `decode_file`'s one picture
also gets the whole chain on each view of it. A 1280x720 frame with no code costs one zxing-cpp
pass. Figures: benchmarks/read_rate.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from kiosk.scanner.fallbacks import VIEWS, PyzbarDecoder, as_gray, ordered, resized, sharpened
from kiosk.scanner.types import Decoder, Image

__all__ = ["ChainDecoder", "ImageError", "PyzbarDecoder", "Sighting", "ZxingDecoder", "as_gray", "decode_file",
           "ordered", "read_image"]

log = logging.getLogger(__name__)

# Standard QR only: Micro QR and rMQR add false sightings (so needless fallbacks), and no PHC1 code uses them.
_FORMATS = (zxingcpp.BarcodeFormat.QRCodeModel2, zxingcpp.BarcodeFormat.QRCodeModel1)
_PITCH = 4.0  # pixels a module that pyzbar gets: bigger regions are shrunk (ZBar's time grows with pixels)
_VIEW_SIDE = 2000  # the longest side of a changed copy of a whole image (bounds the time a hopeless picture costs)


class ImageError(Exception):
    """The file is not a picture that can be read."""


@dataclass(frozen=True)
class Sighting:
    """A code zxing-cpp located but could not read."""

    quad: npt.NDArray[np.float32]  # (4, 2) corners, in image pixels
    modules: int | None  # the symbol's width in modules, when its version was read

    def pitch(self) -> float | None:  # pixels a module along the sides, if the version is known
        side = float(np.linalg.norm(self.quad - np.roll(self.quad, 1, axis=0), axis=1).mean())
        return side / self.modules if self.modules else None


Attempt = Callable[[], tuple[list[str], list[Sighting]]]


class ZxingDecoder:
    """zxing-cpp on the whole image; `read` also reports codes it located but could not read."""

    def __init__(self, *, try_invert: bool = True, try_downscale: bool = True,
                 binarizer: zxingcpp.Binarizer = zxingcpp.Binarizer.LocalAverage) -> None:
        # try_invert reads dark-mode codes; mirrored ones need no option; try_rotate is for 1D barcodes.
        self.options = {"try_invert": try_invert, "try_downscale": try_downscale, "binarizer": binarizer}
        self.errors = 0  # exceptions from zxing-cpp, each treated as nothing found

    def decode(self, image: Image) -> list[str]:
        gray = as_gray(image)
        return ordered(self.read(gray)[0]) if gray is not None else []

    def read(self, gray: Image, scale: float = 1.0, **options: Any) -> tuple[list[str], list[Sighting]]:
        """Texts read, and codes seen but not read in the coordinates of `gray` shrunk by `scale`."""
        try:
            found = zxingcpp.read_barcodes(
                gray, formats=_FORMATS, text_mode=zxingcpp.TextMode.Plain,  # type: ignore[arg-type]
                try_rotate=False, return_errors=True, **{**self.options, **options})
            texts, seen = [], []
            for code in found:
                if code.valid:
                    texts.append(str(code.text))
                    continue
                p = code.position
                quad = np.array([[c.x, c.y] for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)],
                                np.float32) / scale
                extra = code.extra  # the version is known once the format information was read
                version = str(extra.get("Version", "")) if isinstance(extra, dict) else ""
                seen.append(Sighting(quad, 17 + 4 * int(version) if version.isdigit() else None))
            return texts, seen
        except Exception:  # a library fault on an odd image must not stop the camera
            self.errors += 1
            log.debug("zxing-cpp failed", exc_info=True)
            return [], []


class ChainDecoder:
    """zxing-cpp, then retries and fallback decoders where it saw a code it could not read.

    - `retry`: zxing-cpp again, sharpened, binarized globally, upscaled (to at most `max_side`
      pixels) and both, on the region of each code seen but not read (at most `max_regions`,
      which bounds the slowest frames).
    - `views`: then zxing-cpp and the retries again on the first region turned 45 degrees, enlarged
      and contrast-equalized (fallbacks.VIEWS), each a new chance at a code the retries missed.
    - `fallbacks`: decoders tried next on those regions (default pyzbar; [] for none).
    - `blind_max_pixels`: when nothing was seen at all in an image this small (None: any size), the
      retries and fallbacks also run on the whole image: a crop or close-up, where they cost little.
      The default leaves out camera frames (640x480 and up): a frame with no code costs one
      zxing-cpp pass, and pyzbar never runs on a frame where zxing-cpp saw no code.
    - `thorough`: when nothing was read, the chain runs again on each view of the whole image, seen
      code or not. For one picture (decode_file); a camera could not keep up (a 480x360 frame with
      no code would cost 97 ms instead of 9).
    """

    def __init__(self, *, primary: ZxingDecoder | None = None, retry: bool = True,
                 fallbacks: Sequence[Decoder] | None = None, blind_max_pixels: int | None = 250_000,
                 max_regions: int = 2, max_side: int = 1200, views: bool = True, thorough: bool = False) -> None:
        self.primary = primary or ZxingDecoder()
        self.retry = retry
        self.views = views and retry
        self.thorough = thorough
        self.fallbacks = list(fallbacks) if fallbacks is not None else [PyzbarDecoder()]
        self.blind_max_pixels = blind_max_pixels
        self.max_regions = max_regions
        self.max_side = max_side
        self.faults = 0  # exceptions past the decoders (OpenCV, or a fallback breaking its promise)
        self.rescued = 0  # images where a retry or fallback read what the first pass did not

    @property
    def errors(self) -> int:
        """Exceptions met, from any library, each treated as nothing found."""
        return self.faults + self.primary.errors + sum(int(getattr(f, "errors", 0)) for f in self.fallbacks)

    def decode(self, image: Image) -> list[str]:
        try:
            gray = as_gray(image)
            return self._decode(gray) if gray is not None else []
        except Exception:  # e.g. OpenCV refusing an odd size in a retry: nothing found
            self.faults += 1
            log.debug("chain decoder failed", exc_info=True)
            return []

    def _decode(self, gray: Image) -> list[str]:
        texts, seen = self.primary.read(gray)
        first = len(texts)
        blind = not texts and not seen and (self.blind_max_pixels is None or gray.size <= self.blind_max_pixels)
        if blind and self.retry:
            for attempt in self._retries(gray):
                texts, more = attempt()
                if texts:  # what it saw besides is another code; the earlier sightings were this one
                    seen = more
                    break
                seen += more
        for i, sighting in enumerate(_distinct(seen, gray.shape)[:self.max_regions]):
            texts += self._rescue(*_region(gray, sighting), views=self.views and i == 0)  # bounds the slowest frames
        if blind and not texts and not seen:
            texts = self._fallback(gray, None)
        if not texts and self.views and self.thorough:
            texts = self._whole_views(gray)
        self.rescued += len(texts) > first
        return ordered(texts)

    def _whole_views(self, gray: Image) -> list[str]:
        """The chain without views on each view of the whole image (shrunk to `_VIEW_SIDE` first if larger)."""
        if max(gray.shape) > _VIEW_SIDE:
            gray = resized(gray, _VIEW_SIDE / max(gray.shape))
        chain = ChainDecoder(primary=self.primary, fallbacks=self.fallbacks, blind_max_pixels=None,
                             max_regions=self.max_regions, max_side=self.max_side, views=False)
        for view in VIEWS:
            changed = view(gray, _VIEW_SIDE)
            texts = chain._decode(changed) if changed is not None else []
            if texts:
                return texts
        return []

    def _retries(self, gray: Image, plain: bool = False) -> list[Attempt]:
        """zxing-cpp on changed copies of `gray` (and on `gray` itself first if `plain`), cheapest first."""
        read = self.primary.read
        attempts: list[Attempt] = [lambda: read(gray)] if plain else []
        attempts += [lambda: read(sharpened(gray)),  # blur; each of these reads some the others miss
                     lambda: read(gray, binarizer=zxingcpp.Binarizer.GlobalHistogram)]  # glare, shade
        factor = min(2.0, self.max_side / max(gray.shape))
        if factor >= 1.25:  # small modules; also a new sampling of the grid
            attempts += [lambda: read(resized(gray, factor), factor, try_downscale=False),
                         lambda: read(sharpened(resized(gray, factor)), factor, try_downscale=False)]
        return attempts

    def _rescue(self, region: Image, sighting: Sighting, views: bool) -> list[str]:
        """The retries, the views, then the fallback decoders, on the region of one code seen but not read."""
        if self.retry:
            for attempt in self._retries(region):
                texts = attempt()[0]
                if texts:
                    return texts
        for view in VIEWS if views else ():
            changed = view(region, self.max_side)
            if changed is None:
                continue
            for attempt in self._retries(changed, plain=True):
                texts = attempt()[0]
                if texts:
                    return texts
        return self._fallback(region, sighting)

    def _fallback(self, gray: Image, sighting: Sighting | None) -> list[str]:
        if not self.fallbacks:
            return []
        if sighting is not None and not _dark_on_light(gray, sighting.quad):
            gray = np.asarray(cv2.bitwise_not(gray), np.uint8)  # ZBar reads dark-on-light codes only
        pitch = sighting.pitch() if sighting is not None else None
        if pitch is not None and pitch > 1.5 * _PITCH:
            gray = resized(gray, _PITCH / pitch)
        else:  # JPEG blocks and sensor noise
            gray = np.asarray(cv2.GaussianBlur(gray, (0, 0), 1.0), np.uint8)
        for fallback in self.fallbacks:
            texts = fallback.decode(gray)
            if texts:
                return texts
        return []


def _region(gray: Image, sighting: Sighting, margin: float = 0.3) -> tuple[Image, Sighting]:
    """The bounding box of a sighting with a margin (quiet zone and some), and the sighting in it."""
    h, w = gray.shape
    lo, hi = sighting.quad.min(axis=0), sighting.quad.max(axis=0)
    m = margin * float(max(hi - lo))
    x0, y0 = int(max(0, lo[0] - m)), int(max(0, lo[1] - m))
    x1, y1 = int(min(w, hi[0] + m + 1)), int(min(h, hi[1] + m + 1))
    return gray[y0:y1, x0:x1], Sighting(sighting.quad - np.array([x0, y0], np.float32), sighting.modules)


def _distinct(seen: list[Sighting], shape: tuple[int, ...]) -> list[Sighting]:
    """Sightings worth a region: inside the image, not tiny, one a place (several passes see one code)."""
    h, w = shape[:2]
    kept: list[Sighting] = []
    for s in seen:
        size, centre = float(max(s.quad.max(axis=0) - s.quad.min(axis=0))), s.quad.mean(axis=0)
        if size >= 8 and 0 <= centre[0] < w and 0 <= centre[1] < h and all(
                np.linalg.norm(centre - k.quad.mean(axis=0)) > 0.25 * size for k in kept):
            kept.append(s)
    return kept


def _dark_on_light(region: Image, quad: npt.NDArray[np.float32]) -> bool:
    """Whether the quiet zone round `quad` is lighter than the symbol (which is half dark modules)."""
    inside, ring = np.zeros(region.shape, np.uint8), np.zeros(region.shape, np.uint8)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 1)
    centre = quad.mean(axis=0)
    cv2.fillConvexPoly(ring, ((quad - centre) * 1.12 + centre).astype(np.int32), 1)
    ring &= 1 - inside
    if not ring.any() or not inside.any():
        return True
    return bool(region[ring > 0].mean() >= region[inside > 0].mean())


def read_image(path: str | Path) -> Image:
    """The picture at `path` as a grey image (transparent parts count as white); ImageError if it is none."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ImageError(f"{path}: cannot read: {err.strerror or err}") from None
    logging_ = cv2.utils.logging
    level = logging_.getLogLevel()
    logging_.setLogLevel(logging_.LOG_LEVEL_SILENT)  # a broken file is our error to report, not OpenCV's to print
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    finally:
        logging_.setLogLevel(level)
    if image is None or image.size == 0:
        raise ImageError(f"{path}: not a picture that can be read")
    if image.dtype != np.uint8:  # 16-bit PNG or TIFF, float EXR
        top = 65535.0 if image.dtype == np.uint16 else 1.0 if image.dtype.kind == "f" else float(image.max() or 1)
        image = np.clip(image.astype(np.float32) * (255.0 / top), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] in (2, 4):  # grey or colour with alpha: over white
        alpha = image[:, :, -1:].astype(np.float32) / 255
        image = np.clip(image[:, :, :-1] * alpha + 255 * (1 - alpha), 0, 255).astype(np.uint8)
    gray = as_gray(image)
    if gray is None:
        raise ImageError(f"{path}: not a picture that can be read")
    return gray


def decode_file(path: str | Path) -> list[str]:
    """Texts of the QR codes in the picture at `path`, PHC1 first; ImageError if it is no picture.

    One picture, no frame rate to keep: the whole-image retries, fallbacks and views run at any
    size, and the views of the whole picture also when a code was seen but not read.
    """
    return ChainDecoder(blind_max_pixels=None, thorough=True).decode(read_image(path))
