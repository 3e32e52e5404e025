"""Keyboard-wedge scanners: USB 2D scanners that type the code as keystrokes, then Enter. Pure, no Kivy.

The window hands over two kinds of events: key presses (always delivered, but
only the unshifted key: "p" for the "P" a scanner types) and text input (the
real characters, but only while the windowing system's text input is on;
Kivy's SDL window turns it off whenever a text field gives up the keyboard).
So each key press adds its character, guessed for a US layout as scanners
emulate one, and the text input that follows it for the same key replaces the
guess. A code is what came before Enter; a partial code left idle (someone
leaning on the keyboard, a scan cut off) is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ENTER_KEYS = frozenset({13, 271})  # Return and keypad Enter, as Kivy numbers them
KEYPAD_DIGITS = {256 + n: str(n) for n in range(10)}  # Kivy's keycodes for keypad 0-9
US_SHIFTED = dict(zip("1234567890-=[]\\;',./`", '!@#$%^&*()_+{}|:"<>?~'))


def typed_char(key: int, codepoint: str | None, modifiers: list[str] | tuple[str, ...]) -> str | None:
    """The character a key press types on a US layout; None for keys that type nothing (or shortcuts)."""
    if "ctrl" in modifiers or "alt" in modifiers or "meta" in modifiers:
        return None
    if key in KEYPAD_DIGITS:
        return KEYPAD_DIGITS[key]
    if not 32 <= key < 127:
        return None
    char = codepoint if codepoint and len(codepoint) == 1 and 32 <= ord(codepoint) < 127 else chr(key)
    shift = "shift" in modifiers
    if char.isalpha():
        return char.upper() if shift != ("capslock" in modifiers) else char.lower()
    return US_SHIFTED.get(char, char) if shift else char


class KeyboardWedge:
    """Collects a wedge scanner's keystrokes; `submit` gets each code ended by Enter."""

    def __init__(self, submit: Callable[[str], None], *, min_length: int = 4, idle: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.submit, self.min_length, self.idle, self.clock = submit, min_length, idle, clock
        self.buffer: list[str] = []
        self._guessed = False  # the last character came from a key press and may be replaced by its text
        self._last = 0.0
        self.codes = 0
        self.dropped = 0

    def _touch(self) -> None:
        now = self.clock()
        if self.buffer and now - self._last > self.idle:
            self.dropped += 1
            self.buffer.clear()
            self._guessed = False
        self._last = now

    def key(self, key: int, codepoint: str | None = None, modifiers: list[str] | tuple[str, ...] = ()) -> bool:
        """A key press; True when it ended a code (Enter)."""
        if key in ENTER_KEYS:
            return self.enter()
        char = typed_char(key, codepoint, modifiers)
        if char is not None:
            self._touch()
            self.buffer.append(char)
            self._guessed = True
        return False

    def text(self, chars: str) -> None:
        """Text input: the true characters of the key just pressed (or an input method's)."""
        if not chars or chars in ("\r", "\n"):
            return
        self._touch()
        if self._guessed and self.buffer:
            self.buffer.pop()
        self.buffer.append(chars)
        self._guessed = False

    def enter(self) -> bool:
        """Enter: submit what was typed if it is long enough to be a code; the buffer starts over either way."""
        self._touch()
        text = "".join(self.buffer)
        self.reset()
        if len(text) < self.min_length:
            return False
        self.codes += 1
        self.submit(text)
        return True

    def reset(self) -> None:
        self.buffer.clear()
        self._guessed = False
