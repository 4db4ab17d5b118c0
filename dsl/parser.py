"""Parse .tier text into a Lark tree: a cached LALR parser with positions.

Syntax errors become :class:`Diagnostic` objects (position, caret, what was
expected, a suggestion), never a Lark traceback.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .ast import Span
from .diagnostics import FULL_WIDTH, Diagnostic, Diagnostics, RuleFileError, suggest

GRAMMAR = Path(__file__).with_name("grammar.lark")

# a line ending in one of these continues on the next line
CONTINUE_AFTER = frozenset(
    [",", "{", "(", "[", "->", "+", "-", "*", "/", "=", ">=", "<=", ">", "<", "==", "!=",
     "..", ":", "and", "or", "not", "where", "when", "within", "between", "weight", "scale"]
)
# a line starting with one of these continues the previous line
CONTINUE_BEFORE = frozenset(
    ["and", "or", "weight", "scale", "where", "within", "when", "otherwise",
     "{", ")", "]", "*", "/", "+", "->", "between", "key"]
)
BRACKETS_OPEN = frozenset("([")
BRACKETS_CLOSE = frozenset(")]")


NEXT_WORD = re.compile(r"(?:\s|#[^\n]*)*(->|[^\W\d]\w*|\S)?")


class LineJoiner:
    """Post-lexer: turns line breaks into statement ends (see grammar.lark).

    It never holds a token back (the contextual lexer lexes each token in the
    parser state of the one before), so to see what follows a line break it
    peeks at the source text, which ``parse_tree`` sets before parsing.
    """

    always_accept = ("_NL", "RBRACE")

    def __init__(self) -> None:
        self.text = ""

    def _next_word(self, pos: int) -> str:
        m = NEXT_WORD.match(self.text, pos)
        return (m.group(1) or "") if m else ""

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        prev: Token | None = None  # last token yielded, NLs included
        for tok in stream:
            if tok.type == "_NL":
                if depth > 0 or prev is None or prev.type == "_NL":
                    continue
                if prev.type != "STRING" and prev.value in CONTINUE_AFTER:
                    continue
                if self._next_word(tok.end_pos) in CONTINUE_BEFORE:
                    continue
                prev = tok
                yield tok
                continue
            if tok.type == "RBRACE" and prev is not None and prev.type != "_NL" and prev.value != "{":
                yield Token.new_borrow_pos("_NL", "\n", tok)
            if tok.type not in ("STRING", "QUOTED_NAME"):
                if tok.value in BRACKETS_OPEN:
                    depth += 1
                elif tok.value in BRACKETS_CLOSE:
                    depth = max(depth - 1, 0)
            prev = tok
            yield tok
        if prev is not None and prev.type != "_NL":  # a file that does not end in a line break
            line, column = prev.end_line or prev.line, prev.end_column or prev.column
            yield Token("_NL", "", start_pos=prev.end_pos, line=line, column=column,
                        end_line=line, end_column=column, end_pos=prev.end_pos)


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        postlex=LineJoiner(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def parse_tree(text: str, filename: str = "<string>") -> Tree:
    """Parse text into a Lark tree, or raise RuleFileError with one diagnostic."""
    parser = lark_parser()
    parser.options.postlex.text = text
    try:
        return parser.parse(text)
    except UnexpectedInput as exc:
        diags = Diagnostics(filename, text)
        diags.items.append(syntax_diagnostic(exc, text))
        raise RuleFileError(diags) from None


# ---- turning Lark's exceptions into messages -----------------------------------

TERMINAL_NAMES = {
    "NAME": "a name",
    "QUOTED_NAME": "a `quoted name`",
    "NUMBER": "a number",
    "STRING": 'a "quoted string"',
    "_NL": "end of line",
    "$END": "end of file",
}


def describe_terminal(name: str) -> str:
    if name in TERMINAL_NAMES:
        return TERMINAL_NAMES[name]
    for term in lark_parser().terminals:
        if term.name == name:
            pattern = term.pattern
            if pattern.type == "str":
                return f"'{pattern.value}'"
            return name.lower()
    return name.lower()


def describe_expected(names: set[str]) -> tuple[str, list[str]]:
    words = sorted({describe_terminal(n) for n in names})
    keywords = [w.strip("'") for w in words if w.startswith("'")]
    if len(words) > 12:
        words = words[:12] + ["..."]
    return ", ".join(words), keywords


def _span_at(line: int, column: int, width: int = 1) -> Span:
    return Span(line=line, column=column, end_line=line, end_column=column + width)


def syntax_diagnostic(exc: UnexpectedInput, text: str) -> Diagnostic:
    lines = text.splitlines()
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        span = _span_at(exc.line, exc.column)
        expected, _ = describe_expected(set(exc.allowed or ()))
        if ch in FULL_WIDTH:
            return Diagnostic(
                "error",
                f"full-width '{ch}' typed by a Chinese input method",
                span,
                expected=f"the ASCII '{FULL_WIDTH[ch]}'",
                hint=f"use the ASCII '{FULL_WIDTH[ch]}' instead of '{ch}'",
                code="full-width",
            )
        if ch == '"':
            return Diagnostic("error", "string is not closed", span, expected='a closing " on the same line',
                              code="syntax")
        return Diagnostic("error", f"unexpected character {ch!r}", span, expected=expected or None, code="syntax")
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        # `accepts` simulates the reductions, so it lists what can really come next
        expected, keywords = describe_expected(set(getattr(exc, "accepts", None) or exc.expected or ()))
        if tok.type == "$END":
            last = len(lines) or 1
            span = _span_at(last, len(lines[-1]) + 1 if lines else 1)
            return Diagnostic("error", "unexpected end of file", span, expected=expected, code="syntax",
                              hint="a block opened with '{' may be missing its '}'")
        if tok.type == "_NL":
            line_text = lines[tok.line - 1] if 0 < tok.line <= len(lines) else ""
            span = _span_at(tok.line, len(line_text.rstrip()) + 1)
            return Diagnostic("error", "unexpected end of line", span, expected=expected, code="syntax")
        width = max(len(str(tok.value)), 1)
        span = _span_at(tok.line, tok.column, width)
        hint = None
        if tok.type == "NAME" and keywords:
            close = suggest(str(tok.value), keywords)
            if close:
                hint = f"did you mean '{close}'?"
        if hint is None and str(tok.value) == "=" and "==" in keywords:
            hint = "compare with '==', not '='"
        return Diagnostic("error", f"unexpected {describe_token(tok)}", span, expected=expected, hint=hint,
                          code="syntax")
    if isinstance(exc, UnexpectedEOF):  # pragma: no cover - LALR reports $END as UnexpectedToken
        last = len(lines) or 1
        return Diagnostic("error", "unexpected end of file", _span_at(last, 1), code="syntax")
    return Diagnostic("error", str(exc), None, code="syntax")  # pragma: no cover


def describe_token(tok: Token) -> str:
    if tok.type == "NAME":
        return f"name '{tok.value}'"
    if tok.type == "NUMBER":
        return f"number {tok.value}"
    if tok.type == "STRING":
        return f"string {tok.value}"
    return f"'{tok.value}'"
