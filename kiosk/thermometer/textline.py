"""Text-line bridges: a microcontroller that prints one reading a line, like `T=36.60` or `%12.00,36.60,25.00`.

The line format is a template: literal text that must match exactly, and the placeholders
{object} (required), {ambient} and {distance}, each at most once and separated by literal text.
A placeholder matches a decimal number: optional sign, digits, optional decimal point, no
exponent; blanks before it are allowed (Arduino's dtostrf pads with spaces), as are blanks at the
end of a line. `{{` and `}}` are literal braces. Lines end with CR, LF or CRLF.

`Driver.errors` counts lines: one for each line that does not match (Arduino prints `nan` for a
failed reading: that is such a line) and one for each line over MAX_LINE bytes. Blank lines are
skipped silently, which also makes a CRLF one line end when the CR and the LF come in different
reads.
"""

from __future__ import annotations

import math
import re

from kiosk.thermometer.types import Sample

PLACEHOLDERS = ("object", "ambient", "distance")
MAX_LINE = 256  # bytes, not counting the line end; longer is garbage
_TOKENS = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NUMBER = rb"[ \t]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
_LINE_END = re.compile(rb"[\r\n]")
_BLANKS = b" \t"


class Template:
    """A parsed line template; ValueError on construction if it is not a usable one."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.literals: list[str] = [""]  # literal text before, between and after the placeholders
        self.names: list[str] = []  # the placeholders, in order
        end = 0
        for token in _TOKENS.finditer(text):
            self.literals[-1] += text[end : token.start()]
            end = token.end()
            if token[0] in ("{{", "}}"):
                self.literals[-1] += token[0][0]
            elif token[1] is None:
                raise ValueError(f"unbalanced {token[0]!r} in template {text!r} (a literal one is {token[0] * 2})")
            else:
                self._add(token[1])
        self.literals[-1] += text[end:]
        if "object" not in self.names:
            raise ValueError(f"template {text!r} has no {{object}} placeholder")
        if any(c in "".join(self.literals) for c in "\r\n"):
            raise ValueError(f"template {text!r} spans lines: it may not contain CR or LF")
        pattern = re.escape(self.literals[0].encode())
        for literal in self.literals[1:]:
            pattern += _NUMBER + re.escape(literal.encode())
        self._pattern = re.compile(pattern + rb"[ \t]*")

    def _add(self, name: str) -> None:
        text = self.text
        if name not in PLACEHOLDERS:
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {{{name}}} in template {text!r}; known: {known}")
        if name in self.names:
            raise ValueError(f"placeholder {{{name}}} appears twice in template {text!r}")
        if self.names and not self.literals[-1]:
            raise ValueError(f"placeholders {{{self.names[-1]}}} and {{{name}}} in template {text!r} need text between")
        self.names.append(name)
        self.literals.append("")

    def match(self, line: bytes) -> Sample | None:
        """The sample on one line (without its line end); None if the line does not fit the template."""
        found = self._pattern.fullmatch(line)
        if found is None:
            return None
        values = dict(zip(self.names, (float(number) for number in found.groups())))
        if not all(math.isfinite(v) for v in values.values()):  # a 256-byte line holds no float overflow; cheap
            return None
        return Sample(object_c=values["object"], ambient_c=values.get("ambient"), distance=values.get("distance"))

    def render(self, sample: Sample) -> bytes:
        """The line a bridge prints for `sample`: two decimals, 0 for a value it lacks, ended by CRLF."""
        values = {"object": sample.object_c, "ambient": sample.ambient_c, "distance": sample.distance}
        text = self.literals[0]
        for name, literal in zip(self.names, self.literals[1:]):
            value = values[name]
            text += f"{0.0 if value is None else value:.2f}" + literal
        return text.encode() + b"\r\n"


def _request_bytes(request: bytes | None) -> bytes | None:
    if request is not None and not request.strip(b"\r\n"):
        raise ValueError(f"a text-line poll request must hold more than line ends, got {request!r}")
    return request


class Driver:
    """Kiosk side: finds one sample a matching line; sends `request` to poll, or nothing for a streaming bridge."""

    def __init__(self, template: str, request: bytes | None = None) -> None:
        self.name = "textline"
        self.errors = 0
        self.template = Template(template)
        self._request = _request_bytes(request)
        self._overlong = False  # the current line went past MAX_LINE: drop it up to its end

    def setup(self) -> bytes | None:
        return None

    def request(self) -> bytes | None:
        return self._request

    def parse(self, buffer: bytearray) -> list[Sample]:
        samples: list[Sample] = []
        while True:
            end = _LINE_END.search(buffer)
            if end is None:
                if len(buffer) > MAX_LINE and not self._overlong:
                    self.errors += 1
                    self._overlong = True
                if self._overlong:
                    buffer.clear()
                return samples
            line = bytes(buffer[: end.start()])
            del buffer[: end.end()]
            if self._overlong:  # the end of a line already counted
                self._overlong = False
            elif len(line) > MAX_LINE:
                self.errors += 1
            elif line := line.rstrip(_BLANKS):
                sample = self.template.match(line)
                if sample is None:
                    self.errors += 1
                else:
                    samples.append(sample)


class Device:
    """Bridge side, for the simulator: streams a line a sample, or answers each poll with one."""

    def __init__(self, template: str, request: bytes | None = None) -> None:
        self.template = Template(template)
        self.request = _request_bytes(request)

    def render(self, sample: Sample) -> bytes:
        return self.template.render(sample)

    def stream(self, sample: Sample) -> bytes:
        return b"" if self.request else self.render(sample)  # a polled bridge waits to be asked

    def answer(self, received: bytearray, sample: Sample | None) -> bytes:
        """A line for each poll in `received`.

        A request ending in CR or LF is a line: a received line equal to it (without the line end)
        is a poll. Otherwise it is a byte sequence, found anywhere (the bridge reads a character).
        A streaming bridge reads and ignores what it gets.
        """
        if not self.request:
            received.clear()
            return b""
        token = self.request.rstrip(b"\r\n")
        polls = 0
        if token != self.request:
            while (end := _LINE_END.search(received)) is not None:
                if received[: end.start()] == token:
                    polls += 1
                del received[: end.end()]
            if len(received) > MAX_LINE:
                received.clear()
        else:
            polls = received.count(token)
            if polls:
                del received[: received.rfind(token) + len(token)]
            # keep the longest end that may be the start of a poll still on its way
            sizes = range(min(len(received), len(token) - 1), 0, -1)
            keep = next((n for n in sizes if received.endswith(token[:n])), 0)
            del received[: len(received) - keep]
        return self.render(sample) * polls if sample is not None else b""
