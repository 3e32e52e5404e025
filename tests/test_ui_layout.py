"""The touchscreen's layout at five screen sizes, landscape and portrait, door and bus: the real app, offscreen.

Sizes: 1280x800 (a 10" kiosk panel), 1024x600 (a 7" bus tablet), 800x1280 (a tablet mounted upright),
1080x1920 (a floor-standing totem) and 1920x1080 (a landscape monitor). Kivy draws offscreen into a surface
the size of the first window and never grows it, so each size runs in its own process (this module, run
as `python -m tests.test_ui_layout WxH`): it drives the app as people do (a camera picture, codes
submitted, the gear and the PIN pad tapped) and prints what it measured as JSON; the tests below judge it.
Expected values are the issue's: a title on one line, the prompt on one line, the picture a good share of
the screen (above the words in portrait), the bus named on every bus verdict, keys of 64 dp or more.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(1280, 800), (1024, 600), (800, 1280), (1080, 1920), (1920, 1080)]
VEHICLE = "37路 Bus 37"
PIN = "2468"
PICTURE_BGR = (40, 160, 220)  # the camera frame: one colour, found again in the drawn pixels
SCAN_BACKGROUND = (18, 20, 26)  # the scan screen's dark grey (the app's SCAN_BACKGROUND), in 8-bit RGB
LONG_TITLE = ("禁止通行禁止通行禁止通行", "NO ENTRY: PLEASE SEE THE STAFF")  # no real title is this long


def by_size(sizes: list[tuple[int, int]]) -> list[Any]:
    # A size's tests share one measuring process (`measured` is cached); run.sh keeps a file in one worker.
    return [pytest.param(size, id=f"{size[0]}x{size[1]}") for size in sizes]


@cache
def measured(size: tuple[int, int]) -> dict[str, Any]:
    """What the app drew at `size`, door and bus: one process, once per test worker."""
    with tempfile.TemporaryDirectory(prefix="kiosk-layout-") as home:
        env = {"KIVY_HOME": f"{home}/kivy", "XDG_CACHE_HOME": f"{home}/cache", "HOME": home, "PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-m", "tests.test_ui_layout", f"{size[0]}x{size[1]}"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=600)  # a hang guard only
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def one_line(label: dict[str, Any]) -> None:
    """The label's text is drawn on one line, inside the label: its own width and one line's height."""
    text_width, line_height = label["one_line"]
    x, _, width, _ = label["box"]
    assert text_width <= width + 1, f"{label['text']!r}: {text_width} px of text in a {width:.0f} px label"
    assert label["texture"][1] < 1.5 * line_height, f"{label['text']!r} on more than one line: {label['texture']}"
    assert x >= 0, label


def inside(box: list[float], size: tuple[int, int]) -> bool:
    x, y, width, height = box
    return x >= -1 and y >= -1 and x + width <= size[0] + 1 and y + height <= size[1] + 1


# -- the tests ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("size", by_size(SIZES))
def test_every_verdict_title_fits_on_one_line(size: tuple[int, int]) -> None:
    for mode, screens in measured(size).items():
        assert [v["verdict"] for v in screens["verdicts"]] == ["pass", "deny", "retry"], mode
        for shown in screens["verdicts"]:
            for key in ("title_zh", "title_en"):
                one_line(shown[key])
                assert inside(shown[key]["box"], size), (mode, shown["verdict"], key, shown[key]["box"])
            # Still big: a title is the largest thing on the screen, at least a tenth of the shorter side.
            assert shown["title_zh"]["font"] >= min(size) / 10, (mode, shown["verdict"], shown["title_zh"]["font"])
            assert inside(shown["icon"], size), (mode, shown["verdict"], shown["icon"])


@pytest.mark.slow
@pytest.mark.parametrize("size", by_size([(800, 1280), (1024, 600)]))
def test_a_title_too_long_for_the_screen_is_drawn_smaller_never_broken(size: tuple[int, int]) -> None:
    for mode, screens in measured(size).items():
        normal = screens["verdicts"][1]  # DENY, the longest real title
        long = screens["long_title"]
        assert (long["title_zh"]["text"], long["title_en"]["text"]) == LONG_TITLE
        for key in ("title_zh", "title_en"):
            one_line(long[key])
        assert long["title_zh"]["font"] < normal["title_zh"]["font"], mode  # shrunk to fit, not wrapped


@pytest.mark.slow
@pytest.mark.parametrize("size", by_size(SIZES))
def test_the_prompt_is_on_one_line_and_the_picture_takes_a_good_share(size: tuple[int, int]) -> None:
    width, height = size
    portrait = height > width
    for mode, screens in measured(size).items():
        scan = screens["scan"]
        assert scan["prompt_zh"]["text"] == ("请出示健康码" if mode == "door" else "请扫码乘车")
        one_line(scan["prompt_zh"])
        one_line(scan["prompt_en"])
        px, py, pw, ph = scan["picture"]
        prompt_x, prompt_y, _, prompt_h = scan["prompt_zh"]["box"]
        assert inside(scan["picture"], size), (mode, scan["picture"])
        assert pw / ph == pytest.approx(640 / 480, rel=0.01)  # the camera's 4:3, not stretched
        if portrait:  # across the screen, above the words
            assert pw >= 0.9 * width, (mode, pw)
            assert py >= prompt_y + prompt_h, (mode, "picture not above the prompt", scan["picture"], prompt_y)
        else:  # on the left, beside the words; a bus tablet keeps a smaller picture for its bigger words
            assert pw >= (0.45 if mode == "door" else 0.35) * width, (mode, pw)
            assert px + pw <= prompt_x + 1, (mode, "picture not left of the prompt")
        # Drawn where it was laid out: the frame's colour inside the picture, the screen's background beside it.
        assert scan["picture_pixels"] == [list(PICTURE_BGR[::-1])] * 5, (mode, scan["picture_pixels"])
        assert scan["beside_pixel"] == list(SCAN_BACKGROUND), (mode, scan["beside_pixel"])


@pytest.mark.slow
@pytest.mark.parametrize("size", by_size(SIZES))
def test_every_bus_verdict_names_the_vehicle_smaller_than_the_verdict(size: tuple[int, int]) -> None:
    screens = measured(size)
    assert screens["bus"]["scan"]["vehicle"]["text"] == VEHICLE
    for shown in screens["bus"]["verdicts"]:
        vehicle = shown["vehicle"]
        assert vehicle["text"] == VEHICLE and vehicle["opacity"] == 1, (shown["verdict"], vehicle)
        one_line(vehicle)
        assert inside(vehicle["box"], size), (shown["verdict"], vehicle["box"])
        # Legible at arm's length (3 % of the shorter side at least), yet well under the title.
        assert min(size) * 0.03 <= vehicle["font"] <= shown["title_zh"]["font"] / 2, (shown["verdict"], vehicle)
        title_y = shown["title_zh"]["box"][1]
        assert vehicle["box"][1] + vehicle["box"][3] <= title_y, "the vehicle is under the verdict's words"
    for shown in screens["door"]["verdicts"]:  # at a door there is no vehicle, even if one is configured
        assert shown["vehicle"]["text"] == "" and shown["vehicle"]["box"][3] == 0


@pytest.mark.slow
@pytest.mark.parametrize("size", by_size(SIZES))
def test_pin_pad_and_admin_keys_are_big_and_on_screen(size: tuple[int, int]) -> None:
    for mode, screens in measured(size).items():
        smallest = screens["dp64"]
        for screen in ("pin", "admin"):
            keys = screens[screen]
            assert len(keys) == (14 if screen == "pin" else 7), (mode, screen, [k["text"] for k in keys])
            for key in keys:
                _, _, width, height = key["box"]
                assert inside(key["box"], size), (mode, screen, key)
                assert width >= smallest and height >= smallest, (mode, screen, key)
                # Its words inside it: no label spilling over the key's edges.
                assert key["texture"][0] <= width + 1 and key["texture"][1] <= height + 1, (mode, screen, key)


@pytest.mark.slow
@pytest.mark.parametrize("size", by_size([(800, 1280)]))
def test_a_window_made_wider_than_tall_is_laid_out_again_for_landscape(size: tuple[int, int]) -> None:
    for mode, screens in measured(size).items():
        resized = screens["resized"]
        width, height = resized["window"]
        assert width > height, resized
        px, _, pw, _ = resized["picture"]
        one_line(resized["prompt_zh"])
        assert px + pw <= resized["prompt_zh"]["box"][0] + 1, (mode, "the picture beside the words again", resized)
        # Type follows the new shorter side: smaller than on the portrait screen it came from.
        assert resized["prompt_zh"]["font"] < screens["scan"]["prompt_zh"]["font"], mode


# -- the measuring process ---------------------------------------------------------------------------------

def label_facts(label: Any) -> dict[str, Any]:
    from kivy.core.text import Label as CoreLabel  # type: ignore[import-untyped]

    measure = CoreLabel(font_size=label.font_size, font_name=label.font_name, bold=label.bold)
    width, height = measure.get_extents(label.text) if label.text else (0, 0)
    return {"text": label.text, "font": label.font_size, "box": box_of(label),
            "texture": list(label.texture_size), "one_line": [width, height], "opacity": label.opacity}


def box_of(widget: Any) -> list[float]:
    x, y = widget.to_window(widget.x, widget.y)
    return [x, y, widget.width, widget.height]


def measure_mode(size: tuple[int, int], mode: str, folder: Path) -> dict[str, Any]:
    import numpy as np

    from kiosk import demo
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import LogConfig
    from kiosk.audit.store import AuditLog
    from kiosk.checkpoint.admin import Admin
    from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
    from kiosk.checkpoint.pin import hash_pin
    from kiosk.checkpoint.settings import KioskSettings
    from kiosk.checkpoint.view import verdict_view
    from kiosk.policy import Policy
    from kiosk.scanner.preview_buffer import FrameBuffer
    from kiosk.scanner.types import Frame
    from kiosk.trustdir import load_trust_dir
    from kiosk.verdict import Verdict
    from tests.ui_harness import UiHarness

    log = LogConfig(folder / f"{mode}.db", site="layout", lane=VEHICLE, device="layout-test")
    checkpoint = Checkpoint(CheckpointParts(demo.DEMO_DIR, load_trust_dir(demo.DEMO_DIR), Policy(), [], None,
                                            Recorder(AuditLog(log.path), log, b"k" * 32), hold=600))
    settings = KioskSettings(mode=mode, vehicle=VEHICLE, fullscreen=False, sound=False,
                             admin_pin_hash=hash_pin(PIN, iterations=1000))
    preview = FrameBuffer()
    ui = UiHarness(checkpoint, settings, Admin(checkpoint, settings, media_roots=[folder / "media"]), size=size,
                   preview=preview)
    # Kivy only now: the harness made the window at `size` (an earlier import makes it at Kivy's default 800x600).
    from kivy.metrics import dp  # type: ignore[import-untyped]
    from kivy.uix.button import Button  # type: ignore[import-untyped]

    from kiosk.ui.kioskapp import UiListener

    app, people = ui.app, list(demo.queue(time.time()))
    result: dict[str, Any] = {"window": list(ui.window.size), "dp64": dp(64)}
    try:
        image = np.empty((480, 640, 3), np.uint8)
        image[:] = PICTURE_BGR
        preview.put(Frame(image, 0, time.monotonic()))
        scan = ui.ids("scan")
        ui.until(lambda: scan.preview.live, "the camera picture")
        pixels = ui.pixels()
        x, y, w, h = scan.preview.picture
        x, y = scan.preview.to_window(x, y)
        rows = pixels.shape[0]

        def at(px: float, py: float) -> list[int]:  # window coordinates, y up
            return [int(c) for c in pixels[min(rows - 1, int(rows - py)), int(px)]]

        result["scan"] = {
            "prompt_zh": label_facts(scan.prompt_zh), "prompt_en": label_facts(scan.prompt_en),
            "vehicle": label_facts(scan.vehicle), "picture": [x, y, w, h],  # the centre, then near each corner
            "picture_pixels": [at(x + w * u, y + h * v) for u, v in ((.5, .5), (.1, .1), (.9, .1), (.1, .9), (.9, .9))],
            # Just past the picture, towards the words: below it in portrait, right of it in landscape.
            "beside_pixel": at(x + w / 2, y - 3) if app.portrait else at(x + w + 3, y + h / 2)}
        verdicts = []

        def shown_now() -> dict[str, Any]:
            ids = ui.ids("verdict")
            return {"verdict": app.screen("verdict").verdict, "icon": box_of(ids.icon),
                    **{key: label_facts(ids[key]) for key in ("title_zh", "title_en", "vehicle")}}

        def wait_shown(count: int) -> None:
            ui.until(lambda: len(app.shown) > count, "the verdict on screen")
            ui.frame()  # the words' sizes settle in the frame after they change

        for person in (people[0], people[3]):  # a green code, a red one
            count = len(app.shown)
            checkpoint.submit(person.text, "camera")
            wait_shown(count)
            verdicts.append(shown_now())
        # No code makes a RETRY without a thermometer: its view is handed over as the checkpoint does, by the listener.
        retry = verdict_view(Verdict("temperature_missing"), at=time.time(), hold=600)
        for view in (retry, replace(retry, title_zh=LONG_TITLE[0], title_en=LONG_TITLE[1])):
            count = len(app.shown)
            UiListener(app).on_verdict(view)
            wait_shown(count)
            verdicts.append(shown_now())
        result["verdicts"], result["long_title"] = verdicts[:3], verdicts[3]

        def keys(screen: str) -> list[dict[str, Any]]:
            return [{"text": b.text, "box": box_of(b), "texture": list(b.texture_size)}
                    for b in app.screen(screen).walk() if isinstance(b, Button)]

        def tap(screen: str, text: str) -> None:
            ui.tap(next(b for b in app.screen(screen).walk() if isinstance(b, Button) and b.text == text))

        ui.tap(app.root.ids.bar.ids.gear)
        ui.until(lambda: ui.screen == "pin", "the PIN pad")
        ui.frame()  # laid out in its first frame
        result["pin"] = keys("pin")
        for digit in PIN:
            tap("pin", digit)
        tap("pin", "确定  OK")
        ui.until(lambda: ui.screen == "admin", "the admin menu")
        ui.frame()
        result["admin"] = keys("admin")
        # A windowed kiosk turned on its side: the window now wider than tall (within the surface's size).
        tap("admin", "退出管理  leave admin")
        turned = (min(size), round(min(size) * 0.6))
        ui.window.size = turned
        ui.until(lambda: ui.screen == "scan" and tuple(ui.window.size) == turned, "the window turned")
        for _ in range(3):  # a few frames: the new layout settles
            ui.frame()
        x, y, w, h = scan.preview.picture
        result["resized"] = {"window": list(ui.window.size), "picture": [*scan.preview.to_window(x, y), w, h],
                             "prompt_zh": label_facts(scan.prompt_zh)}
    finally:
        ui.close()
    return result


def main(argv: list[str]) -> None:
    width, height = (int(n) for n in argv[0].split("x"))
    with tempfile.TemporaryDirectory(prefix="kiosk-layout-") as folder:  # the audit logs
        results = {mode: measure_mode((width, height), mode, Path(folder)) for mode in ("door", "bus")}
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
