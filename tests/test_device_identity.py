"""The kiosk's device key: made once on first start, owner-only, stable, never mistaken."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kiosk.cli.main import main
from kiosk.cose import kid_of
from kiosk.device_identity import load_or_create


def test_made_once_then_the_same(tmp_path: Path) -> None:
    path = tmp_path / "kiosk" / "device.key"
    first, made = load_or_create(path)
    assert made and stat.S_IMODE(path.stat().st_mode) == 0o600
    again, made_again = load_or_create(path)
    assert not made_again and (again.id, again.public) == (first.id, first.public)
    assert first.id == kid_of(first.public).hex() and len(first.id) == 16


def test_show_prints_id_and_public_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "device.key"
    assert main(["device", "show", "--key", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["made_now"] is True and shown["key_file"] == str(path)
    assert main(["device", "show", "--key", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"device id   {shown['id']}" in text and shown["public_key"] in text and "made now" not in text


def test_default_location_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("KIOSK_DEVICE_KEY", raising=False)
    assert main(["device", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["key_file"] == str(tmp_path / "kiosk" / "device.key")


@pytest.mark.parametrize("content", ["garbage\n", "", "# kiosk Ed25519 private key (seed): keep it secret\nzz\n"])
def test_a_damaged_key_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
                                              ) -> None:
    path = tmp_path / "device.key"
    path.write_text(content)
    assert main(["device", "show", "--key", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err
    assert path.read_text() == content  # never replaced: its enrollment would be lost with it


def test_device_show_uses_the_key_sync_signs_with(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "kiosk.toml"
    config.write_text('[sync]\nurl = "http://127.0.0.1:9"\ndevice_key = "keys/device.key"\n')
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "device", "show", "--json"],
                          capture_output=True, text=True, timeout=60)
    shown = json.loads(done.stdout)
    assert shown["key_file"] == str(tmp_path / "keys" / "device.key") and shown["made_now"]
