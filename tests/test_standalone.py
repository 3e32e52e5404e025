"""The repository stands on its own: nothing outside it is needed, and an installed kiosk runs its demo.

- The test data (the real QR photos) is in the repository, and no file points
  to a folder beside it or to a path of one machine.
- `keys/demo` in a checkout is the packaged demo material itself (a link), so
  the two cannot drift apart, and the README's examples work with it.
- A wheel built from the checkout, installed into a fresh environment (its
  dependencies reused from this one, the checkout nowhere on its path), runs
  `kiosk demo` from a folder outside the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KIOSK = Path(sys.executable).with_name("kiosk")  # the command pip installed beside this interpreter
HANG = 600  # seconds: only against a hang; building, installing and the demo take 15-40 s
# What the repository holds (not whatever a tool left in the working tree)...
PARTS = ("kiosk", "tests", "benchmarks", "deploy", "docs", "keys", ".ci", "README.md", "setup.cfg", "pyproject.toml",
         "run.sh", ".gitignore")
# ... less what .gitignore keeps out of it.
NOT_IN_A_CLONE = {"build", "dist", "__pycache__", ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
# Built from pieces, so that this file does not find itself.
OUTSIDE = re.compile("|".join([re.escape("/" + "work/"), re.escape("../" + "shared"), re.escape("shared" + "/data"),
                               re.escape("shared" + "/spec")]))
SUMMARY = re.compile(r"^(\d+) people, (\d+) codes read, (\d+) unexpected verdicts$", re.M)
BUS_PEOPLE = 18  # the README: the bus's queue, everyone but the three who were there for the thermometer


def _clone_files() -> list[Path]:
    files = [ROOT / part for part in PARTS if (ROOT / part).is_file()]
    for folder, dirs, names in (walk for part in PARTS for walk in os.walk(ROOT / part)):
        dirs[:] = [d for d in dirs if d not in NOT_IN_A_CLONE and not d.endswith(".egg-info")]
        if Path(folder) == ROOT / "tests" / "data":
            dirs[:] = []  # pictures and their texts: the copied data names no paths
            continue
        files += [Path(folder) / name for name in names]
    return files


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _clone_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # pictures, sounds
        offenders += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(text.splitlines(), 1)
                      if OUTSIDE.search(line)]
    assert len(_clone_files()) > 100
    assert not offenders, offenders


def test_the_real_photos_and_their_licence_are_in_the_repository() -> None:
    photos = ROOT / "tests" / "data" / "qr-photos"
    pairs = [png for png in photos.rglob("*.png") if png.with_suffix(".txt").is_file()]
    assert len(pairs) >= 90  # the README's figures are over 97 photos
    assert "Apache License" in (photos / "LICENSE").read_text()
    notice = (photos / "NOTICE").read_text()
    assert "https://github.com/zxing/zxing" in notice and "unchanged" in notice


def test_keys_demo_in_a_checkout_is_the_packaged_demo_material() -> None:
    """One copy: keys/demo (the README's examples) is a link to the folder the package ships."""
    assert (ROOT / "keys" / "demo").is_symlink()
    assert (ROOT / "keys" / "demo").resolve() == (ROOT / "kiosk" / "demo_keys").resolve()
    issued = subprocess.run([str(KIOSK), "issue", "--key", "keys/demo/private/tianjin.key", "--iss", "CN-120000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=HANG)
    assert issued.returncode == 0, issued.stderr
    verified = subprocess.run([str(KIOSK), "verify", "--trust", "keys/demo", issued.stdout.strip()],
                              cwd=ROOT, capture_output=True, text=True, timeout=HANG)
    assert verified.returncode == 0 and json.loads(verified.stdout)["reason"] == "ok", verified.stdout


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=HANG, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done  # type: ignore[no-any-return]


@pytest.mark.slow
def test_an_installed_wheel_runs_the_demo_outside_the_checkout(tmp_path: Path) -> None:
    # A copy of what a clone holds: building in the checkout would leave build/ there, whose stale files
    # a later wheel would take in.
    (tmp_path / "clone").mkdir()
    source = tmp_path / "clone"
    for part in PARTS:
        if (ROOT / part).is_file():
            shutil.copy2(ROOT / part, source / part)
        else:
            shutil.copytree(ROOT / part, source / part, symlinks=True,
                            ignore=lambda folder, names: [n for n in names if n in NOT_IN_A_CLONE
                                                          or Path(folder, n) == ROOT / "tests" / "data"])
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)])
    [wheel] = (tmp_path / "dist").glob("checkpoint_kiosk-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "kiosk/demo_keys/trust.cose" in archive.namelist()

    # A fresh environment with only the wheel installed; its dependencies come from this one's
    # site-packages through a .pth line (no download; and a .pth line does not run the editable
    # install's own .pth there, so the checkout stays off the path).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz-dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIOSK_CONFIG",
                                                              "PYTHONPATH", "KIOSK_TRUST_DIR")}
    env.update(HOME=str(elsewhere), XDG_CACHE_HOME=str(elsewhere / "cache"), KIVY_HOME=str(elsewhere / "kivy"))
    where = _run([str(python), "-c", "import kiosk.demo; print(kiosk.demo.DEMO_DIR)"], cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # the installed package, not the checkout

    demo = _run([str(venv / "bin" / "kiosk"), "demo", "--headless", "--bus", "--pace", "0.8"], cwd=elsewhere, env=env)
    assert SUMMARY.findall(demo.stdout) == [(str(BUS_PEOPLE), str(BUS_PEOPLE), "0")], demo.stdout[-2000:]
