"""One home for the project's words (kiosk/terms.py): every reason worded, one word a verdict wherever it is said.

Issue 13, section 2 item 8. The expected words are written here (the issue picks
通行 / 禁止 / 重试), never read from the module under test; the export and the
day report are made by `kiosk` itself, as a site manager makes them.
"""

from __future__ import annotations

import ast
import csv
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import terms
from kiosk.checkpoint.wording import words_for
from kiosk.policy import Policy
from kiosk.ui.texts import recent_line
from kiosk.verdict import REASONS, decide
from tests.factories import NOW, World, code
from tests.test_verdict import CASES
from tests.test_verdict_hc1 import HC1_CASES, judge

KIOSK = Path(__file__).resolve().parents[1] / "kiosk"
WORD = {"pass": "通行", "deny": "禁止", "retry": "重试"}  # the one word of each verdict (issue 13, 2.8)
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_reason_of_the_verdict_table_has_words_on_the_screen_and_in_the_record() -> None:
    assert set(terms.REASON_WORDS) == set(REASONS)  # no words for a reason the verdict table does not know
    for reason in REASONS:
        said = terms.REASON_WORDS[reason]
        for zh, en in (said.screen, said.record):
            assert CJK.search(zh) and en.isascii() and en.strip() and zh != en, (reason, zh, en)
        assert len(said.record[1]) <= len(said.screen[1]), reason  # the record's text is the short one


def test_log_unavailable_is_a_deny_with_words_that_say_the_log_is_down() -> None:
    assert REASONS["log_unavailable"] == "deny"
    assert "log" in terms.REASON_WORDS["log_unavailable"].screen[1]
    assert "记录" in terms.REASON_WORDS["log_unavailable"].record[0]


def test_decide_gives_every_reason_but_log_unavailable(world: World) -> None:
    """log_unavailable is the recording step's (spec section 8): the verifier's own cases give all the others."""
    given_reasons = {decide(text, world.store(), policy, reading, NOW).reason for _, text, policy, reading, _ in CASES}
    given_reasons |= {judge(text, policy, reading).reason for _, text, policy, reading, _ in HC1_CASES}  # issue 15
    assert given_reasons == set(REASONS) - {"log_unavailable"}


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=80), st.text(max_size=80).map(lambda t: "PHC1:" + t)),
       celsius=st.one_of(st.none(), st.floats(allow_nan=True)), require=st.booleans())
def test_decide_never_says_the_log_is_down(text: str, celsius: float | None, require: bool) -> None:
    from kiosk.verdict import Reading

    reading = None if celsius is None else Reading(celsius, NOW)
    store = World().store()
    for candidate in (text, code()):
        assert decide(candidate, store, Policy(require_temperature=require), reading, NOW).reason != "log_unavailable"


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=180)
    assert done.stderr == "" or done.returncode in (0, 1, 3), done.stderr
    return done


@pytest.mark.slow
def test_a_verdict_has_one_word_on_the_screen_in_the_admin_list_in_exports_and_in_the_report(
        trust_dir: Path, tmp_path: Path) -> None:
    db, config = tmp_path / "audit.db", tmp_path / "kiosk.toml"
    config.write_text(f'[log]\npath = "{db}"\ntimezone = "UTC"\nlanguage = "zh"\n')
    now = str(NOW)
    for extra, status in ((["--temperature", "36.6"], 0), ([], 1), (["--temperature", "25"], 3)):
        text = "hello" if status == 1 else code()
        done = kiosk("verify", "--config", str(config), "--trust", str(trust_dir), "--now", now, "--log", str(db),
                     *extra, text)
        assert done.returncode == status, done.stdout + done.stderr
    done = kiosk("log", "export", "--config", str(config), "--out", str(tmp_path / "log.csv"))
    assert done.returncode == 0, done.stderr
    with (tmp_path / "log.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    said = [(r["结果"], r["原因"]) for r in rows]
    assert said == [("通行", "正常"), ("禁止", "不是健康码"), ("重试", "体温读数异常")]
    day = datetime.fromtimestamp(NOW, UTC).date().isoformat()
    done = kiosk("log", "report", "--config", str(config), "--day", day, "--out", str(tmp_path / "day.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "day.html").read_text(encoding="utf-8")
    totals = re.search(r'<section id="totals">(.*?)</section>', page, re.S)
    assert totals is not None
    for verdict, word in WORD.items():
        assert f'<td>{word}</td><td class="n">1</td>' in totals[1], verdict
        # The verdict screen's title is built on the word (禁止通行, 请重试); the admin's list says the word.
        assert word in words_for(verdict, "ok", None).title_zh
        assert f"{word} {verdict}" in recent_line("14:03:27", "scan", verdict, "", "", None)
    assert "通过" not in page and "拒绝" not in page  # the exports' old words for pass and deny


# Tables of words for the terms, by the names they once had elsewhere; and the per-language copies (X_ZH).
OLD_TABLES = {"KIND_ZH", "VERDICT_ZH", "STATUS_ZH", "CODE_KIND_ZH", "REASON_ZH", "REASON_EN", "VERDICT_WORDS",
              "KIND_WORDS", "FIELD_WORDS", "DEVICE_WORDS", "STATE_WORDS", "ACTION_WORDS"}


def module_tables(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_no_other_module_keeps_a_table_of_the_terms() -> None:
    own = {name for name in module_tables(KIOSK / "terms.py") if name.isupper()}
    assert {"VERDICTS", "REASON_WORDS", "EVENT_KINDS", "TRUST_FILE_KINDS", "DEVICES"} <= own
    for path in sorted(KIOSK.rglob("*.py")):
        if path == KIOSK / "terms.py":
            continue
        names = module_tables(path)
        clashes = (names & own) | (names & OLD_TABLES) | {n for n in names if n.endswith(("_ZH", "_EN"))}
        if path != KIOSK / "verdict.py":
            clashes |= names & {"REASONS"}
        assert not clashes, f"{path.relative_to(KIOSK.parent)} keeps its own {sorted(clashes)}"


def test_no_module_spells_a_verdict_or_a_reason_itself() -> None:
    """A verdict's word or a reason's words written as a string anywhere but terms.py is a second table growing."""
    spelled = {*WORD.values(), "通过", "拒绝"}
    for said in terms.REASON_WORDS.values():
        spelled |= {*said.screen, *said.record}
    spelled -= {*REASONS, *WORD}  # "fever", "ok", "pass": a code, not a word, where the code and its word agree
    spelled -= set(terms.DEVICE_STATES["ok"])  # 正常 is also a device's state (its own table's word)
    for path in sorted(KIOSK.rglob("*.py")):
        if path == KIOSK / "terms.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in spelled}
        assert not found, f"{path.relative_to(KIOSK.parent)} spells {sorted(found)}"


def test_terms_is_pure() -> None:
    tree = ast.parse((KIOSK / "terms.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
