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
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp

from kiosk.errors import ImageError
from kiosk.scanner.fallbacks import (
    VIEWS,
    PyzbarDecoder,
    Sighting,
    as_gray,
    dark_on_light,
    distinct,
    ordered,
    region_of,
    resized,
    sharpened,
    view_pixels,
)
from kiosk.scanner.retry_budget import RetryBudget
from kiosk.scanner.types import Decoder, FrameReading, Image

__all__ = ["ChainDecoder", "PyzbarDecoder", "Sighting", "ZxingDecoder", "as_gray", "decode_file",
           "ordered", "read_image"]

log = logging.getLogger(__name__)

# Standard QR only: Micro QR and rMQR add false sightings (so needless fallbacks), and no PHC1 code uses them.
_FORMATS = (zxingcpp.BarcodeFormat.QRCodeModel2, zxingcpp.BarcodeFormat.QRCodeModel1)
_PITCH = 4.0  # pixels a module that pyzbar gets: bigger regions are shrunk (ZBar's time grows with pixels)
_VIEW_SIDE = 2000  # the longest side of a changed copy of a whole image (bounds the time a hopeless picture costs)
_RETRIES = 4  # attempts `_retries` makes on an image (5 with the image itself)
FRAME_PIXELS = 1_000_000  # pixels a camera frame's retries may read (read_frame): benchmarks/blurred.py
_ZBAR_COST = 8  # a pixel for pyzbar costs about as much time as 8 for zxing-cpp
_ZBAR_SIDE = 480  # a camera frame's region for pyzbar at most (18 ms on a blurred 700x800 one)


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
    - `frame_pixels`: how many pixels those attempts (each retry, each fallback decoder) may read
      in one camera frame (`read_frame`); the next frame goes on from there (retry_budget.py).
      `decode`, for one picture, tries them all.
    """

    def __init__(self, *, primary: ZxingDecoder | None = None, retry: bool = True,
                 fallbacks: Sequence[Decoder] | None = None, blind_max_pixels: int | None = 250_000,
                 max_regions: int = 2, max_side: int = 1200, views: bool = True, thorough: bool = False,
                 frame_pixels: int = FRAME_PIXELS) -> None:
        self.primary = primary or ZxingDecoder()
        self.retry = retry
        self.views = views and retry
        self.thorough = thorough
        self.fallbacks = list(fallbacks) if fallbacks is not None else [PyzbarDecoder()]
        self.blind_max_pixels = blind_max_pixels
        self.max_regions = max_regions
        self.max_side = max_side
        self.frame_pixels = frame_pixels
        RetryBudget(frame_pixels)  # refuses a budget under 1 now, not at the first frame
        self.faults = 0  # exceptions past the decoders (OpenCV, or a fallback breaking its promise)
        self.rescued = 0  # images where a retry or fallback read what the first pass did not

    @property
    def errors(self) -> int:
        """Exceptions met, from any library, each treated as nothing found."""
        return self.faults + self.primary.errors + sum(int(getattr(f, "errors", 0)) for f in self.fallbacks)

    def decode(self, image: Image) -> list[str]:
        """One picture: every retry, view and fallback the chain has, as needed."""
        return self._guarded(image, RetryBudget()).texts

    def read_frame(self, image: Image, resume: int = 0) -> FrameReading:
        """One camera frame: past the first pass, attempts from position `resume` on, within `frame_pixels`."""
        return self._guarded(image, RetryBudget(self.frame_pixels, resume))

    def _guarded(self, image: Image, budget: RetryBudget) -> FrameReading:
        try:
            gray = as_gray(image)
            if gray is None:
                return FrameReading([], False)
            texts, seen = self._decode(gray, budget)
            return FrameReading(texts, seen, budget.resume)
        except Exception:  # e.g. OpenCV refusing an odd size in a retry: nothing found
            self.faults += 1
            log.debug("chain decoder failed", exc_info=True)
            return FrameReading([], False)

    def _decode(self, gray: Image, budget: RetryBudget) -> tuple[list[str], bool]:
        """The texts read, and whether a code was seen at all (read or not)."""
        texts, seen = self.primary.read(gray)
        first, located = len(texts), bool(texts or seen)
        blind = not texts and not seen and (self.blind_max_pixels is None or gray.size <= self.blind_max_pixels)
        if blind and self.retry:
            for attempt in self._retries(gray):
                if (result := _run(attempt, budget)) is None:
                    continue
                texts, more = result
                if texts:  # what it saw besides is another code; the earlier sightings were this one
                    seen = more
                    break
                seen += more
        for i, sighting in enumerate(distinct(seen, gray.shape)[:self.max_regions]):
            texts += self._rescue(*region_of(gray, sighting), budget, views=self.views and i == 0)  # bounds slow frames
        if blind and not texts and not seen:
            texts = self._fallback(gray, None, budget)
        if not texts and self.views and self.thorough and budget.limit is None:
            texts = self._whole_views(gray)
        self.rescued += len(texts) > first
        return ordered(texts), located or bool(texts or seen)

    def _whole_views(self, gray: Image) -> list[str]:
        """The chain without views on each view of the whole image (shrunk to `_VIEW_SIDE` first if larger)."""
        if max(gray.shape) > _VIEW_SIDE:
            gray = resized(gray, _VIEW_SIDE / max(gray.shape))
        chain = ChainDecoder(primary=self.primary, fallbacks=self.fallbacks, blind_max_pixels=None,
                             max_regions=self.max_regions, max_side=self.max_side, views=False)
        for view in VIEWS:
            changed = view(gray, _VIEW_SIDE)
            texts = chain._decode(changed, RetryBudget())[0] if changed is not None else []
            if texts:
                return texts
        return []

    def _retries(self, gray: Image, plain: bool = False) -> list[tuple[int, Attempt] | None]:
        """zxing-cpp on changed copies of `gray` (and on `gray` itself first if `plain`), cheapest first.

        Each with the pixels it reads; always `_RETRIES` (+1 if plain) of them, None where one does
        not apply (positions stay put: retry_budget.py).
        """
        read, size = self.primary.read, gray.size
        attempts: list[tuple[int, Attempt] | None] = [(size, lambda: read(gray))] if plain else []
        attempts += [(size, lambda: read(sharpened(gray))),  # blur; each of these reads some the others miss
                     (size, lambda: read(gray, binarizer=zxingcpp.Binarizer.GlobalHistogram))]  # glare, shade
        factor = min(2.0, self.max_side / max(gray.shape))
        if factor >= 1.25:  # small modules; also a new sampling of the grid
            big = int(size * factor * factor)
            attempts += [(big, lambda: read(resized(gray, factor), factor, try_downscale=False)),
                         (big, lambda: read(sharpened(resized(gray, factor)), factor, try_downscale=False))]
        return attempts + [None] * (_RETRIES + plain - len(attempts))

    def _rescue(self, region: Image, sighting: Sighting, budget: RetryBudget, views: bool) -> list[str]:
        """The retries, the views, then the fallback decoders, on the region of one code seen but not read."""
        for attempt in self._retries(region) if self.retry else ():
            if (result := _run(attempt, budget)) is not None and result[0]:
                return result[0]
        for view in VIEWS if views else ():
            if not budget.ahead(_RETRIES + 1, view_pixels(view, region.shape, self.max_side)):
                continue  # none of this view's attempts would run: not worth making it
            changed = view(region, self.max_side)
            if changed is None:
                budget.pass_over(_RETRIES + 1)
                continue
            for attempt in self._retries(changed, plain=True):
                if (result := _run(attempt, budget)) is not None and result[0]:
                    return result[0]
        return self._fallback(region, sighting, budget)

    def _fallback(self, gray: Image, sighting: Sighting | None, budget: RetryBudget) -> list[str]:
        if not self.fallbacks or not budget.ahead(len(self.fallbacks)):
            return []
        if sighting is not None and not dark_on_light(gray, sighting.quad):
            gray = np.asarray(cv2.bitwise_not(gray), np.uint8)  # ZBar reads dark-on-light codes only
        pitch = sighting.pitch() if sighting is not None else None
        if pitch is not None and pitch > 1.5 * _PITCH:
            gray = resized(gray, _PITCH / pitch)
        elif budget.limit is not None and max(gray.shape) > _ZBAR_SIDE:  # a camera frame; the code's size unknown
            gray = resized(gray, _ZBAR_SIDE / max(gray.shape))  # area averaging smooths as the blur below does
        else:  # JPEG blocks and sensor noise
            gray = np.asarray(cv2.GaussianBlur(gray, (0, 0), 1.0), np.uint8)
        for fallback in self.fallbacks:
            if budget.runs(gray.size * _ZBAR_COST) and (texts := fallback.decode(gray)):
                return texts
        return []


def _run(attempt: tuple[int, Attempt] | None, budget: RetryBudget) -> tuple[list[str], list[Sighting]] | None:
    """What the attempt found, if it applies to this image and the budget runs it; else None."""
    if attempt is None:
        budget.pass_over()  # its position all the same: positions stay put from frame to frame
        return None
    return attempt[1]() if budget.runs(attempt[0]) else None


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
