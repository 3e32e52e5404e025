"""What the admin screens do: unlock, export to a stick, import trust files, sync, policy, registration.

Every method may be called from a worker thread (the UI must not wait on a
stick or the network), answers an expected failure with a Message (ok False,
in Chinese and English) rather than an exception, and logs an admin event, so
the day's log shows who changed what at the kiosk. The PIN itself is never
logged. Nothing here imports Kivy.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from kiosk import cose
from kiosk.audit.export import ExportError, Format
from kiosk.audit.registration import cleaned, fever_words, is_fever, temperature_problem
from kiosk.audit.zones import local_zone
from kiosk.checkpoint.admin_words import RecentRow, recent_row
from kiosk.checkpoint.pin import PinLock, PinResult
from kiosk.checkpoint.settings import KioskSettings
from kiosk.checkpoint.usb import DEFAULT_ROOTS, sync_folder, usb_drives
from kiosk.checkpoint.wording import temperature_text
from kiosk.errors import ConfigError, ImportRefused, KioskError, LogWriteError, MalformedCode, TrustFileError
from kiosk.fileio import read_untrusted
from kiosk.terms import TRUST_FILE_KINDS, word
from kiosk.trustdir import import_file, load_roots, mark_refreshed

if TYPE_CHECKING:
    from kiosk.audit.settings import LogConfig
    from kiosk.checkpoint.flow import Checkpoint

EDITABLE = ("fever_threshold", "accept_printed", "max_age", "skew")
FORMATS = ("csv", "jsonl", "xlsx")
_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')  # what FAT and exFAT sticks refuse in a name, and spaces


@dataclass(frozen=True)
class Message:
    ok: bool
    zh: str
    en: str
    field: str | None = None  # the form field the problem is about ("temperature"), for the screen to point at
    fever: bool = False  # a registration kept, with a fever: staff must act on it


NO_LOG = Message(False, "未配置记录（配置文件中没有 [log]）", "no audit log configured (no [log] in the config)")
NO_SYNC = Message(False, "未配置同步服务器（配置文件中没有 [sync]）",
                  "no collector configured (no [sync] in the config)")
NO_STICK = Message(False, "未找到可写的U盘：请插入U盘后再试", "no writable USB stick found: plug one in and try again")


class Admin:
    def __init__(self, checkpoint: Checkpoint, settings: KioskSettings, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, media_roots: Iterable[str | Path] = DEFAULT_ROOTS,
                 is_mount: Callable[[Path], bool] = os.path.ismount) -> None:
        self.checkpoint, self.settings, self.clock = checkpoint, settings, clock
        self.media_roots, self.is_mount = tuple(media_roots), is_mount
        self.lock = PinLock(settings.admin_pin_hash, attempts=settings.lockout_attempts,
                            lockout=settings.lockout_seconds, clock=monotonic)

    def _log(self, action: str, **details: object) -> None:
        self.checkpoint.log_admin(action, details, at=self.clock())  # and sent to the collector like verdicts

    # -- entering and leaving ---------------------------------------------------------------------------

    def unlock(self, pin: str) -> PinResult:
        result = self.lock.try_pin(pin)
        outcome = ("ok" if result.ok else "closed" if self.lock.closed else "locked" if result.locked_for
                   else "failed")
        self._log("unlock", result=outcome, attempts_left=result.attempts_left)
        return result

    def leave(self) -> None:
        self._log("leave")

    # -- USB sticks --------------------------------------------------------------------------------------

    def drives(self) -> list[Path]:
        return usb_drives(self.media_roots, is_mount=self.is_mount)

    def _drive(self, drive: Path | None) -> Path | None:
        if drive is not None:
            return Path(drive)
        found = self.drives()
        return found[0] if found else None

    def export_usb(self, drive: Path | None = None, fmt: str = "csv") -> Message:
        """Write the whole log to the stick as kiosk-<device or lane>-<YYYYMMDD-HHMM>.<fmt>."""
        log, target = self.checkpoint.log_settings, self._drive(drive)
        if log is None or target is None or fmt not in FORMATS:
            message = NO_LOG if log is None else NO_STICK if target is None else \
                Message(False, f"不支持的格式 {fmt}", f"unknown format {fmt!r} (csv, jsonl, xlsx)")
            self._log("export", ok=False, error=message.en)
            return message
        out = self._export_name(target, log, fmt)
        try:
            rows = self.checkpoint.export_log(out, cast(Format, fmt))
        except (ExportError, OSError, sqlite3.Error) as err:
            self._log("export", ok=False, drive=str(target), error=str(err))
            return Message(False, f"导出失败：{err}", f"export failed: {err}")
        sync_folder(target)
        self._log("export", ok=True, drive=str(target), file=out.name, format=fmt, events=rows)
        return Message(True, f"已导出 {rows} 条记录到 {out.name}", f"exported {rows} events to {out.name}")

    def _export_name(self, drive: Path, log: LogConfig, fmt: str) -> Path:
        who = _UNSAFE.sub("-", log.device or log.lane).strip("-.")
        stamp = datetime.fromtimestamp(self.clock(), log.zone).strftime("%Y%m%d-%H%M")
        stem = f"kiosk-{who}-{stamp}" if who else f"kiosk-{stamp}"
        out, n = drive / f"{stem}.{fmt}", 2
        while out.exists():  # a second export in the same minute keeps the first
            out, n = drive / f"{stem}-{n}.{fmt}", n + 1
        return out

    def import_usb(self, drive: Path | None = None) -> Message:
        """Install the trust files on the stick (bundles first), like `kiosk trust import`."""
        target = self._drive(drive)
        if target is None:
            self._log("import", ok=False, error=NO_STICK.en)
            return NO_STICK
        trust_dir = self.checkpoint.trust_dir
        try:
            files = self._trust_files(target, trust_dir)
        except (KioskError, OSError) as err:  # no pinned root; a stick pulled out or unreadable
            self._log("import", ok=False, drive=str(target), error=str(err))
            return Message(False, f"无法导入：{err}", f"cannot import: {err}")
        if not files:
            self._log("import", ok=False, drive=str(target), error="no .cose files")
            return Message(False, "U盘上没有信任文件（*.cose）", "no trust files (*.cose) on the stick")
        zh: list[str] = []
        en: list[str] = []
        installed, refused = [], []
        for path in files:
            try:
                done = import_file(path, trust_dir)
            except ImportRefused as err:
                refused.append(f"{path.name}: {err.problem}")
                zh.append(f"拒绝 {path.name}：{err.problem}")
                en.append(f"refused {path.name}: {err.problem}")
                continue
            state_zh, state_en = ("已是最新", "already installed") if done.unchanged else ("已安装", "installed")
            zh.append(f"{word(TRUST_FILE_KINDS, done.kind, 'zh')} seq {done.seq} {state_zh}")
            en.append(f"{done.kind} seq {done.seq} {state_en}")
            if not done.unchanged:
                installed.append(f"{done.kind} seq {done.seq}")
        if installed:  # new data from a stick is fresh; the same file again proves nothing about its age
            mark_refreshed(trust_dir, self.clock(), "import")
            self.checkpoint.trust_changed()
        self._log("import", ok=not refused, drive=str(target), installed=installed, refused=refused)
        return Message(not refused, "；".join(zh), "; ".join(en))

    @staticmethod
    def _trust_files(drive: Path, trust_dir: Path) -> list[Path]:
        """The stick's *.cose files, bundles (signed by a pinned root) before status lists."""
        roots, _ = load_roots(trust_dir)
        ranked = []
        # Names starting with "." are a Mac's AppleDouble shadows (._trust.cose): never trust files.
        # Not only regular files: a FIFO or a link to a device named *.cose is refused by name, read never.
        for path in sorted(p for p in drive.iterdir() if p.suffix.lower() == ".cose" and not p.name.startswith(".")):
            try:
                rank = 0 if cose.decode_sign1(read_untrusted(path, "trust file")).kid in roots else 1
            except (TrustFileError, MalformedCode):
                rank = 1  # import_file names the problem
            ranked.append((rank, path))
        return [path for _, path in sorted(ranked)]

    # -- sync ----------------------------------------------------------------------------------------------

    def sync_now(self) -> Message:
        """Send the pending events, then pull trust files: the pass of `kiosk sync` (kiosk/sync/service.py)."""
        outcome = self.checkpoint.sync_now()
        if outcome is None:
            self._log("sync", ok=False, error="no collector configured")
            return NO_SYNC
        zh: list[str] = []
        en: list[str] = []
        # What did go through is said too: the events sent before a failed trust pull, or before a failed batch.
        if outcome.ok or outcome.sent or outcome.pending == 0:
            zh.append(f"已上传 {outcome.sent} 条记录，待上传 {outcome.pending} 条")
            en.append(f"sent {outcome.sent} events, {outcome.pending} pending")
        if not outcome.ok:
            self._log("sync", ok=False, error=outcome.error)
            return Message(False, "；".join([*zh, f"同步失败：{outcome.error}"]),
                           "; ".join([*en, f"sync failed: {outcome.error}"]))
        zh += [f"已安装 {word(TRUST_FILE_KINDS, i.kind, 'zh')} seq {i.seq}" for i in outcome.installed]
        en += [f"installed {i.kind} seq {i.seq}" for i in outcome.installed]
        zh += [f"拒绝 {why}" for why in outcome.refused]
        en += [f"refused {why}" for why in outcome.refused]
        self._log("sync", ok=not outcome.refused, sent=outcome.sent, pending=outcome.pending,
                  installed=[f"{i.kind} seq {i.seq}" for i in outcome.installed], refused=list(outcome.refused))
        return Message(not outcome.refused, "；".join(zh), "; ".join(en))

    # -- the log and the policy ----------------------------------------------------------------------------

    def recent(self, limit: int = 30) -> list[RecentRow]:
        """The newest events, newest first; none when the log cannot be read (the status bar says why)."""
        log = self.checkpoint.log_settings
        zone = log.zone if log is not None else local_zone()
        try:
            latest = self.checkpoint.recent(limit)
        except (sqlite3.Error, LogWriteError):
            return []
        return [recent_row(event, zone) for event in latest]

    def policy_values(self) -> dict[str, object]:
        policy = self.checkpoint.policy
        return {name: getattr(policy, name) for name in EDITABLE}

    def set_policy(self, **values: object) -> Message:
        """Change policy values until the kiosk restarts (the config file is not touched)."""
        old = self.checkpoint.policy
        try:
            if unknown := sorted(set(values) - set(EDITABLE)):
                raise ConfigError(f"not editable here: {', '.join(unknown)}; editable: {', '.join(EDITABLE)}")
            new = old.with_values(values)
            # A slip of the finger (3.73, 373) would flag everyone or no one: each value within the range of its
            # control, declared with the setting (the screen's -/+ keys keep to the same one).
            from kiosk.settings_table import admin_range_problem

            if (problem := admin_range_problem(values)) is not None:
                raise ConfigError(problem)
        except ConfigError as err:
            self._log("policy", ok=False, values={k: repr(v) for k, v in values.items()}, error=str(err))
            return Message(False, f"设置无效：{err}", f"not changed: {err}")
        self.checkpoint.set_policy(new)
        self._log("policy", ok=True, old={k: getattr(old, k) for k in values}, new={k: getattr(new, k) for k in values})
        return Message(True, "已修改（仅本次运行有效，重启后恢复配置文件的设置）",
                       "changed for this run (the config file's values return at restart)")

    # -- registering a person by hand ----------------------------------------------------------------------

    @property
    def manual_fields(self) -> tuple[str, ...]:
        log = self.checkpoint.log_settings
        return log.manual_fields if log is not None else ()

    def register(self, fields: dict[str, str], temperature: float | None) -> Message:
        """Record a person without a code (operator "admin"); blank fields are dropped. An implausible
        temperature (365 for 36.5) is refused, naming the field; a fever is recorded as one and said."""
        if self.checkpoint.log_settings is None:
            self._log("register", ok=False, error=NO_LOG.en)
            return NO_LOG
        details = cleaned(fields)
        policy = self.checkpoint.policy
        problem: Message | None = None
        implausible = temperature_problem(temperature, policy)
        if not details and temperature is None:
            problem = Message(False, "请至少填写一项", "fill in at least one field")
        elif implausible is not None:
            problem = Message(False, *implausible, field="temperature")
        if problem is None:
            try:
                event = self.checkpoint.register(details, at=self.clock(), temperature=temperature, operator="admin",
                                                 policy=policy)
            except ValueError as err:
                problem = Message(False, f"未登记：{err}", f"not registered: {err}")
            except LogWriteError as err:
                problem = Message(False, f"记录失败，未登记：{err}", f"not registered, the log failed: {err}")
        if problem is not None:
            self._log("register", ok=False, fields=sorted(details), error=problem.en)
            return problem
        fever = is_fever(temperature, policy)
        # Field names only: the values are personal data, kept once, in the registration itself.
        self._log("register", ok=True, event=event.id, fields=sorted(details), fever=fever)
        if fever and temperature is not None:
            zh, en = fever_words(temperature, policy)
            return Message(True, f"已登记。{zh}", f"registered. {en}", fever=True)
        shown = temperature_text(temperature)
        return Message(True, f"已登记{f'，体温 {shown}' if shown else ''}",
                       f"registered{f', temperature {shown}' if shown else ''}")
