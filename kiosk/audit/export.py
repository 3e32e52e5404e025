"""Export the audit log for site managers: CSV (opens in Excel), JSON Lines, or XLSX.

Rows stream straight from SQLite, never as Event objects, so a million events take
seconds. The file is written beside `out` and renamed at the end: an export that
failed or is still running never sits under the name asked for.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from kiosk.audit.store import AuditLog
from kiosk.errors import KioskError

Format = Literal["csv", "jsonl", "xlsx"]
Language = Literal["zh", "en"]


class ExportError(KioskError):
    """An export or report could not be written; nothing was left under its name."""


# The events table's columns, in the order the fast path selects them.
SOURCE = ("id", "at", "kind", "site", "lane", "device", "verdict", "reason", "status", "code_kind", "kid", "iss",
          "code_iat", "subject_ref", "temperature", "operator", "details")

# Export columns: key, Chinese header, English header, XLSX width.
COLUMNS: list[tuple[str, str, str, int]] = [
    ("time", "时间", "time", 20), ("utc_offset", "时区", "UTC offset", 8), ("kind", "类型", "kind", 10),
    ("verdict", "结果", "verdict", 8), ("reason", "原因", "reason", 22), ("reason_code", "原因代码", "reason code", 20),
    ("status", "状态", "status", 8), ("temperature", "体温(°C)", "temperature (°C)", 10),
    ("site", "场所", "site", 16), ("lane", "通道", "lane", 10), ("device", "设备", "device", 12),
    ("code_kind", "码类型", "code kind", 10), ("issuer", "签发机构", "issuer", 12), ("kid", "密钥编号", "key id", 18),
    ("code_issued", "码生成时间", "code issued", 20), ("subject_ref", "人员标识", "subject ref", 34),
    ("operator", "操作员", "operator", 10), ("details", "登记信息", "details", 40), ("id", "编号", "id", 28),
]

VERDICT_ZH = {"pass": "通过", "deny": "拒绝", "retry": "重试"}
KIND_ZH = {"scan": "扫码", "manual": "人工登记", "device": "设备", "purge": "清理", "admin": "管理"}
STATUS_ZH = {"green": "绿码", "amber": "黄码", "red": "红码"}
CODE_KIND_ZH = {"dynamic": "动态码", "printed": "纸质码"}
# reason -> (Chinese, English), for the reasons of spec section 5.
REASONS = {
    "not_health_code": ("不是健康码", "not a health code"), "malformed": ("码无法识别", "unreadable code"),
    "unknown_key": ("未知签发密钥", "unknown key"), "bad_signature": ("签名无效", "bad signature"),
    "key_revoked": ("密钥已吊销", "key revoked"), "key_expired": ("密钥已过期", "key expired"),
    "issuer_mismatch": ("签发机构不符", "issuer mismatch"), "not_yet_valid": ("码尚未生效", "code not yet valid"),
    "expired": ("码已过期", "code expired"), "too_old": ("码已超时", "code too old"),
    "printed_not_accepted": ("不接受纸质码", "printed code not accepted"), "status_red": ("红码", "red status"),
    "status_amber": ("黄码", "amber status"), "temperature_missing": ("未测体温", "no temperature"),
    "temperature_implausible": ("体温读数异常", "implausible temperature"), "fever": ("发热", "fever"),
    "ok": ("正常", "ok"),
}
REASON_ZH = {code: names[0] for code, names in REASONS.items()}
REASON_EN = {code: names[1] for code, names in REASONS.items()}
XLSX_MAX_ROWS = 1_048_576  # per sheet, with the header


def local_zone() -> tzinfo:
    """The machine's time zone (TZ, else /etc/localtime), with its DST rules, not just today's offset."""
    with contextlib.suppress(Exception):
        name = os.environ.get("TZ", "").lstrip(":")
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


def epoch(value: float | datetime | None, tz: tzinfo) -> float | None:
    """Epoch seconds of a bound; a naive datetime is a wall-clock time in `tz`."""
    if value is None or isinstance(value, (int, float)):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=tz)).timestamp()


@contextlib.contextmanager
def read_snapshot(log: AuditLog) -> Iterator[sqlite3.Connection]:
    """A read-only connection that sees one consistent state of the log (its own, so the kiosk keeps writing)."""
    if log.path is None:
        yield log.db.conn  # an in-memory log has no other way in
        return
    conn = sqlite3.connect(f"file:{quote(str(Path(log.path).resolve()))}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def write_atomically(out: Path) -> Iterator[Path]:
    """A temporary path beside `out`, renamed to `out` only if the block finishes; removed otherwise."""
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"cannot write {out}: it is a folder")
    try:
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    except OSError as err:
        raise ExportError(f"cannot write {out}: {err.strerror or err}") from None
    os.close(fd)
    temp = Path(name)  # hidden, and named .part: never taken for a finished export
    try:
        yield temp
        with open(temp, "rb+") as done:
            os.fsync(done.fileno())
        os.replace(temp, out)
    except OSError as err:
        raise ExportError(f"cannot write {out}: {err.strerror or err}") from None
    finally:
        temp.unlink(missing_ok=True)


_DAY_SECONDS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
_EPOCH = date(1970, 1, 1)


class _LocalTime:
    """Local times of epoch seconds, fast (strftime per row took most of an export's time): the offset is
    looked up once per UTC quarter hour (second by second in one that holds a change), the rest is arithmetic."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz, self.block, self.shift, self.offset, self.days = tz, -(2**63), 0, "", dict[int, str]()

    def _zone(self, second: int) -> tuple[int, str]:
        delta = datetime.fromtimestamp(second, self.tz).utcoffset() or timedelta(0)
        shift = int(delta.total_seconds())
        minutes = abs(shift) // 60
        return shift, f"{'-' if shift < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"

    def wall(self, at: float) -> int:
        """Local wall-clock seconds since 1970-01-01 00:00 of `at`; sets .shift and .offset (+08:00)."""
        second = math.floor(at)
        block = second // 900
        if block != self.block:
            first = self._zone(block * 900)
            self.block = block if first == self._zone(block * 900 + 899) else -(2**63)
            self.shift, self.offset = first
        if self.block != block:
            self.shift, self.offset = self._zone(second)
        return second + self.shift

    def text(self, at: float, sep: str = " ") -> str:
        """"2026-11-27 08:30:05" (sep "T": ISO 8601 without the offset)."""
        day, of_day = divmod(self.wall(at), 86400)
        date_text = self.days.get(day)
        if date_text is None:
            date_text = self.days[day] = (_EPOCH + timedelta(days=day)).isoformat()
        return f"{date_text}{sep}{_DAY_SECONDS[of_day]}"

    def serial(self, at: float) -> float:
        """Excel's day number of the local time (Excel has no zones)."""
        self.wall(at)
        return (at + self.shift) / 86400 + 25569


def _where(conn: sqlite3.Connection, since: float | None, until: float | None, verdict: str | None
           ) -> tuple[str, list[object]]:
    """The WHERE clause of an export, made to read the table in rowid (write) order without sorting it."""
    clauses: list[str] = ["1"]
    args: list[object] = []
    if since is not None or until is not None:
        # Ids grow with time, so the range's rows sit in one stretch of rowids: find it with the index on `at`,
        # then scan just that stretch (`+at`: not the index), instead of sorting a day of rows back into order.
        span = " AND ".join(c for c, v in (("at >= ?", since), ("at < ?", until)) if v is not None)
        bounds = [v for v in (since, until) if v is not None]
        low, high = conn.execute(f"SELECT min(rowid), max(rowid) FROM events WHERE {span}", bounds).fetchone()
        clauses += ["rowid BETWEEN ? AND ?", span.replace("at ", "+at ")]
        args += [low, high, *bounds]
    if verdict is not None:
        clauses.append("verdict = ?")
        args.append(verdict)
    return " AND ".join(clauses), args


def export(log: AuditLog, out: Path, fmt: Format, *, since: float | datetime | None = None,
           until: float | datetime | None = None, verdict: str | None = None, language: Language = "zh",
           tz: tzinfo | None = None, progress: bool = False) -> int:
    """Write the events in [since, until) (of one verdict, if given) to `out`, in write order; returns the rows."""
    if fmt not in ("csv", "jsonl", "xlsx") or language not in ("zh", "en"):
        raise ValueError(f"unknown format {fmt!r} (csv, jsonl, xlsx) or language {language!r} (zh, en)")
    zone = tz or local_zone()
    with read_snapshot(log) as conn, write_atomically(out) as temp:
        where, args = _where(conn, epoch(since, zone), epoch(until, zone), verdict)
        total = conn.execute(f"SELECT count(*) FROM events WHERE {where}", args).fetchone()[0] if progress else None
        columns = JSONL_SELECT if fmt == "jsonl" else ", ".join(SOURCE)
        cursor = conn.execute(f"SELECT {columns} FROM events WHERE {where} ORDER BY rowid", args)
        batches = iter(lambda: cursor.fetchmany(10_000), [])
        if progress:
            from tqdm import tqdm  # type: ignore[import-untyped]

            bar = tqdm(total=total, unit="event", unit_scale=True, file=sys.stderr, desc=f"export {Path(out).name}")
            batches = _counted(batches, bar)
        writer = {"csv": _write_csv, "jsonl": _write_jsonl, "xlsx": _write_xlsx}[fmt]
        return writer(temp, batches, language, zone)


def _counted(batches: Iterator[list[Any]], bar: Any) -> Iterator[list[Any]]:
    with bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))


