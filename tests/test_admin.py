"""The admin screens' API: the PIN and its lock, USB sticks, trust import, sync, policy, registration, the log."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.audit.events import Event
from kiosk.audit.recorder import Recorder
from kiosk.audit.settings import LogConfig
from kiosk.audit.store import AuditLog
from kiosk.audit.zones import local_zone
from kiosk.checkpoint.admin import NO_LOG, NO_STICK, NO_SYNC, Admin
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.pin import ITERATIONS, PinLock, hash_pin, verify_pin
from kiosk.checkpoint.settings import KioskSettings
from kiosk.checkpoint.usb import usb_drives
from kiosk.config import parse_config
from kiosk.policy import Policy
from kiosk.scanner.types import Scan
from kiosk.sync.settings import SyncConfig
from kiosk.sync.wiring import build_sync
from kiosk.trustdir import load_trust_dir, refreshed_at
from tests.collector_process import CollectorProcess
from tests.conftest import made_read_only
from tests.factories import NOW, World, code

PIN, WRONG = "80261975", "31415926"  # eight digits: never met by chance in the log's ids and hex
FAST = hash_pin(PIN, iterations=1000)  # the lock's logic, not PBKDF2's cost, is under test


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the PIN ------------------------------------------------------------------------------------------------

# Steps: (seconds to wait first, PIN typed, ok, locked_for, attempts_left); 3 tries, 300 s lock.
LOCK_CASES = {
    "locks after the third wrong PIN": [(0, WRONG, False, 0, 2), (0, WRONG, False, 0, 1), (0, WRONG, False, 300, 0)],
    "the right PIN is refused while locked": [(0, WRONG, False, 0, 2), (0, WRONG, False, 0, 1),
                                              (0, WRONG, False, 300, 0), (100, PIN, False, 200, 0)],
    "the lock ends after its time": [(0, WRONG, False, 0, 2), (0, WRONG, False, 0, 1), (0, WRONG, False, 300, 0),
                                     (299.5, PIN, False, 0.5, 0), (0.5, PIN, True, 0, 3)],
    "after a lock, a full set of tries": [(0, WRONG, False, 0, 2), (0, WRONG, False, 0, 1),
                                          (0, WRONG, False, 300, 0), (300, WRONG, False, 0, 2)],
    "a right PIN resets the count": [(0, WRONG, False, 0, 2), (0, WRONG, False, 0, 1), (0, PIN, True, 0, 3),
                                     (0, WRONG, False, 0, 2), (0, WRONG, False, 0, 1)],
    "the count does not fade with time": [(0, WRONG, False, 0, 2), (3600, WRONG, False, 0, 1),
                                          (3600, WRONG, False, 300, 0)],
}


@pytest.mark.parametrize("steps", LOCK_CASES.values(), ids=LOCK_CASES.keys())
def test_pin_lock(steps: list[tuple[float, str, bool, float, int]]) -> None:
    clock = FakeClock()
    lock = PinLock(FAST, attempts=3, lockout=300, clock=clock)
    for wait, pin, ok, locked_for, left in steps:
        clock.now += wait
        result = lock.try_pin(pin)
        assert (result.ok, round(result.locked_for, 6), result.attempts_left) == (ok, locked_for, left)


# Rounded up: "4 min" while 4 min 0.8 s are left would send someone back too early.
@pytest.mark.parametrize(("waited", "zh", "en"), [(0, "5 分钟", "5 min"), (59.2, "5 分钟", "5 min"),
                                                 (60.5, "4 分钟", "4 min"), (250, "50 秒", "50 s"),
                                                 (299.9, "1 秒", "1 s")])
def test_a_locked_answer_says_how_long_in_both_languages(waited: float, zh: str, en: str) -> None:
    clock = FakeClock()
    lock = PinLock(FAST, attempts=1, lockout=300, clock=clock)
    lock.try_pin(WRONG)
    clock.now += waited
    result = lock.try_pin(PIN)
    assert not result.ok and zh in result.zh and en in result.en and lock.locked_for() == pytest.approx(300 - waited)


@pytest.mark.parametrize("configured", [None, "", "sha1$1$00$00"])
def test_without_a_usable_hash_the_admin_screens_are_closed(configured: str | None) -> None:
    lock = PinLock(configured, attempts=1)
    for pin in (PIN, "", WRONG, WRONG):  # never a lock: nothing was guessed against
        result = lock.try_pin(pin)
        assert (result.ok, result.locked_for) == (False, 0)
        assert "admin_pin_hash" in result.en and "管理" in result.zh


def test_a_hash_has_the_documented_form_and_a_new_salt_each_time() -> None:
    first, second = hash_pin(PIN), hash_pin(PIN)
    algorithm, iterations, salt, digest = first.split("$")
    assert algorithm == "pbkdf2_sha256" and int(iterations) == ITERATIONS >= 100_000
    assert re.fullmatch("[0-9a-f]{32}", salt) and re.fullmatch("[0-9a-f]{64}", digest)
    assert first != second and verify_pin(PIN, first) and verify_pin(PIN, second) and not verify_pin(WRONG, first)
    assert hash_pin(PIN, bytes(16), iterations=5) == hash_pin(PIN, bytes(16), iterations=5)


@settings(max_examples=25, deadline=None)  # PBKDF2 is slow by design, even at 1,000 rounds
@given(st.text(max_size=12), st.text(max_size=12), st.binary(min_size=8, max_size=32))
def test_any_pin_verifies_against_its_own_hash_only(pin: str, other: str, salt: bytes) -> None:
    hashed = hash_pin(pin, salt, iterations=1000)
    assert verify_pin(pin, hashed)
    assert verify_pin(other, hashed) == (other == pin)


VALID = hash_pin(PIN, bytes(range(16)), iterations=1000)


@pytest.mark.parametrize("hashed", [
    "", "pbkdf2_sha256", VALID + "$00", VALID.replace("pbkdf2_sha256", "pbkdf2_sha1"), VALID.upper(),
    VALID.replace("$1000$", "$0$"), VALID.replace("$1000$", "$-1000$"), VALID.replace("$1000$", "$99999999$"),
    VALID.replace("$1000$", "$١٠٠٠$"), VALID[:-1], VALID[:-2] + "zz", f" {VALID}", f"{VALID}\n",
    VALID.replace("$000102", "$"), None, 12345,
])
def test_a_malformed_hash_is_false_never_an_exception(hashed: object) -> None:
    assert verify_pin(PIN, VALID)
    assert verify_pin(PIN, hashed) is False  # type: ignore[arg-type]


def test_a_pin_with_no_utf8_is_false() -> None:
    assert verify_pin("\ud800", VALID) is False


# -- the checkpoint, its log and the admin ------------------------------------------------------------------

@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "media" / "kiosk").mkdir(parents=True)
    return tmp_path / "media"


def mounted_sticks(path: Path) -> bool:
    return path.name.startswith("STICK")  # stands in for os.path.ismount: the test folders are no mounts


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    settings = LogConfig(tmp_path / "audit.db", site="Joy City", lane="2", device="kiosk-07",
                         manual_fields=("name", "phone"))
    with Recorder(AuditLog(settings.path), settings, b"k" * 32) as recorder:
        yield recorder


@pytest.fixture
def checkpoint(recorder: Recorder, trust_dir: Path) -> Checkpoint:
    return Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), recorder=recorder),
                      clock=lambda: NOW)


def make_admin(checkpoint: Checkpoint, media: Path, **kiosk: object) -> Admin:
    settings = KioskSettings(admin_pin_hash=FAST, **kiosk)  # type: ignore[arg-type]
    return Admin(checkpoint, settings, clock=lambda: NOW, media_roots=(media,), is_mount=mounted_sticks)


@pytest.fixture
def admin(checkpoint: Checkpoint, media: Path) -> Admin:
    return make_admin(checkpoint, media)


def events(checkpoint: Checkpoint) -> list[Event]:
    return list(reversed(checkpoint.recent(1_000_000)))  # oldest first


def admin_events(checkpoint: Checkpoint, action: str) -> list[dict[str, object]]:
    return [e.details for e in events(checkpoint) if e.kind == "admin" and e.details["action"] == action]


def scan(checkpoint: Checkpoint, text: str) -> str:
    return checkpoint.handle(Scan(text, "camera", NOW)).reason


def test_usb_drives_are_mounted_writable_folders_one_or_two_levels_down(media: Path) -> None:
    for folder in ("usb0", "kiosk/STICK", "STICK1", "kiosk/STICK/STICK_INSIDE", "a/b/STICK_DEEP"):
        (media / folder).mkdir(parents=True)
    (media / "STICK_FILE").write_text("not a folder")
    (media / "cdrom").symlink_to(media / "STICK1")
    assert usb_drives([media, media / "missing"], is_mount=mounted_sticks) == [media / "STICK1", media / "kiosk/STICK"]
    assert usb_drives([media]) == []  # really mounted: none of them


def test_an_export_holds_every_event_under_the_kiosks_name(admin: Admin, checkpoint: Checkpoint,
                                                           media: Path) -> None:
    (media / "kiosk" / "STICK").mkdir()
    assert admin.unlock(PIN).ok and [scan(checkpoint, code()) for _ in range(3)] == ["ok"] * 3
    logged = len(events(checkpoint))
    done = admin.export_usb()
    stamp = datetime.fromtimestamp(NOW, local_zone()).strftime("%Y%m%d-%H%M")
    out = media / "kiosk" / "STICK" / f"kiosk-kiosk-07-{stamp}.csv"
    assert done.ok and out.name in done.en and out.name in done.zh and f"{logged} events" in done.en
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][0] == "时间" and len(rows) - 1 == logged
    again = admin.export_usb(fmt="jsonl")
    assert again.ok and (out.parent / f"kiosk-kiosk-07-{stamp}.jsonl").exists()
    assert admin.export_usb(fmt="csv").ok and (out.parent / f"kiosk-kiosk-07-{stamp}-2.csv").exists()
    assert [d["file"] for d in admin_events(checkpoint, "export")] == [out.name, f"{out.stem}.jsonl",
                                                                      f"{out.stem}-2.csv"]
    assert admin_events(checkpoint, "export")[0]["events"] == logged


def test_no_stick_and_a_bad_format_are_said(admin: Admin, checkpoint: Checkpoint, media: Path) -> None:
    (media / "usb0").mkdir()  # usbmount's empty folder with nothing mounted on it
    assert admin.drives() == [] and admin.export_usb() == NO_STICK and admin.import_usb() == NO_STICK
    (media / "STICK").mkdir()
    refused = admin.export_usb(fmt="pdf")
    assert not refused.ok and "pdf" in refused.en and list((media / "STICK").iterdir()) == []
    assert [d["ok"] for d in admin_events(checkpoint, "export")] == [False, False]


@pytest.fixture
def read_only_stick(media: Path) -> Iterator[Path]:
    """A stick files cannot be written to: a read-only mount as root (who writes anywhere else), else 0555."""
    with made_read_only(media / "STICK_RO") as stick:
        yield stick


def test_a_read_only_stick_is_not_offered_and_an_export_to_it_fails_cleanly(
        admin: Admin, checkpoint: Checkpoint, read_only_stick: Path) -> None:
    assert admin.drives() == []
    done = admin.export_usb(read_only_stick)
    assert not done.ok and "export failed" in done.en and "导出失败" in done.zh
    assert list(read_only_stick.iterdir()) == []
    assert admin_events(checkpoint, "export")[0]["ok"] is False


def test_import_installs_bundles_before_status_lists_and_reloads_the_trust(
        admin: Admin, checkpoint: Checkpoint, media: Path, trust_dir: Path) -> None:
    stick = media / "STICK"
    stick.mkdir()
    # The status list is signed by a key only the new bundle grants, and its name sorts first.
    world = World(status_entries=[], status_signer="shanghai", status_iss="CN-310000")
    world.grants["shanghai"] = ("CN-310000", NOW - 86400, NOW + 86400)
    (stick / "a-status.cose").write_bytes(world.status_bytes(seq=4))
    (stick / "z-bundle.cose").write_bytes(world.bundle_bytes(seq=2))
    (stick / "._z-bundle.cose").write_bytes(b"\x00\x05\x16\x07 a Mac's shadow file")
    done = admin.import_usb()
    assert done.ok, done.en
    assert done.en == "trust bundle seq 2 installed; status list seq 4 installed"
    assert done.zh == "信任包 seq 2 已安装；状态列表 seq 4 已安装"
    assert refreshed_at(trust_dir) == NOW
    assert checkpoint.trust.bundle.seq == 1
    scan(checkpoint, code())
    assert checkpoint.trust.bundle.seq == 2 and checkpoint.trust.status is not None  # used from the next scan
    again = admin.import_usb()
    assert again.ok and again.en.count("already installed") == 2
    assert admin_events(checkpoint, "import")[0]["installed"] == ["trust bundle seq 2", "status list seq 4"]


def test_a_rollback_and_garbage_are_refused_by_name_and_nothing_changes(
        admin: Admin, checkpoint: Checkpoint, media: Path, trust_dir: Path) -> None:
    stick = media / "kiosk" / "STICK"
    stick.mkdir()
    (stick / "trust.cose").write_bytes(World().bundle_bytes(seq=2))
    assert admin.import_usb().ok
    installed = (trust_dir / "trust.cose").read_bytes()
    (stick / "trust.cose").write_bytes(World().bundle_bytes(seq=1))
    (stick / "status.cose").write_bytes(os.urandom(200))
    done = admin.import_usb(stick)
    assert not done.ok
    assert re.search(r"refused status\.cose: not a signed trust file", done.en)
    assert re.search(r"refused trust\.cose: .*rollback", done.en) and "拒绝 trust.cose" in done.zh
    assert (trust_dir / "trust.cose").read_bytes() == installed and not (trust_dir / "status.cose").exists()
    assert admin_events(checkpoint, "import")[-1]["ok"] is False


def test_set_policy_changes_this_run_and_logs_old_and_new(admin: Admin, checkpoint: Checkpoint) -> None:
    assert admin.policy_values() == {"fever_threshold": 37.3, "accept_printed": True, "max_age": 300.0,
                                     "skew": 120.0}
    assert scan(checkpoint, code(kind=1)) == "ok"
    assert admin.set_policy(fever_threshold=37.8, accept_printed=False).ok
    assert admin.policy_values()["fever_threshold"] == 37.8
    assert scan(checkpoint, code(kind=1)) == "printed_not_accepted"
    logged = admin_events(checkpoint, "policy")[0]
    assert logged["old"] == {"fever_threshold": 37.3, "accept_printed": True}
    assert logged["new"] == {"fever_threshold": 37.8, "accept_printed": False}


@pytest.mark.parametrize("values", [
    {"fever_threshold": "37.5"}, {"fever_threshold": 373}, {"fever_threshold": 3.73}, {"max_age": -1},
    {"accept_printed": "no"}, {"skew": float("nan")}, {"require_temperature": False}, {"plausible_min": 20},
    {"fever": 38},
])
def test_a_bad_policy_value_changes_nothing(admin: Admin, checkpoint: Checkpoint, values: dict[str, object]) -> None:
    before = checkpoint.policy
    done = admin.set_policy(**values)
    assert not done.ok and done.en.startswith("not changed") and checkpoint.policy is before
    assert admin_events(checkpoint, "policy") == [{"action": "policy", "ok": False, "error": done.en[13:],
                                                   "values": {k: repr(v) for k, v in values.items()}}]


def test_register_drops_blank_fields_and_says_a_fever(admin: Admin, checkpoint: Checkpoint) -> None:
    assert admin.manual_fields == ("name", "phone")
    fever = admin.register({"name": " 张三 ", "phone": "  "}, 38.2)
    assert fever.ok and "fever" in fever.en and "发热" in fever.zh and "38.2 °C" in fever.en
    calm = admin.register({"name": "李四", "phone": "138"}, 36.6)
    assert calm.ok and "fever" not in calm.en and calm.en == "registered, temperature 36.6 °C"
    manual = [(e.details, e.temperature, e.reason, e.operator) for e in events(checkpoint) if e.kind == "manual"]
    assert manual == [({"name": "张三"}, 38.2, "fever", "admin"),  # recorded as a fever, for exports and reports
                      ({"name": "李四", "phone": "138"}, 36.6, None, "admin")]
    logged = admin_events(checkpoint, "register")
    assert [(d["fields"], d["fever"]) for d in logged] == [(["name"], True), (["name", "phone"], False)]
    assert "张三" not in str(logged)  # the person's data is kept once, in the registration


@pytest.mark.parametrize(("fields", "temperature", "said"), [
    ({"email": "a@b"}, None, "unknown field"), ({"name": ""}, None, "at least one"),
    ({"name": "王五"}, 365.0, "implausible"), ({"name": "王五"}, float("nan"), "implausible"),
])
def test_a_registration_that_cannot_be_kept_is_refused(admin: Admin, checkpoint: Checkpoint,
                                                       fields: dict[str, str], temperature: float | None,
                                                       said: str) -> None:
    done = admin.register(fields, temperature)
    assert not done.ok and said in done.en
    assert done.field == ("temperature" if said == "implausible" else None)  # the screen marks that field
    assert [e for e in events(checkpoint) if e.kind == "manual"] == []


def test_recent_rows_are_newest_first_in_local_time(admin: Admin, checkpoint: Checkpoint) -> None:
    scan(checkpoint, code())
    scan(checkpoint, code(status=2))
    admin.register({"name": "张三"}, 38.4)
    rows = admin.recent(3)
    assert [(r.kind, r.verdict) for r in rows] == [("admin", None), ("manual", None), ("scan", "deny")]
    assert rows[2].reason_en == "red status" and rows[2].reason_zh == "红码"
    assert rows[1].temperature == "38.4 °C" and rows[0].reason_en == "registered by hand"
    assert all(r.time == datetime.fromtimestamp(NOW, local_zone()).strftime("%H:%M:%S") for r in rows)


def test_every_action_is_an_admin_event_and_the_pin_is_never_logged(
        admin: Admin, checkpoint: Checkpoint, recorder: Recorder, media: Path, tmp_path: Path) -> None:
    (media / "STICK").mkdir()
    admin.unlock(WRONG)
    admin.unlock(PIN)
    admin.export_usb()
    admin.import_usb()
    admin.sync_now()
    admin.set_policy(skew=60)
    admin.register({"name": "张三"}, None)
    admin.leave()
    logged = [e for e in events(checkpoint) if e.kind == "admin"]
    assert [e.details["action"] for e in logged] == ["unlock", "unlock", "export", "import", "sync", "policy",
                                                     "register", "leave"]
    assert [e.details["result"] for e in logged[:2]] == ["failed", "ok"]
    assert {(e.operator, e.site, e.lane, e.device) for e in logged} == {("admin", "Joy City", "2", "kiosk-07")}
    assert recorder.audit.verify().ok
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    assert PIN.encode() not in stored and WRONG.encode() not in stored


def test_a_log_that_cannot_be_written_never_blocks_an_action(admin: Admin, checkpoint: Checkpoint,
                                                             recorder: Recorder) -> None:
    recorder.audit.close()
    assert admin.unlock(PIN).ok and admin.set_policy(fever_threshold=37.5).ok
    assert checkpoint.policy.fever_threshold == 37.5 and recorder.last_error is not None
    assert recorder.admin("leave", {}, at=NOW) is None and admin.recent() == []


def test_without_a_log_the_actions_that_need_one_say_so(trust_dir: Path, media: Path) -> None:
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy()), clock=lambda: NOW)
    admin = make_admin(checkpoint, media)
    (media / "STICK").mkdir()
    assert admin.unlock(PIN).ok and admin.set_policy(skew=30).ok  # these need no log
    assert admin.export_usb() == NO_LOG and admin.register({"name": "张三"}, None) == NO_LOG
    assert admin.recent() == [] and admin.manual_fields == () and admin.sync_now() == NO_SYNC


def test_admin_actions_on_another_thread_never_cost_a_verdict_its_event(checkpoint: Checkpoint,
                                                                      recorder: Recorder, media: Path) -> None:
    admin = make_admin(checkpoint, media, lockout_attempts=10_000)
    text = code()
    threads = [threading.Thread(target=lambda: [scan(checkpoint, text) for _ in range(150)]),
               threading.Thread(target=lambda: [admin.unlock(WRONG) for _ in range(150)])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder.last_error is None  # no verdict said "audit log not written"
    assert recorder.audit.count() == 300 and recorder.audit.verify().ok


# -- sync against a real collector -------------------------------------------------------------------------

@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    published = tmp_path / "published"
    published.mkdir()
    (published / "trust.cose").write_bytes(World().bundle_bytes(seq=3))
    process = CollectorProcess(f"sqlite:///{tmp_path}/collector.db", tmp_path, trust_files=published)
    yield process
    process.stop()


def test_sync_now_sends_the_log_and_pulls_trust_once_enrolled(
        recorder: Recorder, trust_dir: Path, media: Path, tmp_path: Path, collector: CollectorProcess) -> None:
    sync = build_sync(SyncConfig(collector.url, device_key=tmp_path / "device.key", timeout=5), recorder.audit,
                      trust_dir)
    parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), recorder=recorder, sync=sync)
    with Checkpoint(parts, clock=lambda: NOW) as checkpoint:  # stopped on the way out: sync closed with it
        admin = make_admin(checkpoint, media)
        for _ in range(5):
            scan(checkpoint, code())
        refused = admin.sync_now()
        assert not refused.ok and "not enrolled" in refused.en and "同步失败" in refused.zh
        store = collector.store()
        try:
            store.enroll(sync.identity.public, "gate 2", time.time())
            done = admin.sync_now()
            assert done.ok, done.en
            assert done.en == "sent 6 events, 0 pending; installed trust bundle seq 3"  # 5 scans, 1 admin event
            assert store.count() == 6
        finally:
            store.close()
        scan(checkpoint, code())
        assert checkpoint.trust.bundle.seq == 3
        assert [(d["ok"], d.get("sent")) for d in admin_events(checkpoint, "sync")] == [(False, None), (True, 6)]


# -- kiosk admin hash-pin ------------------------------------------------------------------------------------

def hash_pin_cli(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "admin", "hash-pin"], input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_hash_pin_prints_a_line_to_paste_under_kiosk() -> None:
    done = hash_pin_cli(f"{PIN}\n")
    assert done.returncode == 0, done.stderr
    config = parse_config(f"[kiosk]\n{done.stdout}")
    assert config.kiosk.admin_pin_hash is not None and verify_pin(PIN, config.kiosk.admin_pin_hash)
    assert "[kiosk]" in done.stderr


@pytest.mark.parametrize("typed", ["123\n", "12a45\n", "\n", "１２３４\n"])
def test_hash_pin_refuses_fewer_than_four_digits_or_anything_else(typed: str) -> None:
    done = hash_pin_cli(typed)
    assert done.returncode == 2 and done.stdout == "" and "at least 4 digits" in done.stderr

