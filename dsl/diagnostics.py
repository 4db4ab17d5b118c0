"""Diagnostics: one message with FILE:LINE:COL, the line, a caret, what was expected.

Carets are aligned by display width, so they sit under the right character
when the line holds Chinese (wide) characters.
"""
from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Literal, TypedDict, Unpack

from .ast import Span

Severity = Literal["error", "warning"]

#: characters a Chinese input method types where the language wants ASCII
FULL_WIDTH = {
    "（": "(", "）": ")", "，": ",", "：": ":", "；": ";", "→": "->", "＞": ">",
    "＜": "<", "＝": "=", "％": "%", "“": '"', "”": '"', "‘": '"', "’": '"',
    "。": ".", "【": "[", "】": "]", "｛": "{", "｝": "}", "＋": "+", "－": "-",
    "＊": "*", "／": "/", "！": "!", "≥": ">=", "≤": "<=", "＃": "#", "、": ",",
    # shift+, and shift+. in Chinese mode: typed for < and >, not quotes
    "《": "<", "》": ">", "＇": "'", "｜": "|", "．": ".", "＿": "_",
}


def article(word: str) -> str:
    """'an indicator', 'a measure'."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``name``, if one is close enough."""
    pool = list(dict.fromkeys(c for c in candidates if c))
    if not pool:
        return None
    folded = [c for c in pool if c.casefold() == name.casefold()]
    if folded:  # `tier a` for tier A
        return folded[0]
    # short (often Chinese) names differ in one character of two or three: a lower bar
    hits = difflib.get_close_matches(name, pool, n=1, cutoff=0.5 if len(name) <= 3 else 0.6)
    if hits:
        return hits[0]
    # Chinese names are short: a shared prefix or containment is a good hint
    for c in pool:
        if len(name) >= 2 and (c.startswith(name) or name.startswith(c) or name in c):
            return c
    return None


class Details(TypedDict, total=False):
    """What ``Diagnostics.error`` and ``warning`` pass on to a Diagnostic besides the message and span."""

    expected: str | None
    hint: str | None
    code: str


@dataclass
class Diagnostic:
    severity: Severity
    message: str
    span: Span | None = None
    expected: str | None = None
    hint: str | None = None
    code: str = ""

    def format(self, filename: str, text: str | None, color: bool = False) -> str:
        line_no = self.span.line if self.span else 0
        col = self.span.column if self.span else 0
        where = f"{filename}:{line_no}:{col}" if self.span and line_no else filename
        out = [f"{where}: {self.severity}: {self.message}"]
        if self.span and text is not None and line_no:
            src = source_line(text, line_no)
            if src is not None:
                out.append(f"  {src}")
                out.append("  " + caret_line(src, col, self.span))
        if self.expected:
            out.append(f"  expected: {self.expected}")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


#: characters str.splitlines() breaks lines at but the parser does not (it counts "\n" only): in an echoed
#: line they show as one space each, so the caret stays under its column
OTHER_LINE_BREAKS = str.maketrans({c: " " for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def source_lines(text: str) -> list[str]:
    """The lines of rule text as the parser numbers them: split at "\n" only (CR is normalised before
    parsing); never ``str.splitlines``, which also breaks at form feeds, U+0085 and U+2028."""
    return text.split("\n")


def source_line(text: str, line_no: int) -> str | None:
    """Line ``line_no`` (1-based) as the parser counts lines, fit to echo, or None past the end."""
    lines = source_lines(text)
    if not 0 < line_no <= len(lines):
        return None
    return lines[line_no - 1].rstrip("\r").translate(OTHER_LINE_BREAKS)


def caret_line(src: str, col: int, span: Span) -> str:
    """Spaces up to ``col`` (tabs kept, wide characters counted twice), then carets."""
    start = max(col - 1, 0)
    prefix = "".join("\t" if c == "\t" else " " * char_width(c) for c in src[:start])
    if span.end_line == span.line and span.end_column > col:
        stop = min(span.end_column - 1, len(src))
    else:
        stop = start + 1
    width = max(display_width(src[start:stop]), 1)
    return prefix + "^" * width


@dataclass
class Diagnostics:
    """The diagnostics of one file."""

    filename: str
    text: str | None
    items: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, span: Span | None = None, **kw: Unpack[Details]) -> None:
        self.items.append(Diagnostic("error", message, span, **kw))

    def warning(self, message: str, span: Span | None = None, **kw: Unpack[Details]) -> None:
        self.items.append(Diagnostic("warning", message, span, **kw))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: ((d.span.line, d.span.column) if d.span else (0, 0)))

    def format(self) -> str:
        return "\n".join(d.format(self.filename, self.text) for d in self.sorted())


class RuleFileError(Exception):
    """Raised when a file cannot be parsed; carries its diagnostics."""

    def __init__(self, diagnostics: Diagnostics):
        super().__init__(diagnostics.format())
        self.diagnostics = diagnostics
