"""Synthetic camera frames of people showing QR codes, for tests, benchmarks and the demo video.

The code sits on a phone screen or a sheet of paper, in a plane rotated and tilted before a
pinhole camera, in front of a cluttered scene; then come the camera's faults in the order a
camera makes them: blur, sensor noise, mirroring, JPEG. The same text, look and seed give the same frame.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import segno

from kiosk.scanner.looks import (  # Look and random_look are part of this module's API (__all__)
    MAX_BLUR,
    MAX_MOTION,
    MIN_PITCH,
    PHC1_MODULES,
    Floats,
    Look,
    _project,
    code_quad,
    random_look,
)
from kiosk.scanner.types import Image

__all__ = ["MAX_BLUR", "MAX_MOTION", "MIN_PITCH", "PHC1_MODULES", "Look", "code_quad", "random_look", "render_frame",
           "render_qr", "write_image_folder", "write_video"]

_SS = 2  # the carrier is warped at twice the frame's resolution, then averaged down: clean edges
_SKIN = np.array([[185, 200, 235], [120, 150, 200], [60, 85, 130]], np.float32)  # BGR, light to dark


@functools.lru_cache(maxsize=64)  # a video shows the same code in frame after frame
def _modules(text: str) -> npt.NDArray[np.bool_]:
    mode = "alphanumeric" if text.startswith("PHC1:") else None
    qr = segno.make_qr(text, error="m", mode=mode, boost_error=False)
    mods = np.array([list(row) for row in qr.matrix_iter(scale=1, border=4)], dtype=bool)
    mods.flags.writeable = False
    return mods


def render_qr(text: str, scale: int = 1) -> Image:
    """The QR symbol of `text` (level M, never Micro QR): 0 dark, 255 light, `scale` px a module, quiet zone 4."""
    img = np.where(_modules(text), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


def _rrect(img: Image, x0: int, y0: int, x1: int, y1: int, r: int, colour: tuple[float, ...]) -> None:
    """A filled rectangle with corners rounded to radius r (OpenCV's thick lines have round ends)."""
    cv2.rectangle(img, (x0 + r, y0 + r), (x1 - r, y1 - r), colour, -1)
    cv2.rectangle(img, (x0 + r, y0 + r), (x1 - r, y1 - r), colour, 2 * r, cv2.LINE_AA)


def _lines(rng: np.random.Generator, img: Image, x0: int, x1: int, y0: int, y1: int, k: int, tone: float) -> None:
    """Grey bars standing for lines of text."""
    y, step = y0, max(3, int(k * rng.uniform(2.0, 3.0)))
    while y + step <= y1:
        right = x0 + int((x1 - x0) * rng.uniform(0.4, 1.0))
        g = tone + rng.uniform(-25, 25)
        cv2.rectangle(img, (x0, y), (right, y + max(1, step // 3)), (g, g, g, 255), -1)
        y += step


def _carrier(rng: np.random.Generator, mods: npt.NDArray[np.bool_] | None, look: Look, k: int
             ) -> tuple[Image, tuple[float, float]]:
    """The carrier as a BGRA canvas (colour 0 where alpha is 0) and the code's centre in it."""
    qz, dark = (mods.shape[0] if mods is not None else PHC1_MODULES + 8) * k, look.dark_mode
    if look.carrier == "phone":
        sw = int(qz * rng.uniform(1.04, 1.2))
        sh, bz = int(sw * rng.uniform(1.9, 2.1)), max(2, int(sw * 0.045))
        bw, bh = sw + 2 * bz, sh + 4 * bz
        pad = int(bw * 0.45) if look.hand else 2
        cv = np.zeros((bh + 2 * pad, bw + 2 * pad, 4), np.uint8)
        i, u = int(rng.integers(0, 2)), rng.uniform(0, 1)
        skin = (*(_SKIN[i] + u * (_SKIN[i + 1] - _SKIN[i])).tolist(), 255)
        if look.hand:  # the palm behind the phone's lower half
            cv2.ellipse(cv, (pad + bw // 2 + int(bw * rng.uniform(-0.1, 0.1)), pad + bh),
                        (int(bw * 0.62), int(bh * 0.3)), rng.uniform(-15, 15), 0, 360, skin, -1, cv2.LINE_AA)
        body = rng.uniform(15, 55)
        _rrect(cv, pad, pad, pad + bw, pad + bh, int(bw * 0.13), (body, body, body + rng.uniform(0, 15), 255))
        sx, sy = pad + bz, pad + 2 * bz
        bg = np.array((rng.uniform(12, 35),) * 3 if dark or mods is None else rng.uniform(225, 255, 3) - [0, 8, 15])
        _rrect(cv, sx, sy, sx + sw, sy + sh, int(bw * 0.09), (*bg.tolist(), 255))
        x, y = sx + (sw - qz) // 2, sy + int(sh * rng.uniform(0.12, 0.3))
        if mods is not None:  # the app: a coloured title bar, lines of text under the code (no code: screen off)
            cv2.rectangle(cv, (sx, sy + int(sh * 0.02)), (sx + sw, sy + int(sh * 0.09)),
                          (*rng.uniform(40, 220, 3).tolist(), 255), -1)
            _lines(rng, cv, sx + 2 * k, sx + sw - 2 * k, y + qz + k, sy + sh - 4 * k, k, 130)
        if look.hand:  # fingers round the edges, below the code, over the bezel only
            for side, count in ((0, 1), (1, rng.integers(3, 5))):
                for i in range(count):
                    fy = pad + int(bh * (0.78 + 0.07 * i if side else rng.uniform(0.7, 0.85)))
                    fx = pad + bw * side + int(bz * (0.5 - side))
                    cv2.ellipse(cv, (fx, fy), (int(bz * 2.5), int(bw * 0.06)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    else:
        pw = int(qz * rng.uniform(1.3, 1.7))
        ph = int(pw * rng.uniform(1.3, 1.45))
        cv = np.zeros((ph, pw, 4), np.uint8)
        bg = np.array((rng.uniform(15, 40),) * 3 if dark else rng.uniform(215, 250) - np.array([12, 4, 0]))
        cv[:] = (*bg.tolist(), 255)
        x, y = (pw - qz) // 2 + int((pw - qz) * rng.uniform(-0.3, 0.3)), int(ph * rng.uniform(0.06, 0.16))
        cv2.rectangle(cv, (x, max(1, y - 3 * k)), (x + qz // 2, y), (60, 60, 60, 255), -1)  # a title
        _lines(rng, cv, k * 3, pw - k * 3, y + qz + k, ph - k * 3, k, 110)
    if mods is not None:
        ink = np.array([255.0] * 3 if dark else [10.0] * 3)
        fg = bg + look.contrast * (ink - bg)
        lut = np.clip([bg, fg], 0, 255).astype(np.uint8)
        cv[y:y + qz, x:x + qz, :3] = np.repeat(np.repeat(lut[mods.astype(np.intp)], k, 0), k, 1)
    if look.carrier == "paper":  # the light falls off across the sheet
        fall = np.linspace(rng.uniform(0.8, 0.95), 1.0, cv.shape[0], dtype=np.float32)[:, None, None]
        cv[..., :3] = cv[..., :3] * fall
    if look.glare > 0:  # a flat-topped bright ellipse with a soft edge, somewhere over the code
        cx, cy, ax = x + qz * rng.uniform(0.2, 0.8), y + qz * rng.uniform(0.2, 0.8), qz * rng.uniform(0.15, 0.35)
        by, t = ax * rng.uniform(0.3, 0.7), rng.uniform(0, math.pi)
        x0, y0 = max(0, int(cx - 1.6 * ax)), max(0, int(cy - 1.6 * ax))
        gy, gx = np.mgrid[y0:int(cy + 1.6 * ax), x0:int(cx + 1.6 * ax)].astype(np.float32)
        u, v = (gx - cx) * math.cos(t) + (gy - cy) * math.sin(t), (gy - cy) * math.cos(t) - (gx - cx) * math.sin(t)
        g = look.glare * np.exp(-(((u / ax) ** 2 + (v / by) ** 2) ** 2))[..., None]
        part = cv[y0:y0 + g.shape[0], x0:x0 + g.shape[1]]
        rgb = part[..., :3].astype(np.float32)
        part[..., :3] = np.where(part[..., 3:] > 0, rgb + g[:part.shape[0], :part.shape[1]] * (255 - rgb), 0)
    return cv, (x + qz / 2 - 0.5, y + qz / 2 - 0.5)


def _scene(rng: np.random.Generator, w: int, h: int, plain: bool) -> Floats:
    """A street entrance: sky or wall, ground, facades with doors and windows, signs, poles, passers-by."""
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.repeat(rng.uniform(90, 210, 3) * (1 - t) + rng.uniform(40, 150, 3) * t, w, axis=1).astype(np.float32)
    if plain:
        return img
    horizon = int(h * rng.uniform(0.55, 0.8))
    img[horizon:] = rng.uniform(40, 120, 3) * np.linspace(0.8, 1.2, h - horizon)[:, None, None]
    for _ in range(rng.integers(8, 16)):  # facades, doors, windows with panes
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, horizon))
        x1, y1 = x0 + int(rng.integers(w // 20, w // 3)), min(horizon, y0 + int(rng.integers(h // 20, h // 2)))
        cv2.rectangle(img, (x0, y0), (x1, y1), rng.uniform(20, 235, 3).tolist(), -1)
        frame, thick = rng.uniform(10, 90, 3).tolist(), int(rng.integers(2, 8))
        for gx in np.linspace(x0, x1, int(rng.integers(2, 5))) if rng.random() < 0.5 else []:
            cv2.rectangle(img, (x0, y0), (int(gx), y1), frame, thick)
    for _ in range(rng.integers(1, 4)):  # signs with lettering
        x0, y0, sh = int(rng.integers(0, w)), int(rng.integers(0, horizon)), int(rng.integers(h // 25, h // 10))
        x1, ink = x0 + int(rng.integers(w // 12, w // 4)), rng.uniform(0, 255, 3).tolist()
        cv2.rectangle(img, (x0, y0), (x1, y0 + sh), rng.uniform(0, 255, 3).tolist(), -1)
        for lx in range(x0 + sh // 4, x1 - sh // 4, max(4, sh // 2)):
            cv2.rectangle(img, (lx, y0 + sh // 4), (lx + max(2, sh // 3), y0 + 3 * sh // 4), ink, -1)
    for _ in range(rng.integers(1, 5)):  # poles and railings
        x = int(rng.integers(0, w))
        cv2.line(img, (x, int(rng.integers(0, horizon))), (x + int(rng.integers(-40, 40)), h),
                 rng.uniform(20, 200, 3).tolist(), int(rng.integers(3, 14)))
    for _ in range(rng.integers(0, 4)):  # passers-by, small and far
        px, py, s = int(rng.integers(0, w)), horizon, int(h * rng.uniform(0.04, 0.1))
        cv2.ellipse(img, (px, py - 2 * s), (s, 2 * s), 0, 0, 360, rng.uniform(10, 200, 3).tolist(), -1)
        cv2.circle(img, (px, py - 4 * s - s // 2), s // 2 + 1, _SKIN[rng.integers(0, 3)].tolist(), -1)
    shade = cv2.resize(rng.uniform(0.75, 1.15, (3, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img *= shade[..., None]
    img += rng.standard_normal((h, w, 1), dtype=np.float32) * rng.uniform(2, 8)  # texture
    return np.asarray(cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.5)), np.float32)  # out of focus


def render_frame(text: str | None, look: Look, seed: int) -> Image:
    """A BGR uint8 camera frame showing `text` as a QR code; None gives a frame with no code in it."""
    rng = np.random.default_rng(seed)
    w, h = look.size
    mods = _modules(text) if text is not None else None
    n = mods.shape[0] - 8 if mods is not None else PHC1_MODULES
    cw = look.code_fraction * w
    img = _scene(rng, w, h, look.background == "plain")
    centre = _project(look, np.zeros((1, 2), np.float32))[0]
    if text is not None:  # the person holding the code, behind it
        s, colour = h * rng.uniform(0.12, 0.2), rng.uniform(10, 160, 3).tolist()
        hx, hy = int(centre[0] + rng.normal(0, 0.05) * w), int(centre[1] - h * rng.uniform(0.25, 0.45))
        cv2.ellipse(img, (hx, int(hy + 3.2 * s)), (int(2.2 * s), int(2.6 * s)), 0, 0, 360, colour, -1, cv2.LINE_AA)
        cv2.ellipse(img, (hx, hy), (int(0.75 * s), int(s)), 0, 0, 360, _SKIN[rng.integers(0, 3)].tolist(), -1)
    if text is not None or rng.random() < 0.5:
        k = int(np.clip(math.ceil(_SS * cw / n), 3, 12))  # canvas pixels a module
        cv, (cx, cy) = _carrier(rng, mods, look, k)
        ch, cwid = cv.shape[:2]
        src = np.array([[-0.5, -0.5], [cwid - 0.5, -0.5], [cwid - 0.5, ch - 0.5], [-0.5, ch - 0.5]], np.float32)
        dst = (_project(look, (src - [cx, cy]) * (cw / (n * k))) + 0.5) * _SS - 0.5
        m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        warped = cv2.warpPerspective(cv, m, (w * _SS, h * _SS), flags=cv2.INTER_LINEAR)
        warped = cv2.resize(warped, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        alpha = warped[..., 3:] / 255
        if look.carrier == "paper":  # a soft shadow of the sheet, offset down and right
            d = max(2, int(cw * 0.04))
            shadow = cv2.GaussianBlur(np.roll(alpha[..., 0], (d, d), axis=(0, 1)), (0, 0), d)
            img *= 1 - 0.45 * shadow[..., None]
        img = img * (1 - alpha) + warped[..., :3]
    img *= look.exposure
    if look.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), look.blur)
    if look.motion_blur >= 1:  # a straight streak at the motion's angle
        c, half = math.ceil(look.motion_blur / 2), look.motion_blur / 2
        kernel = np.zeros((2 * c + 1, 2 * c + 1), np.float32)
        dx, dy = math.cos(math.radians(look.motion_angle)) * half, math.sin(math.radians(look.motion_angle)) * half
        cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
        img = cv2.filter2D(img, -1, kernel / kernel.sum())
    if look.noise > 0:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * look.noise
    out = np.clip(img, 0, 255).astype(np.uint8)
    out = np.ascontiguousarray(out[:, ::-1]) if look.mirrored else out
    if look.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        return out if decoded is None else np.asarray(decoded, np.uint8)
    return out


def write_video(path: str | Path, frames: Iterable[Image], fps: float = 30) -> int:
    """Write `frames` as a video (mp4v for .mp4, MJPG for .avi); returns how many were written."""
    codec = {".mp4": "mp4v", ".avi": "MJPG"}.get(Path(path).suffix.lower())
    if codec is None:
        raise ValueError(f"{path}: write .mp4 or .avi")
    writer, count, size = None, 0, (0, 0)
    try:
        for count, frame in enumerate(frames):
            bgr = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            if writer is None:
                size = (bgr.shape[1], bgr.shape[0])
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), float(fps), size)
                if not writer.isOpened():
                    raise ValueError(f"{path}: OpenCV cannot open a {codec} video writer")
            if (bgr.shape[1], bgr.shape[0]) != size:
                raise ValueError(f"{path}: frame {count} is {bgr.shape[1]}x{bgr.shape[0]}, not {size[0]}x{size[1]}")
            writer.write(bgr)
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError(f"{path}: no frames to write")
    return count + 1


def write_image_folder(folder: str | Path, frames: Iterable[Image]) -> int:
    """Write `frames` as folder/0000.png, 0001.png ... (readable as cv2.VideoCapture('folder/%04d.png'))."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, frame in enumerate(frames, 1):
        (folder / f"{count - 1:04d}.png").write_bytes(cv2.imencode(".png", frame)[1].tobytes())
    return count
