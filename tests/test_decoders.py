"""The QR decoders: real photos, dark mode and mirrors, two codes, garbage in, the fallback's gate, the views."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import segno
import zxingcpp

from kiosk.errors import ImageError
from kiosk.scanner import decoders
from kiosk.scanner.decoders import ChainDecoder, PyzbarDecoder, ZxingDecoder, decode_file, ordered
from kiosk.scanner.fallbacks import VIEWS, enlarged, equalized, rotated
from kiosk.scanner.types import Image

PHOTOS = Path(__file__).resolve().parent / "data" / "qr-photos"  # ZXing's, copied unchanged: see its NOTICE
PHC1 = "PHC1:" + "6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3" * 5  # 230 alphanumeric characters, like a real one
OTHER = "https://example.com/checkpoint"


def symbol(text: str, scale: int = 6) -> Image:
    """The code of `text`, dark on light, `scale` pixels a module, with its quiet zone."""
    modules = np.array([list(row) for row in segno.make_qr(text, error="m").matrix_iter(scale=1, border=4)], bool)
    return np.repeat(np.repeat(np.where(modules, 20, 235).astype(np.uint8), scale, 0), scale, 1)


def frame(*codes: tuple[Image, int, int], seed: int = 0) -> Image:
    """A 1280x720 grey frame: smooth blotches and sensor noise, with `codes` pasted at (x, y)."""
    rng = np.random.default_rng(seed)
    low = cv2.resize(rng.normal(128, 45, (18, 32)).astype(np.float32), (1280, 720), interpolation=cv2.INTER_CUBIC)
    image: Image = np.clip(low + rng.normal(0, 5, low.shape), 0, 255).astype(np.uint8)
    for code, x, y in codes:
        image[y:y + code.shape[0], x:x + code.shape[1]] = code
    return image


def damaged_code(text: str = PHC1) -> Image:
    """A code that keeps its finder patterns but has noise over its middle: seen, not readable."""
    code = symbol(text, 4).copy()
    n, rng = code.shape[0], np.random.default_rng(1)
    a, b = int(n * 0.3), int(n * 0.7)
    code[a:b, a:b] = rng.integers(0, 2, (b - a, b - a)).astype(np.uint8) * 255
    return code


def damaged(text: str = PHC1) -> Image:
    """A frame with a damaged code (`damaged_code`)."""
    return frame((damaged_code(text), 300, 100))


class Counting:
    """A fallback decoder that records what it is given."""

    def __init__(self, inner: Any = None, answer: list[str] | None = None) -> None:
        self.inner, self.answer = inner, answer or []
        self.images: list[Image] = []

    @property
    def calls(self) -> int:
        return len(self.images)

    def decode(self, image: Image) -> list[str]:
        self.images.append(image)
        return list(self.inner.decode(image)) if self.inner is not None else list(self.answer)


def test_reads_the_real_photos() -> None:
    """The goal: at least 95% of real phone photos (qrcode-2/16 holds two codes: either text counts)."""
    assert PHOTOS.is_dir(), f"the real photos are missing: {PHOTOS}"
    pairs = [(png, png.with_suffix(".txt")) for png in sorted(PHOTOS.rglob("*.png"))]
    pairs = [(png, txt) for png, txt in pairs if txt.exists()]
    assert len(pairs) >= 50
    chain, missed = ChainDecoder(), []
    for png, txt in pairs:
        texts = chain.decode(decoders.read_image(png))
        either = png.parent.name == "qrcode-2" and png.stem == "16"
        if not (txt.read_bytes().decode("utf-8") in texts or (either and texts)):
            missed.append(png.relative_to(PHOTOS))
    assert 1 - len(missed) / len(pairs) >= 0.95, missed
    assert chain.errors == 0


def inverted(image: Image) -> Image:
    return np.asarray(255 - image, np.uint8)


def coloured(image: Image, code: int = cv2.COLOR_GRAY2BGR) -> Image:
    return np.asarray(cv2.cvtColor(image, code), np.uint8)


LOOKS: dict[str, Callable[[Image], Image]] = {
    "plain": lambda g: g,
    "dark mode": inverted,
    "mirrored": lambda g: g[:, ::-1],
    "dark mode, mirrored": lambda g: inverted(g)[:, ::-1],
    "upside down": lambda g: g[::-1, ::-1],
    "BGR": coloured,
    "BGRA": lambda g: coloured(g, cv2.COLOR_GRAY2BGRA),
    "one channel": lambda g: g[:, :, None],
}


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("make", [ChainDecoder, ZxingDecoder])
def test_reads_codes_in_every_look(look: str, make: Any) -> None:
    image = LOOKS[look](frame((symbol(PHC1, 5), 500, 150)))  # views with negative strides too
    assert make().decode(image) == [PHC1]


@pytest.mark.parametrize(("dark", "mirrored"), [(True, False), (False, True), (True, True)])
def test_reads_rendered_dark_mode_and_mirrored_frames(dark: bool, mirrored: bool) -> None:
    from kiosk.scanner import synth

    look = synth.Look(dark_mode=dark, mirrored=mirrored, rotation=20, tilt=15, code_fraction=0.25, noise=3)
    assert ChainDecoder().decode(synth.render_frame(PHC1, look, seed=3)) == [PHC1]


def test_pyzbar_alone_reads_plain_codes_only_dark_on_light() -> None:
    assert PyzbarDecoder().decode(frame((symbol(OTHER), 100, 100))) == [OTHER]
    assert PyzbarDecoder().decode(inverted(frame((symbol(OTHER), 100, 100)))) == []  # hence the chain inverts


def test_two_codes_both_come_back_phc1_first() -> None:
    image = frame((symbol(OTHER, 5), 60, 150), (symbol(PHC1, 5), 700, 150))
    assert ChainDecoder().decode(image) == [PHC1, OTHER]
    assert ordered([OTHER, PHC1, OTHER, "", PHC1]) == [PHC1, OTHER]


def test_text_is_plain_and_exact() -> None:
    for text in ("A\x01B\x1dC", "[外側QRコード]\r\n*ﾀﾞﾌﾞﾙQR*", "café ✓"):  # no <SOH> markers, no lost bytes
        assert ChainDecoder().decode(frame((symbol(text), 200, 200))) == [text]


def test_a_frame_with_no_code_gives_nothing_and_never_reaches_pyzbar() -> None:
    pyzbar = Counting(PyzbarDecoder())
    chain = ChainDecoder(fallbacks=[pyzbar])
    for seed in range(5):
        assert chain.decode(frame(seed=seed)) == []
        assert chain.decode(coloured(frame(seed=seed))) == []
    assert chain.decode(frame((symbol(PHC1, 5), 500, 150))) == [PHC1]  # read at once: no fallback either
    assert (pyzbar.calls, chain.rescued, chain.errors) == (0, 0, 0)


def test_a_code_seen_but_not_read_goes_to_the_fallback_as_a_region() -> None:
    image = damaged()
    assert ZxingDecoder().decode(image) == []
    assert ZxingDecoder().read(image)[1], "zxing-cpp should report the damaged code as seen"
    regions = []
    for look in (LOOKS["plain"], inverted):
        fallback = Counting(answer=["PHC1:FROM-FALLBACK"])
        chain = ChainDecoder(fallbacks=[fallback])
        assert chain.decode(look(image)) == ["PHC1:FROM-FALLBACK"]
        assert fallback.calls == 1 and chain.rescued == 1
        regions.append(fallback.images[0].astype(int))
        assert regions[-1].size < image.size / 4  # the code's surroundings, not the frame
    assert np.abs(regions[0] - regions[1]).max() <= 1  # dark mode too reaches ZBar dark on light

def test_small_images_get_the_whole_image_retries_camera_frames_do_not() -> None:
    fallback = Counting()
    small = frame(seed=1)[:300, :300]
    ChainDecoder(fallbacks=[fallback]).decode(small)
    assert fallback.calls == 1  # a crop or close-up: cheap to try everything
    ChainDecoder(fallbacks=[fallback], blind_max_pixels=0).decode(small)
    ChainDecoder(fallbacks=[fallback]).decode(frame(seed=1))
    assert fallback.calls == 1


class Recording:
    """A view that records the images it is given and changes nothing (None: no use)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, gray: Image, max_side: int) -> Image | None:
        self.shapes.append(gray.shape)
        return None


