"""Idle mode: after a quiet time the camera pipeline decodes 5 frames a second, and every frame again on a code.

The schedule is pure (times in, decisions out); the end-to-end tests run the real CameraPipeline
and CaptureSource over a rendered video, on the video's own clock (1/30 s a frame taken), so
what is decoded does not depend on how busy the machine is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import CaptureSource
from kiosk.scanner.idle import IdleSchedule
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.synth import Look, render_frame, write_video
from kiosk.scanner.types import Frame, FrameReading, Image, Scan
from tests.factories import code

FPS = 30
SMALL = Look(size=(640, 480), code_fraction=0.4)
A = code(name="A")


def decoded_times(schedule: IdleSchedule, start: float, end: float, *, seen_at: tuple[float, ...] = (),
                  jitter: float = 0.0) -> list[float]:
    """Times of the frames the schedule decodes among frames every 1/30 s from `start` to `end`;
    a decoded frame at or after each time in `seen_at` shows a code (once)."""
    rng, pending, decoded = np.random.default_rng(0), sorted(seen_at), []
    for i in range(round((end - start) * FPS)):
        now = start + i / FPS + (float(rng.uniform(-jitter, jitter)) if jitter else 0.0)
        if schedule.should_decode(now):
            decoded.append(now)
            if pending and now >= pending[0] - 1e-9:
                schedule.code_seen(now)
                pending.pop(0)
    return decoded


def between(times: list[float], start: float, end: float) -> int:
    return sum(start - 1e-9 <= t < end - 1e-9 for t in times)


def test_every_frame_until_the_quiet_time_then_five_a_second() -> None:
    times = decoded_times(IdleSchedule(idle_after=10, idle_fps=5), 0, 20)
    assert between(times, 0, 10) == 300  # 10 s at 30 fps: all of them
    assert between(times, 10, 20) == 50  # 5 a second
    idle = [t for t in times if t >= 10 - 1e-9]
    assert np.allclose(np.diff(idle), 0.2)  # evenly: every 6th frame


def test_a_code_brings_back_every_frame_until_it_has_been_gone_the_quiet_time() -> None:
    schedule = IdleSchedule(idle_after=10, idle_fps=5)
    times = decoded_times(schedule, 0, 40, seen_at=(15.0, 18.0))
    assert between(times, 10, 15) == 25  # idle
    assert between(times, 15.2, 28) == round(12.8 * FPS)  # the frame after the code, and every one for 10 s
    assert between(times, 28.2, 40) == 59  # idle again: 5 a second (the first at 28.0)
    assert schedule.idle(40) and not schedule.idle(27.9)


@pytest.mark.parametrize("jitter", [0.003, 0.01])
def test_camera_frame_times_that_jitter_still_give_five_a_second(jitter: float) -> None:
    times = decoded_times(IdleSchedule(idle_after=1, idle_fps=5), 0, 61, jitter=jitter)
    assert 295 <= between(times, 1.1, 61) <= 301


def test_after_a_stall_the_next_frame_is_decoded_and_no_burst_follows() -> None:
    schedule = IdleSchedule(idle_after=1, idle_fps=5)
    decoded_times(schedule, 0, 5)
    assert schedule.should_decode(9.0)  # no frame for 4 s (a lost camera), then one
    assert decoded_times(schedule, 9.0 + 1 / FPS, 10) == pytest.approx([9.2, 9.4, 9.6, 9.8], abs=0.02)


@pytest.mark.parametrize("schedule", [IdleSchedule.never(), IdleSchedule(idle_after=0)])
def test_idle_mode_off_decodes_every_frame(schedule: IdleSchedule) -> None:
    assert len(decoded_times(schedule, 0, 60)) == 60 * FPS


@pytest.mark.parametrize(("after", "fps"), [(-1, 5), (float("nan"), 5), (10, 0), (10, -5), (10, float("inf"))])
def test_bad_settings_are_refused(after: float, fps: float) -> None:
    with pytest.raises(ValueError):
        IdleSchedule(idle_after=after, idle_fps=fps)


class VideoTime:
    """A real CaptureSource on the video's own clock: each frame taken off it (read or skipped) is 1/30 s."""

    def __init__(self, source: CaptureSource, *, can_skip: bool = True) -> None:
        self.source, self.taken = source, 0
        if not can_skip:
            self.skip = None  # type: ignore[assignment]  # like FolderSource: every frame is read

    def now(self) -> float:
        return self.taken / FPS  # the time of the frame about to be taken

    @property
    def state(self) -> str:
        return self.source.state

    def read(self) -> Frame | None:
        frame = self.source.read()
        if frame is None:
            return None
        self.taken += 1
        return Frame(frame.image, frame.index, (self.taken - 1) / FPS)

    def skip(self) -> bool:
        skipped = self.source.skip()
        self.taken += skipped
        return skipped

    def close(self) -> None:
        self.source.close()


