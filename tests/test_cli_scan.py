"""`kiosk scan`: a rendered video and a serial 2D scanner on a real pty, verified against a trust dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from kiosk.cli.main import main
from kiosk.healthcode import RED
from kiosk.scanner.synth import Look, render_frame, write_video
from tests.factories import code

ROOT = Path(__file__).resolve().parents[1]
LOOK = Look(size=(640, 480), code_fraction=0.4)


def fresh(**claims: object) -> str:
    now = int(time.time())
    return code(iat=now - 10, exp=now + 3600, **claims)


def test_scan_a_video(trust_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    green, red = fresh(), fresh(status=RED)
    frames = ([render_frame(None, LOOK, 1)] * 3 + [render_frame(green, LOOK, 2)] * 4 + [render_frame(None, LOOK, 3)] * 2
              + [render_frame(red, LOOK, 4)] * 4 + [render_frame("hello", LOOK, 5)] * 2)
    write_video(tmp_path / "door.avi", frames, 30)
    assert main(["scan", "--trust", str(trust_dir), "--camera", str(tmp_path / "door.avi")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["reason"], x["source"]) for x in lines] == [("ok", "camera"), ("status_red", "camera"),
                                                            ("not_health_code", "camera")]
    assert all(isinstance(x["ms"], float) for x in lines)


def test_scan_needs_a_source(trust_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--trust", str(trust_dir)]) == 2
    assert "give --camera SOURCE and/or --serial URL" in capsys.readouterr().err


def wait_until_open(pid: int, device: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == device for fd in os.listdir(f"/proc/{pid}/fd")):
                time.sleep(0.2)  # opened; pyserial flushes the input right after opening
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{device} never opened")


def test_scan_a_serial_scanner_until_interrupted(trust_dir: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "scan", "--trust", str(trust_dir),
                                "--serial", os.ttyname(slave)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        wait_until_open(process.pid, os.ttyname(slave))  # pyserial drops what arrives before it opens the port
        os.write(master, (fresh() + "\r\n").encode() + b"\x00garbage without end")
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        assert (line["reason"], line["source"], line["ms"]) == ("ok", "serial", None)
    finally:
        process.send_signal(2)  # Ctrl-C: stops cleanly
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()
        os.close(master)
        os.close(slave)


def test_decode_prints_one_line_a_file_and_goes_on_past_bad_ones(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    text = fresh()
    cv2.imwrite(str(tmp_path / "code.png"), render_frame(text, LOOK, 1))
    cv2.imwrite(str(tmp_path / "empty.jpg"), render_frame(None, LOOK, 2))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    names = [str(tmp_path / n) for n in ("code.png", "broken.png", "empty.jpg")]
    assert main(["decode", *names]) == 2  # one file could not be read
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["file"], x["texts"]) for x in lines] == [(names[0], [text]), (names[2], [])]
    assert all(isinstance(x["ms"], float) and x["ms"] >= 0 for x in lines)
    assert err.count("\n") == 1 and "broken.png: not a picture" in err


def test_decode_finds_nothing_and_still_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    cv2.imwrite(str(tmp_path / "wall.png"), render_frame(None, LOOK, 3))
    assert main(["decode", str(tmp_path / "wall.png")]) == 0
    assert json.loads(capsys.readouterr().out)["texts"] == []