def test_views_run_on_a_code_seen_but_not_read_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    view = Recording()
    monkeypatch.setattr(decoders, "VIEWS", (view,))
    fallback = Counting()
    assert ChainDecoder(fallbacks=[fallback]).decode(damaged()) == []
    assert len(view.shapes) == 1 and view.shapes[0] == fallback.images[0].shape[:2]  # the region, then pyzbar
    assert np.prod(view.shapes[0]) < damaged().size / 4
    ChainDecoder(views=False).decode(damaged())
    ChainDecoder(retry=False).decode(damaged())  # no retries, no views either
    assert len(view.shapes) == 1
    fallback = Counting()
    ChainDecoder(fallbacks=[fallback]).decode(frame((damaged_code(), 100, 100), (damaged_code(OTHER), 800, 100)))
    assert fallback.calls == 2 and len(view.shapes) == 2  # views on the first region only: bounds the slowest frames


def test_views_of_the_whole_picture_are_for_decode_file_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera frame with no code, small or not, costs no views: only one picture (thorough) gets them."""
    view = Recording()
    monkeypatch.setattr(decoders, "VIEWS", (view,))
    small, huge = frame(seed=2)[:300, :300], np.tile(frame(seed=3), (4, 2))  # 2880x2560
    for image in (small, frame(seed=2), huge):
        assert ChainDecoder().decode(image) == []
        assert ChainDecoder(blind_max_pixels=None).decode(image) == []
    assert view.shapes == []
    assert ChainDecoder(blind_max_pixels=None, thorough=True).decode(small) == []
    assert view.shapes == [(300, 300)]
    assert ChainDecoder(blind_max_pixels=None, thorough=True).decode(huge) == []
    assert view.shapes[-1] == (2000, 1778)  # shrunk first: bounds what a hopeless picture costs
    assert ChainDecoder(blind_max_pixels=None, thorough=True).decode(frame((symbol(PHC1, 5), 500, 150))) == [PHC1]
    assert len(view.shapes) == 2  # read at once: no views


def test_the_views_keep_the_code_whole() -> None:
    image = frame((symbol(PHC1, 3), 500, 150))[100:500, 450:850]
    turned = rotated(image)
    assert turned.shape == (566, 566)  # 400 * (cos 45 + sin 45), rounded up: no corner cut off
    assert turned[0, 0] == int(np.median(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])))
    bigger = enlarged(image, 2000)
    assert bigger is not None and bigger.shape == (1200, 1200)
    assert enlarged(image, 1200) is not None and enlarged(image, 450) is None  # not worth it below 1.25 times
    assert equalized(image).shape == image.shape
    for view in VIEWS:
        changed = view(image, 2000)
        assert changed is not None and changed.dtype == np.uint8
        assert ZxingDecoder().decode(changed) == [PHC1]


def _photo(name: str) -> Image:
    return decoders.read_image(PHOTOS / name)


def _expected(name: str) -> str:
    return (PHOTOS / name).with_suffix(".txt").read_bytes().decode("utf-8")


@pytest.mark.parametrize(("name", "sigma"), [("qrcode-1/16.png", 2.0), ("qrcode-3/22.png", 1.5)])
def test_views_read_blurred_photos_the_retries_miss(name: str, sigma: float) -> None:
    """Real photos blurred: zxing-cpp sees the code, the retries and pyzbar miss it, a view reads it."""
    blurred = np.asarray(cv2.GaussianBlur(_photo(name), (0, 0), sigma), np.uint8)
    assert ChainDecoder(views=False).decode(blurred) == []
    assert ChainDecoder().decode(blurred) == [_expected(name)]


def test_decode_file_reads_a_faded_photo_only_the_whole_views_read(tmp_path: Path) -> None:
    faded = np.asarray(_photo("qrcode-1/13.png") * 0.15 + 108, np.uint8)  # a sixth of the contrast left
    assert ChainDecoder(blind_max_pixels=None, views=False).decode(faded) == []
    assert ChainDecoder().decode(faded) == []  # a camera frame: no views of the whole of it
    assert decode_file(_write(tmp_path / "faded.png", faded)) == [_expected("qrcode-1/13.png")]


GARBAGE = {
    "empty": np.zeros((0, 0), np.uint8),
    "empty colour": np.zeros((0, 5, 3), np.uint8),
    "1x1": np.zeros((1, 1), np.uint8),
    "1x1 colour": np.full((1, 1, 3), 255, np.uint8),
    "one row": np.zeros((1, 5000), np.uint8),
    "one column": np.zeros((5000, 1), np.uint8),
    "float": np.random.default_rng(0).random((100, 100)),
    "int64": np.zeros((50, 50), np.int64),
    "bool": np.ones((50, 50), bool),
    "two channels": np.zeros((50, 50, 2), np.uint8),
    "five channels": np.zeros((50, 50, 5), np.uint8),
    "four dimensions": np.zeros((4, 50, 50, 3), np.uint8),
    "one dimension": np.zeros(100, np.uint8),
    "huge noise": np.random.default_rng(1).integers(0, 256, (2000, 2500), np.uint8),
    "noise crop": np.random.default_rng(2).integers(0, 256, (300, 300, 3), np.uint8),
    "not an array": "PHC1:not an image",
    "None": None,
}


@pytest.mark.parametrize("name", GARBAGE)
@pytest.mark.parametrize("make", [ChainDecoder, ZxingDecoder, PyzbarDecoder,
                                  lambda: ChainDecoder(blind_max_pixels=None),
                                  lambda: ChainDecoder(blind_max_pixels=None, thorough=True)],
                         ids=["chain", "zxing", "pyzbar", "chain-any-size", "chain-as-decode_file"])
def test_garbage_never_raises(name: str, make: Any) -> None:
    assert make().decode(GARBAGE[name]) == []


def test_library_faults_count_and_read_as_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyzbar import pyzbar  # type: ignore[import-untyped]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("library fault")

    image = frame((symbol(PHC1, 5), 500, 150))
    with monkeypatch.context() as patch:
        patch.setattr(zxingcpp, "read_barcodes", broken)
        chain = ChainDecoder()
        assert chain.decode(image) == [] and chain.errors == 1
    with monkeypatch.context() as patch:
        patch.setattr(pyzbar, "decode", broken)
        zbar = PyzbarDecoder()
        assert zbar.decode(image) == [] and zbar.errors == 1
    monkeypatch.setattr(pyzbar, "decode", lambda *a, **k: [SimpleNamespace(data=b"PHC1:\xff\xfe")])
    assert PyzbarDecoder().decode(image) == ["PHC1:\ufffd\ufffd"]  # bad UTF-8 replaced, not raised

    class Rogue:
        def decode(self, image: Image) -> list[str]:
            raise ValueError("a fallback that breaks its promise")

    chain = ChainDecoder(fallbacks=[Rogue()])
    assert chain.decode(damaged()) == [] and chain.errors == 1


def _write(path: Path, image: npt.NDArray[Any]) -> Path:
    ok, data = cv2.imencode(path.suffix, image)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def test_decode_file_reads_pictures(tmp_path: Path) -> None:
    code = symbol(PHC1, 4)
    assert decode_file(_write(tmp_path / "code.png", code)) == [PHC1]
    assert decode_file(_write(tmp_path / "code.jpg", coloured(code))) == [PHC1]
    assert decode_file(_write(tmp_path / "deep.png", code.astype(np.uint16) * 257)) == [PHC1]
    transparent = np.zeros((*code.shape, 4), np.uint8)  # black modules on a transparent (black) background
    transparent[..., 3] = np.where(code < 128, 255, 0)
    assert decode_file(_write(tmp_path / "alpha.png", transparent)) == [PHC1]
    assert decode_file(_write(tmp_path / "blank.png", np.full((100, 100), 255, np.uint8))) == []


@pytest.mark.parametrize(("name", "content", "message"), [
    ("gone.png", None, "cannot read"),
    ("folder.png", "dir", "cannot read"),
    ("empty.png", b"", "not a picture"),
    ("notes.png", b"PHC1:this is text, not a picture\n", "not a picture"),
    ("half.png", b"\x89PNG\r\n\x1a\n\x00\x00", "not a picture"),
])
def test_decode_file_refuses_what_is_not_a_picture(tmp_path: Path, name: str, content: bytes | str | None,
                                                   message: str, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as caught:
        decode_file(path)
    assert str(caught.value).startswith(str(path))
    assert capfd.readouterr().err == ""  # no OpenCV warning on the terminal
