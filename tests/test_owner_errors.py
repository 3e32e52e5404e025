"""One error tree: every exception the kiosk raises on purpose is defined in kiosk/errors.py and drawn there."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import kiosk.errors as errors
from kiosk.errors import KioskError

KIOSK = Path(__file__).resolve().parents[1] / "kiosk"
PRIVATE = {("kiosk/sync/uploader.py", "_Oversized")}  # control flow inside one module, named in errors.py's text


def exception_classes(path: Path) -> list[str]:
    """Classes in `path` whose bases name an exception (…Error, …Exception, …Refused, Exception, KioskError)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef):
            bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                     for b in node.bases]
            if any(b.endswith(("Error", "Exception", "Refused", "Unavailable")) for b in bases):
                found.append(node.name)
    return found


def test_no_exception_class_is_defined_outside_errors_py() -> None:
    outside = [(str(path.relative_to(KIOSK.parent)), name) for path in sorted(KIOSK.rglob("*.py"))
               if path.name != "errors.py" for name in exception_classes(path)]
    assert set(outside) == PRIVATE, outside


def drawn_parents(tree: str) -> dict[str, str]:
    """{class: its parent} as the docstring draws them: a name's parent is the nearest name above it, 4 columns left."""
    names: list[tuple[int, str]] = []
    for line in tree.splitlines():
        stripped = line.replace("├── ", "    ").replace("└── ", "    ").replace("│", " ")
        words = stripped.split()
        if words and words[0].isidentifier() and words[0][0].isupper() and words[0].endswith(
                ("Error", "Refused", "Unavailable", "Code", "Forbidden", "Account")):
            names.append((stripped.index(words[0]), words[0]))
    parents = {}
    for i, (column, name) in enumerate(names):
        above = [n for c, n in names[:i] if c == column - 4]
        if above:
            parents[name] = above[-1]
    return parents


def test_every_error_is_a_kiosk_error_and_drawn_under_its_parent() -> None:
    classes = {c.__name__: c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BaseException)}
    drawn = drawn_parents(errors.__doc__ or "")
    assert len(classes) == 16, sorted(classes)  # KioskError and the 15 drawn below it
    assert set(drawn) == set(classes) - {"KioskError"}, set(classes) ^ set(drawn)
    for name, cls in classes.items():
        assert issubclass(cls, KioskError), name
        if name != "KioskError":
            assert cls.__mro__[1].__name__ == drawn[name], f"{name} is drawn under {drawn[name]}"