def header(language: Language) -> list[str]:
    return [zh if language == "zh" else en for _, zh, en, _ in COLUMNS]


def _row_maker(language: Language, tz: tzinfo, excel: bool) -> Callable[[Any], tuple[Any, ...]]:
    """A function from a row of SOURCE to a row of COLUMNS: local times (text, or Excel day numbers), names."""
    if language == "zh":
        kinds, verdicts, reasons, statuses, code_kinds = KIND_ZH, VERDICT_ZH, REASON_ZH, STATUS_ZH, CODE_KIND_ZH
    else:  # English keeps the raw values, which are English already, but words the reason
        kinds = verdicts = statuses = code_kinds = {}
        reasons = REASON_EN
    clock, iat_clock = _LocalTime(tz), _LocalTime(tz)
    stamp, iat_stamp = (clock.serial, iat_clock.serial) if excel else (clock.text, iat_clock.text)
    typed: Callable[[Any], Any] = _as_is if excel else _defused  # XLSX never evaluates text; a CSV in Excel does

    def row(r: Any) -> tuple[Any, ...]:
        (id_, at, kind, site, lane, device, verdict, reason, status, code_kind, kid, iss, code_iat, subject_ref,
         temperature, operator, details) = r
        return (stamp(at), clock.offset, kinds.get(kind, kind), verdicts.get(verdict, verdict),
                reasons.get(reason, reason), reason, statuses.get(status, status), temperature, typed(site),
                typed(lane), typed(device), code_kinds.get(code_kind, code_kind), typed(iss), kid,
                None if code_iat is None else iat_stamp(code_iat), subject_ref, typed(operator), details, id_)

    return row


