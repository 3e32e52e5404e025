"""Which of the decoder chain's retries a camera frame runs: counted in pixels, not in time.

On a frame where zxing-cpp located a code it could not read (a blurred one), the whole chain
(retries, views, pyzbar: about twenty attempts on the code's region, some 15 megapixels of
changed copies) costs 30-70 ms of CPU, more than a frame lasts at 30 fps. A camera sees the same
code in frame after frame, so one frame need not try everything: each runs attempts, in the
chain's order, starting where the frame before stopped (`resume`), while the pixels they read
stay within `limit`; over a few frames all are tried. Pixels, because the attempts' costs differ
twentyfold (a global binarizer on a small region, a sharpened copy of it enlarged three times)
and their time follows the pixels; a count of pixels rather than a clock keeps what is read the
same on a loaded machine as on an idle one. The first attempt of a frame always runs, whatever
its size: every frame gets on.

Every attempt the chain could make has a position, also one that does not apply to this image
(an upscale of a region already large): positions then stay put from frame to frame.
"""

from __future__ import annotations


class RetryBudget:
    """The attempts of one frame: from position `start` on, while they read at most `limit` pixels (None: all)."""

    def __init__(self, limit: int | None = None, start: int = 0) -> None:
        if limit is not None and limit < 1:
            raise ValueError("a frame's retry budget is 1 pixel or more")
        self.limit = limit
        self.start = max(0, start)
        self.position = 0  # attempts met so far in the chain's order, run or not
        self.attempts = 0  # attempts run
        self.pixels = 0  # pixels they read
        self.cut = False  # an attempt was left for want of budget: this frame runs no more
        self._last = -1  # position of the last attempt run

    def runs(self, pixels: int) -> bool:
        """Whether the next attempt in the chain's order, reading `pixels`, runs (if so, it is spent)."""
        position = self.position
        self.position += 1
        if position < self.start or self.cut:
            return False
        if self.limit is not None and self.attempts and self.pixels + pixels > self.limit:
            self.cut = True
            return False
        self.attempts += 1
        self.pixels += pixels
        self._last = position
        return True

    def ahead(self, count: int, pixels: int = 0) -> bool:
        """Whether any of the next `count` attempts may run, the first reading `pixels`; if not, they are
        passed over. The chain asks before the work those attempts need first (turning a region 45
        degrees), so that it is not done for nothing.
        """
        if self.position + count <= self.start:
            self.position += count
            return False
        if self.limit is not None and self.attempts and self.pixels + pixels > self.limit:
            self.cut = True
        if self.cut:
            self.position += count
            return False
        return True

    def pass_over(self, count: int = 1) -> None:
        """Positions of attempts that do not apply to this image: free, not spent."""
        self.position += count

    @property
    def resume(self) -> int:
        """Where the next frame starts: after the last attempt run if some were left, else 0 (all tried)."""
        return self._last + 1 if self.cut else 0
