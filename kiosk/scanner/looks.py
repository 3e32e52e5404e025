"""How a code is held before the camera: the Look of a synthetic frame, its geometry, and random looks.

random_look draws what a verifier must read: hard but fair (modules never under
2.5 px after foreshortening, blur under 0.4 of a module).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[Any]  # float arrays (numpy's stubs mix float32 and float64)
PHC1_MODULES = 53  # a 240-character PHC1 text is QR version 9 at level M (random_look assumes it)


@dataclass(frozen=True)
class Look:
    """Every knob of a frame; the defaults give a clean, sharp, well-lit frame."""

    size: tuple[int, int] = (1280, 720)  # (width, height)
    code_fraction: float = 0.3  # width of the code (without quiet zone) over the frame width, flat-on
    offset: tuple[float, float] = (0.0, 0.0)  # code centre from the frame centre, in frame widths/heights
    rotation: float = 0.0  # degrees, in the code's plane
    tilt: float = 0.0  # degrees the plane leans away from the camera (perspective)
    tilt_axis: float = 0.0  # degrees: direction in the image of the axis it leans around
    blur: float = 0.0  # Gaussian sigma in pixels (focus)
    motion_blur: float = 0.0  # length in pixels of a straight motion streak
    motion_angle: float = 0.0  # degrees
    glare: float = 0.0  # 0..1: strength of a bright elliptical highlight over part of the code
    jpeg_quality: int | None = None  # None or 20..95: round trip through JPEG
    contrast: float = 1.0  # 0.3..1: the black/white difference of the modules, relative to full
    noise: float = 0.0  # sensor noise sigma, grey levels
    exposure: float = 1.0  # gain on the whole frame
    dark_mode: bool = False  # light modules on a dark screen (the inverted code)
    mirrored: bool = False  # horizontally mirrored frame, as a selfie camera gives
    carrier: Literal["phone", "paper"] = "phone"
    hand: bool = False  # a hand holding the phone
    background: Literal["scene", "plain"] = "scene"  # a cluttered street entrance, or a plain wall

    def __post_init__(self) -> None:
        checks = {"size": min(self.size) >= 64, "code_fraction": 0.15 <= self.code_fraction <= 0.6,
                  "tilt": 0 <= self.tilt <= 45, "glare": 0 <= self.glare <= 1, "contrast": 0.3 <= self.contrast <= 1,
                  "jpeg_quality": self.jpeg_quality is None or 20 <= self.jpeg_quality <= 95,
                  "blur/noise": min(self.blur, self.motion_blur, self.noise) >= 0, "exposure": self.exposure > 0,
                  "carrier": self.carrier in ("phone", "paper"), "background": self.background in ("scene", "plain")}
        if bad := [name for name, ok in checks.items() if not ok]:
            raise ValueError(f"Look: out of range: {', '.join(bad)}")


def _project(look: Look, pts: Floats) -> Floats:
    """Frame pixels of points of the code's plane, given in pixels from the code's centre as seen flat-on."""
    w, h = look.size
    r = math.radians(look.rotation)
    p = pts @ np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]], np.float32)
    a = math.radians(look.tilt_axis)
    vec = np.array([math.cos(a), math.sin(a), 0.0]) * math.radians(look.tilt)
    p3 = np.c_[p, np.zeros(len(p))] @ cv2.Rodrigues(vec)[0].T
    f = float(w)  # a 53-degree horizontal field of view
    z = f + p3[:, 2]
    uv = np.c_[f * p3[:, 0] / z + w * (0.5 + look.offset[0]), f * p3[:, 1] / z + h * (0.5 + look.offset[1])]
    return np.asarray(uv, np.float32)


def code_quad(look: Look, modules: int = PHC1_MODULES) -> Floats:
    """Frame corners (4, 2) of the code with its quiet zone, for a symbol `modules` wide (before mirroring)."""
    half = look.code_fraction * look.size[0] / 2 * (modules + 8) / modules
    return _project(look, np.array([[-half, -half], [half, -half], [half, half], [-half, half]], np.float32))


MIN_PITCH = 2.5  # pixels a module, after foreshortening: the least that stays resolvable
MAX_BLUR = 0.4  # Gaussian sigma, in module pitches
MAX_MOTION = 1.2  # motion streak length, in module pitches


def random_look(rng: np.random.Generator, size: tuple[int, int] = (1280, 720),
                modules: int = PHC1_MODULES) -> Look:
    """A hard but readable look: what a verifier must read (a symbol `modules` wide, quiet zone in frame)."""
    w, h = size
    paper = rng.random() < 0.3
    look = Look(size=size, rotation=float(rng.uniform(0, 360)), tilt=float(rng.uniform(0, 45)),
                tilt_axis=float(rng.uniform(0, 180)))

    margin = 0.02 * min(size)

    def fits(fraction: float) -> bool:  # the code with its quiet zone whole in the frame
        q = code_quad(replace(look, code_fraction=fraction), modules)
        return bool(q.min() >= margin and q[:, 0].max() <= w - margin and q[:, 1].max() <= h - margin)

    def pitch() -> float:  # the smallest module pitch along the code's edges, in pixels
        q = code_quad(look, modules)
        return float(np.linalg.norm(q - np.roll(q, 1, axis=0), axis=1).min()) / (modules + 8)

    smallest = max(0.15, MIN_PITCH * modules / w)  # in a small frame a small code cannot be resolved
    while not fits(smallest) and look.tilt > 0:
        look = replace(look, tilt=max(0.0, look.tilt - 2.0))
    low, high = smallest, 0.6  # bisect for the largest code that fits
    for _ in range(20):
        low, high = ((low + high) / 2, high) if fits((low + high) / 2) else (low, (low + high) / 2)
    look = replace(look, code_fraction=float(rng.uniform(smallest, high if fits(high) else low)))
    while pitch() < MIN_PITCH and look.tilt > 0:
        look = replace(look, tilt=max(0.0, look.tilt - 2.0))
    q = code_quad(look, modules)
    lo, hi = np.maximum(margin - q.min(0), 0), np.maximum(np.array(size) - margin - q.max(0), 0)
    offset = rng.uniform(-lo, hi) / np.array(size)  # the code anywhere it stays whole in the frame
    p = pitch()
    moving = rng.random() < 0.3
    return replace(
        look, offset=(float(offset[0]), float(offset[1])),
        blur=0.0 if moving else float(rng.uniform(0, MAX_BLUR * p)),
        motion_blur=float(rng.uniform(0, MAX_MOTION * p)) if moving else 0.0, motion_angle=float(rng.uniform(0, 180)),
        glare=float(rng.uniform(0.3, 0.9)) if rng.random() < 0.35 else 0.0, jpeg_quality=int(rng.integers(40, 96)),
        contrast=float(rng.uniform(0.5, 1.0)), noise=float(rng.uniform(0, 8)), exposure=float(rng.uniform(0.75, 1.15)),
        dark_mode=bool(rng.random() < 0.21 and not paper), mirrored=bool(rng.random() < 0.1),
        carrier="paper" if paper else "phone", hand=bool(rng.random() < 0.6 and not paper))