class CountingDecoder:
    """The real chain; notes what each decoded frame gave, in order."""

    def __init__(self) -> None:
        self.inner = ChainDecoder()
        self.results: list[list[str]] = []

    def decode(self, image: Image) -> list[str]:
        return self.read_frame(image).texts

    def read_frame(self, image: Image, resume: int = 0) -> FrameReading:
        reading = self.inner.read_frame(image, resume)
        self.results.append(reading.texts)
        return reading


def quiet_then_code(tmp_path: Path, quiet: int, holding: int) -> Path:
    """`quiet` frames of a street with no code (the scene changes every 10), then A for `holding` frames."""
    frames = [render_frame(None, SMALL, seed=i // 10) for i in range(quiet)]
    frames += [render_frame(A, SMALL, seed=100)] * holding
    path = tmp_path / "stop.avi"
    write_video(path, frames, FPS)
    return path


def run(path: Path, *, can_skip: bool = True) -> tuple[list[Scan], CameraPipeline, CountingDecoder, list[Frame]]:
    source = VideoTime(CaptureSource(str(path)), can_skip=can_skip)
    decoder, scans, previews = CountingDecoder(), list[Scan](), list[Frame]()
    # Every frame the schedule picks is decoded (none dropped): the counts are the schedule's alone.
    pipeline = CameraPipeline(source, decoder, idle=IdleSchedule(idle_after=1.0, idle_fps=5), latest_wins=False,
                              monotonic=source.now, on_frame=previews.append)
    pipeline.start(scans.append)
    assert pipeline.wait_until_done(timeout=60)
    pipeline.stop()
    return scans, pipeline, decoder, previews


@pytest.mark.parametrize("can_skip", [True, False], ids=["camera-like source", "source that cannot skip"])
def test_a_code_after_a_quiet_stretch_is_read_and_the_quiet_stretch_costs_fewer_decodes(
        tmp_path: Path, can_skip: bool) -> None:
    scans, pipeline, decoder, previews = run(quiet_then_code(tmp_path, quiet=120, holding=30), can_skip=can_skip)
    assert [s.text for s in scans] == [A]
    first_read = next(i for i, texts in enumerate(decoder.results) if A in texts)
    # 1 s of every frame (30), then 3 s at 5 a second (15), and at most one more before the code
    assert 30 + 14 <= first_read <= 30 + 16 < 120
    # Back to every frame once the code is seen: of its 30 frames at most the first 5 pass undecoded.
    assert sum(A in texts for texts in decoder.results) >= 30 - 5
    stats = pipeline.stats
    assert stats.frames == 150 and stats.decoded == len(decoder.results) and stats.dropped == 0
    assert stats.skipped == 150 - stats.decoded
    # The preview: every frame where the source must be read anyway; else the decoded ones only.
    assert len(previews) == (150 if not can_skip else stats.decoded)


def test_a_code_in_view_for_a_fifth_of_a_second_while_idle_is_still_read(tmp_path: Path) -> None:
    scans, pipeline, _, _ = run(quiet_then_code(tmp_path, quiet=100, holding=6))
    assert [s.text for s in scans] == [A]  # 6 frames (0.2 s) at 5 a second: one of them is decoded
    assert pipeline.stats.frames == 106  # every frame taken off the video, skipped or not


def test_a_source_at_its_own_pace_goes_idle_by_default_one_read_for_every_frame_does_not() -> None:
    source = CaptureSource("/dev/null")
    assert CameraPipeline(source, ChainDecoder(), latest_wins=True).schedule.idle_after == 10.0
    assert CameraPipeline(source, ChainDecoder(), latest_wins=False).schedule.idle_after is None
    assert CameraPipeline(source, ChainDecoder(), idle=False).schedule.idle_after is None


def test_the_scanner_section_sets_the_idle_mode_of_a_live_camera(tmp_path: Path) -> None:
    """[scanner] idle_after / idle_fps reach the camera pipeline the checkpoint builds; a bad value is one line."""
    import subprocess
    import sys

    from kiosk.config import load_config
    from kiosk.devices_config import parse_scanner
    from kiosk.errors import ConfigError

    assert (parse_scanner({"idle_after": 30, "idle_fps": 2}).idle_after, parse_scanner({}).idle_fps) == (30, 5.0)
    with pytest.raises(ConfigError, match="idle_fps"):
        parse_scanner({"idle_fps": 0})
    from kiosk.checkpoint.wiring import code_sources

    video = write_video(tmp_path / "street.avi", [render_frame(None, Look(size=(320, 240)), 1)] * 3, 30)
    good = tmp_path / "good.toml"
    good.write_text(f'[scanner]\ncamera = "{video}"\nidle_after = 30\nidle_fps = 2\n')
    (pipeline,) = code_sources(load_config(good), realtime=True)
    assert isinstance(pipeline, CameraPipeline)
    pipeline.source.close()
    assert (pipeline.schedule.idle_after, pipeline.schedule.period) == (30, 0.5)
    config = tmp_path / "kiosk.toml"
    config.write_text('[scanner]\nidle_fps = 0\n')
    with pytest.raises(ConfigError, match="idle_fps"):
        load_config(config)
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "run", "--headless", "--stdin"],
                          input="", capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "idle_fps" in done.stderr and len(done.stderr.strip().splitlines()) == 1
