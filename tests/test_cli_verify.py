"""`kiosk verify` in-process: inputs, config, warnings and every error path (spec section 6)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli.main import main
from kiosk.healthcode import PRINTED
from kiosk.qr_render import save_png
from tests.factories import NOW, code, kid

Run = tuple[int, str, str]


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    status = main(["verify", "--now", str(NOW), *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_pass_prints_one_json_line(capsys: pytest.CaptureFixture[str], trust_dir: Path) -> None:
    status, out, err = verify(capsys, "--trust", str(trust_dir), code())
    assert (status, err) == (0, "")
    assert out.count("\n") == 1
    shown = json.loads(out)
    assert (shown["verdict"], shown["reason"], shown["kid"], shown["name"]) == ("pass", "ok", kid("issuer").hex(),
                                                                               "张*明")


def test_text_from_standard_input_drops_the_line_end(capsys: pytest.CaptureFixture[str], trust_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((code() + "\r\n").encode())))
    status, out, _ = verify(capsys, "--trust", str(trust_dir), "-")
    assert (status, json.loads(out)["reason"]) == (0, "ok")


def test_iso_time_with_a_zone(capsys: pytest.CaptureFixture[str], trust_dir: Path) -> None:
    # NOW is 2026-05-28T20:26:40Z; a code issued then, judged 10 minutes later in Beijing time.
    status, out, _ = main(["verify", "--trust", str(trust_dir), "--now", "2026-05-29T04:36:40+08:00",
                           code(iat=NOW)]), *capsys.readouterr()
    assert json.loads(out)["reason"] == "too_old" and status == 1


def test_temperature_option_makes_a_reading(capsys: pytest.CaptureFixture[str], trust_dir: Path) -> None:
    status, out, _ = verify(capsys, "--trust", str(trust_dir), "--temperature", "38.0", code())
    assert (status, json.loads(out)["reason"], json.loads(out)["temperature"]) == (1, "fever", 38.0)
    status, out, _ = verify(capsys, "--trust", str(trust_dir), "--temperature", "30", code())
    assert (status, json.loads(out)["verdict"]) == (3, "retry")


def test_config_policy_applies_and_options_override_it(capsys: pytest.CaptureFixture[str], trust_dir: Path,
                                                        tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[policy]\nmax_age = 30\naccept_printed = false\n')
    assert verify(capsys, "--config", str(config), code())[0] == 1  # 60 s old, max_age 30
    assert verify(capsys, "--config", str(config), "--max-age", "90", code())[0] == 0
    status, out, _ = verify(capsys, "--config", str(config), code(kind=PRINTED))
    assert (status, json.loads(out)["reason"]) == (1, "printed_not_accepted")


def test_corrupt_status_list_is_a_warning_not_a_failure(capsys: pytest.CaptureFixture[str], trust_dir: Path) -> None:
    (trust_dir / "status.cose").write_bytes(b"\xd2\x84garbage")
    status, out, err = verify(capsys, "--trust", str(trust_dir), code())
    shown = json.loads(out)
    assert (status, shown["reason"]) == (0, "ok")
    assert len(shown["warnings"]) == 1 and "status.cose" in shown["warnings"][0]
    assert err.startswith("warning: ") and "status.cose" in err


def one_error_line(run: Run, *needles: str) -> None:
    status, out, err = run
    assert (status, out) == (2, "")
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err


def test_errors_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], trust_dir: Path, tmp_path: Path) -> None:
    one_error_line(verify(capsys, "--trust", str(tmp_path / "none"), code()), "no such trust directory")
    (trust_dir / "trust.cose").write_bytes(b"not cose")
    one_error_line(verify(capsys, "--trust", str(trust_dir), code()), "trust.cose", "not a valid COSE_Sign1")
    (trust_dir / "trust.cose").unlink()
    one_error_line(verify(capsys, "--trust", str(trust_dir), code()), "trust.cose: missing")


@pytest.mark.parametrize("args", [[], ["--image", "x.png", "TEXT"], ["--skew", "soon", "X"],
                                  ["--temperature", "hot", "X"], ["--now", "yesterday", "X"], ["--bogus", "X"]])
def test_usage_errors_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], trust_dir: Path,
                                               args: list[str]) -> None:
    with pytest.raises(SystemExit) as leaving:
        status = main(["verify", "--trust", str(trust_dir), *args])
        raise SystemExit(status)
    out, err = capsys.readouterr()
    one_error_line((int(leaving.value.code or 0), out, err))


def test_image_with_a_code(capsys: pytest.CaptureFixture[str], trust_dir: Path, tmp_path: Path) -> None:
    picture = tmp_path / "code.png"
    save_png(code(), picture)
    status, out, _ = verify(capsys, "--trust", str(trust_dir), "--image", str(picture))
    assert (status, json.loads(out)["reason"]) == (0, "ok")
    save_png("https://example.com", picture)
    assert json.loads(verify(capsys, "--trust", str(trust_dir), "--image", str(picture))[1])["reason"] == \
        "not_health_code"


def test_image_without_a_code_or_not_an_image(capsys: pytest.CaptureFixture[str], trust_dir: Path,
                                              tmp_path: Path) -> None:
    import cv2

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200), 255, np.uint8))
    one_error_line(verify(capsys, "--trust", str(trust_dir), "--image", str(blank)), "no QR code found")
    text_file = tmp_path / "notes.png"
    text_file.write_text("hello")
    one_error_line(verify(capsys, "--trust", str(trust_dir), "--image", str(text_file)), "not a picture")
    one_error_line(verify(capsys, "--trust", str(trust_dir), "--image", str(tmp_path / "gone.png")), "cannot read")