def _as_is(value: Any) -> Any:
    return value


def _defused(value: Any) -> Any:
    """Text people typed, made inert in a spreadsheet: '=cmd|...' would otherwise run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _write_csv(temp: Path, batches: Iterator[list[Any]], language: Language, tz: tzinfo) -> int:
    row, rows = _row_maker(language, tz, excel=False), 0
    with open(temp, "w", encoding="utf-8", newline="") as f:
        f.write("\ufeff")  # the byte-order mark is how Excel knows the file is UTF-8 (else Chinese is mojibake)
        buffer = io.StringIO()  # one write per batch, not per row
        writer = csv.writer(buffer)
        writer.writerow(header(language))
        for batch in batches:
            writer.writerows(map(row, batch))
            f.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            rows += len(batch)
        f.write(buffer.getvalue())
    return rows


# JSON Lines: SQLite's json_object escapes the text columns (in C: 3x faster than json.dumps per row);
# the REAL columns go through Python's repr, which round-trips where SQLite's %.15g would not.
JSONL_SELECT = ("json_object('id', id), at, json_object('kind', kind, 'site', site, 'lane', lane, 'device', device, "
                "'verdict', verdict, 'reason', reason, 'status', status, 'code_kind', code_kind, 'kid', kid, "
                "'iss', iss, 'code_iat', code_iat, 'subject_ref', subject_ref), temperature, "
                "json_object('operator', operator, 'details', json(coalesce(details, '{}')))")


def _write_jsonl(temp: Path, batches: Iterator[list[Any]], language: Language, tz: tzinfo) -> int:
    clock, rows = _LocalTime(tz), 0
    with open(temp, "w", encoding="utf-8") as f:
        for batch in batches:
            lines = []
            for head, at, middle, temperature, tail in batch:
                when = f"{clock.text(at, 'T')}.{min(int(at % 1 * 1000), 999):03d}{clock.offset}"
                celsius = "null" if temperature is None else repr(temperature)
                lines.append(f'{head[:-1]},"at":{at!r},"time":"{when}",{middle[1:-1]},"temperature":{celsius},'
                             f"{tail[1:]}\n")
            f.write("".join(lines))
            rows += len(batch)
    return rows


def _write_xlsx(temp: Path, batches: Iterator[list[Any]], language: Language, tz: tzinfo) -> int:
    import xlsxwriter  # type: ignore[import-untyped]

    # Strings stay strings: a name typed as "=..." must never become a formula.
    book = xlsxwriter.Workbook(str(temp), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False, "tmpdir": str(temp.parent)})
    bold = book.add_format({"bold": True, "bg_color": "#EEEEEE", "bottom": 1})
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    formats = {"time": when, "code_issued": when, "temperature": book.add_format({"num_format": "0.0"})}
    sheets: list[Any] = []

    def new_sheet(rows_before: int) -> Any:
        if sheets:
            sheets[-1].autofilter(0, 0, rows_before, len(COLUMNS) - 1)
        name = "事件" if language == "zh" else "events"
        sheets.append(book.add_worksheet(f"{name} {len(sheets) + 1}" if sheets else name))
        for col, (key, _, _, width) in enumerate(COLUMNS):
            sheets[-1].set_column(col, col, width, formats.get(key))  # the column's format dates its numbers
        sheets[-1].write_row(0, 0, header(language), bold)
        sheets[-1].freeze_panes(1, 0)
        return sheets[-1]

    row, sheet, line, rows = _row_maker(language, tz, excel=True), new_sheet(0), 1, 0
    for batch in batches:
        for values in map(row, batch):
            if line == XLSX_MAX_ROWS:  # a sheet holds 1,048,576 rows: go on in the next one
                sheet, line = new_sheet(line - 1), 1
            sheet.write_row(line, 0, values)
            line += 1
        rows += len(batch)
    sheet.autofilter(0, 0, max(line - 1, 1), len(COLUMNS) - 1)
    book.close()
    return rows
