"""The synthetic camera frames: deterministic, the right shapes, readable when clean, and written out readably."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from kiosk.scanner.synth import (
    Look,
    code_quad,
    random_look,
    render_frame,
    render_qr,
    write_image_folder,
    write_video,
)

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def phc1(seed: int) -> str:
    """A PHC1-like text: the prefix and 240 Base45 characters (QR version 9 at level M)."""
    rng = np.random.default_rng(seed)
    return "PHC1:" + "".join(rng.choice(list(BASE45), 240))


TEXT = phc1(1)


def texts(image: np.ndarray) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image)]


def gray(image: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.float64)


def test_render_qr_is_a_crisp_version_9_symbol_with_a_quiet_zone() -> None:
    qr = render_qr(TEXT)
    assert qr.shape == (53 + 8, 53 + 8) and qr.dtype == np.uint8
    assert set(np.unique(qr)) == {0, 255}
    ring = np.ones_like(qr, bool)
    ring[4:-4, 4:-4] = False
    assert (qr[ring] == 255).all()
    assert (qr[4:11, 4] == 0).all()  # the left edge of the top-left finder pattern
    big = render_qr(TEXT, scale=4)
    assert big.shape == (61 * 4, 61 * 4)
    assert texts(big) == [TEXT]


def test_short_texts_still_give_a_full_qr_symbol() -> None:
    assert render_qr("PHC1:A").shape == (21 + 8, 21 + 8)  # version 1, not Micro QR
    assert texts(render_qr("hello", scale=6)) == ["hello"]


def test_the_same_seed_gives_the_same_frame() -> None:
    look = random_look(np.random.default_rng(5))
    assert look == random_look(np.random.default_rng(5))
    first = render_frame(TEXT, look, seed=11)
    assert np.array_equal(first, render_frame(TEXT, look, seed=11))
    assert not np.array_equal(first, render_frame(TEXT, look, seed=12))
    assert np.array_equal(render_frame(None, look, seed=3), render_frame(None, look, seed=3))


@pytest.mark.parametrize("size", [(1280, 720), (640, 480)])
def test_frames_are_bgr_uint8_of_the_look_size(size: tuple[int, int]) -> None:
    for text in (TEXT, None):
        frame = render_frame(text, Look(size=size, carrier="paper", jpeg_quality=70, noise=3), seed=2)
        assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8
        assert frame.flags.c_contiguous


@pytest.mark.parametrize("size", [(1280, 720), (640, 480)])
@pytest.mark.parametrize("carrier", ["phone", "paper"])
def test_a_clean_look_is_read_with_the_exact_text(size: tuple[int, int], carrier: str) -> None:
    look = Look(size=size, carrier=carrier, code_fraction=0.3 if size[0] > 1000 else 0.45)  # type: ignore[arg-type]
    assert texts(render_frame(TEXT, look, seed=4)) == [TEXT]


@pytest.mark.parametrize("seed", range(4))
def test_a_frame_without_text_has_no_code(seed: int) -> None:
    look = Look(carrier="paper" if seed % 2 else "phone", hand=True, noise=4, jpeg_quality=80)
    frame = render_frame(None, look, seed=seed)
    assert zxingcpp.read_barcodes(frame) == []
    assert frame.std() > 20  # a cluttered scene, not a flat grey


def test_dark_mode_inverts_the_code() -> None:
    look = Look(code_fraction=0.4)
    light, dark = (render_frame(TEXT, replace(look, dark_mode=on), seed=6) for on in (False, True))
    quad = code_quad(look).astype(int)  # the code with its quiet zone, in the middle of the frame
    (x0, y0), (x1, y1) = quad.min(0), quad.max(0)
    modules = cv2.resize(render_qr(TEXT), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST) == 0
    luminance = {name: gray(f)[y0:y1, x0:x1] for name, f in (("light", light), ("dark", dark))}
    # mean luminance over the dark modules and over the light ones (quiet zone included)
    assert luminance["light"][modules].mean() < 70 and luminance["light"][~modules].mean() > 200
    assert luminance["dark"][modules].mean() > 200 and luminance["dark"][~modules].mean() < 70
    correlation = [np.corrcoef(luminance[name].ravel(), modules.ravel())[0, 1] for name in ("light", "dark")]
    assert correlation[0] < -0.9 and correlation[1] > 0.9
    assert texts(dark) == [TEXT]  # zxing-cpp tries the inverted image by default


def test_mirrored_is_the_frame_flipped_left_to_right() -> None:
    look = Look(size=(640, 480), code_fraction=0.45, rotation=20, noise=2)
    mirrored = render_frame(TEXT, replace(look, mirrored=True), seed=8)
    assert np.array_equal(mirrored, render_frame(TEXT, look, seed=8)[:, ::-1])


def test_every_knob_changes_the_frame() -> None:
    look = Look(size=(640, 480), code_fraction=0.45)
    plain = render_frame(TEXT, look, seed=9)
    for change in [dict(rotation=30.0), dict(tilt=30.0), dict(offset=(0.1, 0.0)), dict(blur=1.5),
                   dict(motion_blur=5.0), dict(glare=0.7), dict(jpeg_quality=40), dict(contrast=0.5), dict(noise=5.0),
                   dict(exposure=0.8), dict(carrier="paper"), dict(hand=True), dict(background="plain")]:
        assert not np.array_equal(plain, render_frame(TEXT, replace(look, **change), seed=9)), change  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [dict(code_fraction=0.1), dict(tilt=60.0), dict(contrast=0.2), dict(jpeg_quality=10),
                                 dict(glare=1.5), dict(noise=-1.0), dict(carrier="tablet")])
def test_a_look_out_of_range_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Look(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [(1280, 720), (640, 480)])
def test_random_looks_stay_in_range_and_keep_the_code_in_the_frame(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(21)
    looks = [random_look(rng, size) for _ in range(300)]
    for look in looks:
        quad = code_quad(look)
        assert (quad >= 0).all() and (quad[:, 0] <= size[0]).all() and (quad[:, 1] <= size[1]).all()
        assert 40 <= (look.jpeg_quality or 0) <= 95 and 0.5 <= look.contrast <= 1 and look.tilt <= 45
    fractions = [look.code_fraction for look in looks]
    assert min(fractions) < 0.2 + 0.07 * (size[0] < 1000) and max(fractions) > 0.4
    assert 0.08 < np.mean([look.dark_mode for look in looks]) < 0.25
    assert 0.2 < np.mean([look.carrier == "paper" for look in looks]) < 0.4
    assert 0.04 < np.mean([look.mirrored for look in looks]) < 0.18


def test_random_frames_are_hard_but_readable() -> None:
    rng = np.random.default_rng(33)
    for i in range(8):
        text = phc1(100 + i)
        assert texts(render_frame(text, random_look(rng), seed=i)) == [text], i


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_a_written_video_reads_back_frame_by_frame(tmp_path: Path, suffix: str) -> None:
    look = Look(size=(320, 240), code_fraction=0.5)
    frames = [render_frame(TEXT if i % 3 else None, look, seed=i) for i in range(7)]
    path = tmp_path / f"demo{suffix}"
    assert write_video(path, iter(frames), fps=15) == 7
    capture = cv2.VideoCapture(str(path))
    read = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        read.append(frame)
    capture.release()
    assert len(read) == 7
    assert all(frame.shape == (240, 320, 3) for frame in read)
    assert np.abs(read[1].astype(int) - frames[1]).mean() < 12  # lossy, but the same picture


def test_write_video_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    frame = render_frame(None, Look(size=(320, 240)), seed=0)
    with pytest.raises(ValueError):
        write_video(tmp_path / "demo.gif", [frame])
    with pytest.raises(ValueError):
        write_video(tmp_path / "no such folder" / "demo.mp4", [frame])
    with pytest.raises(ValueError):
        write_video(tmp_path / "empty.avi", [])
    with pytest.raises(ValueError):
        write_video(tmp_path / "sizes.avi", [frame, frame[:100]])


def test_an_image_folder_reads_back_as_an_image_sequence(tmp_path: Path) -> None:
    look = Look(size=(320, 240), code_fraction=0.5)
    frames = [render_frame(TEXT, look, seed=i) for i in range(3)]
    folder = tmp_path / "frames"
    assert write_image_folder(folder, frames) == 3
    assert sorted(p.name for p in folder.iterdir()) == ["0000.png", "0001.png", "0002.png"]
    capture = cv2.VideoCapture(str(folder / "%04d.png"))
    read = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        read.append(frame)
    capture.release()
    assert len(read) == 3
    assert all(np.array_equal(a, b) for a, b in zip(read, frames))  # PNG is lossless
