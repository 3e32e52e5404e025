"""The member states' QR pictures (tests/data/dgc-testdata) read by `kiosk decode`, as a user runs it.

Every vector's 2DCODE (a PNG in its JSON) and every picture of the countries' png/ folders that is not the same
file: each must read to exactly the vector's PREFIX, except where the vector's EXPECTEDPICTUREDECODE is false
(the catalogue's Q1, a code that cannot be read), which must read to nothing or to something else.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.test_dcc_conformance import DATA, VECTORS, Vector

pytestmark = pytest.mark.slow

BY_NAME = {vector.name: vector for vector in VECTORS}
PROCESSES = 4  # `kiosk decode` takes many files: the pictures are shared out among this many processes


def vector_of_file(path: Path) -> Vector:
    """The vector a png/ picture shows: the same name, give or take FR's "_Raw" and a hyphen for an underscore."""
    country = path.relative_to(DATA).parts[0]
    for stem in (path.stem, f"{path.stem}_Raw", path.stem.replace("-", "_")):
        if f"{country}/{stem}" in BY_NAME:
            return BY_NAME[f"{country}/{stem}"]
    raise AssertionError(f"{path.relative_to(DATA)}: no vector of that name")


def pictures(folder: Path) -> dict[Path, Vector]:
    """Each distinct picture once (most png/ files are the 2DCODE again), with the vector it shows."""
    found: dict[str, tuple[Path, Vector]] = {}
    for vector in VECTORS:
        if vector.picture is not None:
            path = folder / (vector.name.replace("/", "_") + ".png")
            path.write_bytes(vector.picture)
            found.setdefault(hashlib.sha256(vector.picture).hexdigest(), (path, vector))
    for path in sorted(DATA.rglob("*.png")):
        found.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), (path, vector_of_file(path)))
    return dict(found.values())


def kiosk_decode(files: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return subprocess.run([sys.executable, "-m", "kiosk", "decode", *map(str, files)], capture_output=True,
                          text=True, env=env, timeout=600, check=False)


def decode(files: list[Path]) -> dict[str, list[str]]:
    done = kiosk_decode(files)
    assert done.returncode == 0, done.stderr
    return {line["file"]: line["texts"] for line in map(json.loads, done.stdout.splitlines())}


def test_every_picture_reads_to_its_text(tmp_path: Path) -> None:
    shown = pictures(tmp_path)
    files = sorted(path for path, vector in shown.items() if vector.expected.get("PICTUREDECODE") is not False)
    with ThreadPoolExecutor(PROCESSES) as pool:
        read: dict[str, list[str]] = {}
        for part in pool.map(decode, [files[i::PROCESSES] for i in range(PROCESSES)]):
            read.update(part)
    wrong = [f"{path.name} ({shown[path].name}): read {read.get(str(path))!r}"[:300] for path in files
             if read.get(str(path)) != [shown[path].text]]
    assert not wrong, f"{len(wrong)} of {len(files)} pictures:\n" + "\n".join(wrong)


def test_a_picture_that_cannot_be_read_gives_no_text(tmp_path: Path) -> None:
    # Q1's 2DCODE is not a picture at all: one line on standard error (exit 2), or a read that is not its text.
    unreadable = [(path, vector) for path, vector in pictures(tmp_path).items()
                  if vector.expected.get("PICTUREDECODE") is False]
    for path, vector in unreadable:
        done = kiosk_decode([path])
        if done.returncode == 2:
            assert done.stdout == "" and done.stderr.count("\n") == 1 and str(path) in done.stderr
        else:
            assert done.returncode == 0 and vector.text not in json.loads(done.stdout)["texts"]


def test_the_pictures_cover_every_vector_that_has_one(tmp_path: Path) -> None:
    # Guards the harness: 317 vectors carry a 2DCODE, and the png/ folders add 25 pictures of their own.
    shown = pictures(tmp_path)
    assert len(shown) == 342
    assert sum(v.expected.get("PICTUREDECODE") is False for v in shown.values()) == 1  # the catalogue's Q1
