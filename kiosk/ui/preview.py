"""The live camera picture: the camera's newest frame, uploaded into a texture on the UI thread.

The camera pipeline puts each frame into the app's preview buffer
(kiosk/scanner/preview_buffer.py) on its capture thread; the app picks the
newest up at most 30 times a second, converts BGR or gray to
RGBA (the format the GPU takes fastest: ~0.07 ms for 640x480 against 0.35 ms
for BGR) and blits it. GL calls happen only here, on the main thread. Kivy's
own camera provider is not used: it breaks with OpenCV 5.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from kivy.graphics.texture import Texture  # type: ignore[import-untyped]
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty  # type: ignore[import-untyped]
from kivy.uix.widget import Widget  # type: ignore[import-untyped]

CONVERSIONS = {1: cv2.COLOR_GRAY2RGBA, 3: cv2.COLOR_BGR2RGBA, 4: cv2.COLOR_BGRA2RGBA}  # by channel count


def to_rgba(image: np.ndarray[Any, np.dtype[np.uint8]]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """An OpenCV picture (gray, BGR or BGRA) as contiguous RGBA."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    channels = 1 if image.ndim == 2 else image.shape[2]
    return np.ascontiguousarray(cv2.cvtColor(image, CONVERSIONS[channels]))


class CameraPreview(Widget):  # type: ignore[misc]
    """Draws `texture` fitted inside itself (kv draws; `picture` is where, keeping the aspect ratio)."""

    texture = ObjectProperty(None, allownone=True)
    picture = ListProperty([0, 0, 0, 0])  # x, y, width, height of the fitted picture
    live = BooleanProperty(False)  # a frame has been shown

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uploads = 0
        self.bind(pos=self._fit, size=self._fit, texture=self._fit)

    def show(self, image: np.ndarray[Any, np.dtype[np.uint8]]) -> None:
        rgba = to_rgba(image)
        height, width = rgba.shape[:2]
        texture = self.texture
        if texture is None or tuple(texture.size) != (width, height):
            texture = Texture.create(size=(width, height), colorfmt="rgba")
            texture.flip_vertical()  # OpenCV's first row is the top; GL's is the bottom
            self.texture = texture
        texture.blit_buffer(rgba.reshape(-1), colorfmt="rgba", bufferfmt="ubyte")
        self.uploads += 1
        self.live = True
        self.canvas.ask_update()

    def _fit(self, *_: object) -> None:
        tw, th = self.texture.size if self.texture is not None else (4, 3)  # no picture yet: a 4:3 frame
        scale = min(self.width / tw, self.height / th) if tw and th else 1.0
        w, h = tw * scale, th * scale
        self.picture = [self.center_x - w / 2, self.center_y - h / 2, w, h]
