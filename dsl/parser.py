"""Parse .tier text into a Lark tree: a cached LALR parser with positions.

Syntax errors become :class:`Diagnostic` objects (position, caret, what was
expected, a suggestion), never a Lark traceback.
"""
from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from copy import copy
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Iterator, TypeGuard

from lark import Lark, Token, Tree
from lark.lark import PostLex
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_parser_state import ParserState

from .ast import Span
from .diagnostics import FULL_WIDTH, Diagnostic, Diagnostics, RuleFileError, source_lines, suggest

GRAMMAR = Path(__file__).with_name("grammar.lark")

# a line ending in one of these (as a keyword or symbol, not a name) continues on the next line
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
# tokens that carry text of their own; every other token is a keyword or a symbol
TEXT_TOKENS = frozenset(["NAME", "QUOTED_NAME", "STRING", "NUMBER"])
STATEMENT_KEYWORDS = frozenset(["ruleset", "source", "points", "score", "scoring", "cap", "missing", "dimension",
                                "indicator", "measure", "tier", "label", "segment", "trigger", "on", "example"])
IDENT = re.compile(r"[^\W\d]\w*\Z")
WORD = re.compile(r"\w+")
NEXT_WORD = re.compile(r"(?:\s|#[^\n]*)*(->|[^\W\d]\w*|\S)?")
# deeper parse trees are refused with a diagnostic: transforming, compiling and evaluating them recurses
MAX_DEPTH = 120
RECURSION_LIMIT = 6000


def normalize_newlines(text: str) -> str:
    """CRLF (Windows) and bare CR (old Mac) line ends as LF; lines and columns stay the same."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _is_keyword(tok: Token | None, word: str | None = None) -> TypeGuard[Token]:
    """A keyword token (not a name that happens to read 'weight'), optionally a given one."""
    if tok is None or tok.type in TEXT_TOKENS or tok.type.startswith("_"):
        return False
    return tok.value == word if word is not None else bool(IDENT.match(str(tok.value)))


class LineJoiner(PostLex):
    """Post-lexer: turns line breaks into statement ends (see grammar.lark).

    It never holds a token back (the contextual lexer lexes each token in the
    parser state of the one before), so to see what follows a line break it
    peeks at the source text, which ``parse_tree`` sets before parsing.

    It knows the first token of the statement being read (across ``{ }``
    blocks), so an indented ``missing ->`` or ``cap`` line after an indicator
    continues that indicator, ``expect`` continues a tier, and a line starting
    with ``-`` continues an expression except in a band block (where it starts
    a band like ``-5..0 -> 1``).
    """

    always_accept = ("_NL", "RBRACE")

    def __init__(self) -> None:
        self.text = ""
        self.reset()

    def reset(self) -> None:
        self.braces: list[Token] = []  # the '{' still open
        self.last: Token | None = None  # the last token given to the parser (not a line break)

    def _next_word(self, pos: int) -> tuple[str, int]:
        m = NEXT_WORD.match(self.text, pos)
        if not m or m.group(1) is None:
            return "", -1
        return m.group(1), m.start(1)

    def _column(self, pos: int) -> int:
        return pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def _continues(self, pos: int, stmt: Token | None, outer: list[Token | None]) -> bool:
        """Does the line after the line break at ``pos`` continue the statement ``stmt``?"""
        word, at = self._next_word(pos)
        if not word:
            return False
        in_bands = bool(outer) and _is_keyword(outer[-1], "indicator")
        if word == "otherwise":
            return not in_bands  # in a band block it is a mistake for `else`, reported as such
        if word in CONTINUE_BEFORE:
            return True
        if word == "-":
            return stmt is not None and not in_bands
        if word == "expect":
            return _is_keyword(stmt, "tier")
        if word in ("missing", "cap") and _is_keyword(stmt, "indicator"):
            in_dimension = bool(outer) and _is_keyword(outer[-1], "dimension")
            return in_dimension or (stmt.column is not None and self._column(at) > stmt.column)
        return False

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        self.reset()
        depth = 0
        prev: Token | None = None  # last token yielded, NLs included
        stmt: Token | None = None  # first token of the statement being read, at this brace level
        outer: list[Token | None] = []  # the statements around each open '{'
        skip_to = -1
        for tok in stream:
            # the lexer's tokens carry their positions (lark types them Optional, for tokens made by hand)
            assert tok.start_pos is not None and tok.end_pos is not None and tok.line is not None
            assert tok.column is not None
            if skip_to >= 0 and tok.start_pos < skip_to:
                continue
            if tok.type == "_NL":
                if depth > 0 or prev is None or prev.type == "_NL":
                    continue
                if prev.type not in TEXT_TOKENS and prev.value in CONTINUE_AFTER:
                    continue
                if self._continues(tok.end_pos, stmt, outer):
                    continue
                prev, stmt = tok, None
                yield tok
                continue
            if _is_keyword(tok) and tok.end_pos < len(self.text) and re.match(r"[A-Za-z_]", self.text[tok.end_pos]):
                # the lexer took a keyword from the front of a longer word (`in` of `indicator`, `weight` of
                # `weights`, `and` of `andy`): the parser gets the whole word, and rejects it
                whole = WORD.match(self.text, tok.start_pos)
                assert whole is not None  # a keyword starts with a letter
                word = whole.group(0)
                skip_to = tok.start_pos + len(word)
                tok = Token("NAME", word, start_pos=tok.start_pos, line=tok.line, column=tok.column,
                            end_line=tok.line, end_column=tok.column + len(word), end_pos=skip_to)
            if tok.type == "RBRACE":
                if prev is not None and prev.type != "_NL" and prev.value != "{":
                    yield Token.new_borrow_pos("_NL", "\n", tok)
                stmt = outer.pop() if outer else None
                if self.braces:
                    self.braces.pop()
            elif tok.type == "LBRACE":
                outer.append(stmt if stmt is not None else tok)
                stmt = None
                self.braces.append(tok)
            elif stmt is None:
                stmt = tok
            if tok.type not in ("STRING", "QUOTED_NAME"):
                if tok.value in BRACKETS_OPEN:
                    depth += 1
                elif tok.value in BRACKETS_CLOSE:
                    depth = max(depth - 1, 0)
            prev = tok
            self.last = tok
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


@contextmanager
def recursion_limit(limit: int = RECURSION_LIMIT) -> Iterator[None]:
    """Deep expressions recurse in the transformer and the compiler: a moderately higher limit."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def tree_depth(tree: Tree[Token]) -> int:
    """How deep a parse tree nests, counted without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in node.children if isinstance(c, Tree))
    return deepest


def too_deep(text: str, filename: str, where: Span | None, depth: int | None = None) -> RuleFileError:
    diags = Diagnostics(filename, text)
    diags.error("expression nested too deeply" + (f" ({depth} levels; at most {MAX_DEPTH})" if depth else ""),
                where, hint="split it into measures: `measure part1 = ...`, then use part1 in the expression")
    return RuleFileError(diags)


def parse_tree(text: str, filename: str = "<string>") -> Tree[Token]:
    """Parse text into a Lark tree, or raise RuleFileError with one diagnostic."""
    text = normalize_newlines(text)
    parser = lark_parser()
    _joiner().text = text
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        diags = Diagnostics(filename, text)
        diags.items.append(syntax_diagnostic(exc, text))
        raise RuleFileError(diags) from None
    for stmt in tree.children:
        if isinstance(stmt, Tree):
            depth = tree_depth(stmt)
            if depth > MAX_DEPTH:
                raise too_deep(text, filename, tree_span(stmt), depth)
    return tree


def tree_span(tree: Tree[Token]) -> Span | None:
    meta = tree.meta
    if getattr(meta, "empty", True):
        return None
    return Span(line=meta.line, column=meta.column, end_line=meta.line, end_column=meta.column + 1)


# ---- turning Lark's exceptions into messages -----------------------------------

TERMINAL_NAMES = {
    "NAME": "a name",
    "QUOTED_NAME": "a `quoted name`",
    "NUMBER": "a number",
    "STRING": 'a "quoted string"',
    "_NL": "end of line",
    "$END": "end of file",
}
SYNONYMS = {"otherwise": "else", "else": "otherwise", "elif": "when", "if": "when", "then": "->", "&&": "and",
            "||": "or", "default": "else",
            # words people use for the statements: a lifecycle "stage" is a segment, a "grade" a tier, ...
            "stage": "segment", "stages": "segment", "classification": "segment", "classify": "segment",
            "group": "segment", "lifecycle": "segment", "grade": "tier", "level": "tier", "rating": "tier",
            "tag": "label", "metric": "indicator", "kpi": "indicator", "factor": "indicator", "let": "measure",
            "var": "measure", "category": "dimension", "import": "source", "weights": "weight"}
TIME_WORDS = {"个月": "months", "月": "months", "天": "days", "日": "days", "年": "years", "周": "weeks",
              "星期": "weeks"}
CHINESE_MULTIPLIERS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "十万": 100_000, "百万": 1_000_000,
                       "千万": 10_000_000, "亿": 100_000_000}
CURRENCY_WORDS = ("元", "块", "rmb", "yuan", "cny")
NUMBER_AT_END = re.compile(r"\d[\d_]*(?:\.\d+)?(?:%|万|亿)?\Z")


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
    words = sorted({describe_terminal(n) for n in names if n not in ("WS", "COMMENT")})
    keywords = [w.strip("'") for w in words if w.startswith("'")]
    if len(words) > 12:
        words = words[:12] + ["..."]
    return ", ".join(words), keywords


def parser_accepts(state: object) -> set[str]:
    """The terminals the parser can really take next in ``state`` (reductions simulated): an LALR
    state's own lookahead set also lists what may follow only in other contexts."""
    if not isinstance(state, ParserState):
        return set()
    conf = copy(state.parse_conf)
    conf.callbacks = {}
    out = set()
    for t in conf.states[state.position]:
        if not t.isupper():
            continue
        trial = ParserState(conf, state.lexer, list(state.state_stack), list(state.value_stack))
        try:
            trial.feed_token(Token(t, ""), is_end=t == "$END")
        except Exception:  # UnexpectedToken, or the end state's assertion: not acceptable here
            continue
        out.add(t)
    return out


def _span_at(line: int, column: int, width: int = 1) -> Span:
    return Span(line=line, column=column, end_line=line, end_column=column + width)


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _joiner() -> LineJoiner:
    joiner = lark_parser().options.postlex
    assert isinstance(joiner, LineJoiner)
    return joiner


def _open_brace_hint() -> str | None:
    braces = _joiner().braces
    if braces:
        return f"the '{{' at line {braces[-1].line} may be missing its '}}'"
    return None


def syntax_diagnostic(exc: UnexpectedInput, text: str) -> Diagnostic:
    lines = source_lines(text)
    if lines and not lines[-1]:  # the text ends with a line break: no line after it
        lines.pop()
    if isinstance(exc, UnexpectedCharacters):
        # lark declares `pos_in_stream = None` on the class; UnexpectedCharacters sets the lexer's position
        pos: int = exc.pos_in_stream  # type: ignore[assignment]
        accepts = parser_accepts(getattr(exc, "state", None)) or set(exc.allowed or ())
        expected, _ = describe_expected(accepts)
        special = character_diagnostic(text, pos, exc.line, exc.column, accepts)
        if special is not None:
            return special
        ch = text[pos] if pos < len(text) else ""
        return Diagnostic("error", f"unexpected character {ch!r}", _span_at(exc.line, exc.column),
                          expected=expected or None, code="syntax")
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        state = getattr(exc, "state", None)
        # `accepts` simulates the reductions, so it lists what can really come next
        accepts = set(getattr(exc, "accepts", None) or ()) or parser_accepts(state) or set(exc.expected or ())
        expected, keywords = describe_expected(accepts)
        if tok.type == "$END":
            last = len(lines) or 1
            span = _span_at(last, len(lines[-1]) + 1 if lines else 1)
            return Diagnostic("error", "unexpected end of file", span, expected=expected, code="syntax",
                              hint=_open_brace_hint())
        # the parser's tokens come from the lexer (or LineJoiner), with their positions
        assert tok.line is not None and tok.column is not None and tok.start_pos is not None
        if tok.type == "_NL":
            last_tok = _joiner().last
            if last_tok is not None and last_tok.end_line and last_tok.end_column is not None:
                span = _span_at(last_tok.end_line, last_tok.end_column)  # right after the last token
            else:
                line_text = lines[tok.line - 1] if 0 < tok.line <= len(lines) else ""
                span = _span_at(tok.line, len(line_text.rstrip()) + 1)
            return Diagnostic("error", "unexpected end of line", span, expected=expected, code="syntax")
        special = token_diagnostic(text, tok, accepts, keywords, expected)
        if special is not None:
            return special
        width = max(len(str(tok.value)), 1)
        span = _span_at(tok.line, tok.column, width)
        hint = None
        value = str(tok.value)
        if value.lower() in SYNONYMS and SYNONYMS[value.lower()] in keywords:
            hint = f"did you mean '{SYNONYMS[value.lower()]}'?"
        elif tok.type == "NAME" and keywords:
            close = suggest(value, keywords)
            if close:
                hint = f"did you mean '{close}'?"
        if hint is None and value == "=" and "==" in keywords:
            hint = "compare with '==', not '='"
        if hint is None and value in STATEMENT_KEYWORDS and not text[_line_start(text, tok.start_pos):
                                                                     tok.start_pos].strip():
            hint = _open_brace_hint() or ("a statement starts on a line of its own" if "_NL" in accepts else None)
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


def _ime(what: str, span: Span, replacement: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic("error", f"{what} typed by a Chinese input method", span, expected=f"the ASCII '{replacement}'",
                      hint=hint or f"use the ASCII '{replacement}' instead", code="full-width")


def character_diagnostic(text: str, pos: int, line: int, column: int, accepts: set[str]) -> Diagnostic | None:
    """What a character the lexer cannot read was probably meant to be."""
    ch = text[pos] if pos < len(text) else ""
    pair = text[pos:pos + 2]
    arrow_ok = "__ANON_1" in accepts or any(describe_terminal(a) == "'->'" for a in accepts)
    if pos > 0 and text[pos - 1] == "-" and ch in "》＞":
        return _ime(f"'-{ch}'", _span_at(line, column - 1, 2), "->", "write the arrow as '->'")
    if pair in ("》=", "《=", "＞=", "＜="):
        op = ">=" if pair[0] in "》＞" else "<="
        return _ime(f"'{pair}'", _span_at(line, column, 2), op, f"write '{op}'")
    if ch == "—":
        dash = "——" if pair == "——" else "—"
        what = f"'{dash}'"
        if arrow_ok:
            return _ime(what, _span_at(line, column, len(dash)), "->", "an arrow is written '->' (minus, greater-than)")
        return _ime(what, _span_at(line, column, len(dash)), "_", "'——' is shift+- in Chinese mode; "
                                                                 "names and numbers use the ASCII '_'")
    if ch in "～~":
        return Diagnostic("error", f"'{ch}' is not a range", _span_at(line, column), expected="'..'",
                          hint="a range is written with two dots: 1..5 (in a band, 1..5 means 1 <= x < 5)",
                          code="syntax")
    if ch in "【】[]":
        paren = "(" if ch in "【[" else ")"
        return Diagnostic("error", f"'{ch}' is not part of the language", _span_at(line, column),
                          expected=f"'{paren}'", hint='a list is written in parentheses: x in ("A", "B")',
                          code="syntax")
    if ch in "'‘’":
        end = text.find(ch if ch == "'" else "’", pos + 1)
        eol = text.find("\n", pos)
        inner = text[pos + 1:end] if end != -1 and (eol == -1 or end < eol) else None
        quoted = f': "{inner}"' if inner is not None else ""
        what = "single quotes do" if ch == "'" else f"'{ch}' does"
        return Diagnostic("error", f"{what} not quote a string", _span_at(line, column),
                          expected='a "quoted string"', hint=f'write the string in ASCII double quotes{quoted}',
                          code="syntax")
    if ch in "¥￥$€":
        amount = re.match(r"\s*(\d[\d_]*(?:\.\d+)?(?:%|万|亿)?)", text[pos + 1:])
        return Diagnostic("error", f"currency sign '{ch}' in a number", _span_at(line, column),
                          expected="a number", code="syntax",
                          hint=f"write the amount bare: {amount.group(1)}" if amount else
                          "write amounts bare: 500万, 3_000 (no currency sign)")
    if ch in "%％":
        before = text[_line_start(text, pos):pos]
        if re.search(r"\d\s+\Z", before):
            return Diagnostic("error", f"a space before '{ch}'", _span_at(line, column), expected="a number like 50%",
                              hint="write the percent sign right after the number: 50%", code="syntax")
        if re.search(r"[万亿]\Z", before):
            return Diagnostic("error", "a number takes one unit", _span_at(line, column),
                              expected="a number like 30%, 500万 or 1.2亿",
                              hint="use one of %, 万, 亿 per number", code="syntax")
    if ch in FULL_WIDTH:
        return _ime(f"full-width '{ch}'", _span_at(line, column), FULL_WIDTH[ch],
                    f"use the ASCII '{FULL_WIDTH[ch]}' instead of '{ch}'")
    if ch == '"':
        return Diagnostic("error", "string is not closed", _span_at(line, column),
                          expected='a closing " on the same line', code="syntax")
    return None


def token_diagnostic(text: str, tok: Token, accepts: set[str], keywords: list[str], expected: str
                     ) -> Diagnostic | None:
    """Common slips the parser meets as a wrong token: `=>`, `-》`, `//`, 1,000, 500w, 3千, 1e6."""
    assert tok.start_pos is not None and tok.line is not None and tok.column is not None  # a lexer's token
    pos, value = tok.start_pos, str(tok.value)
    nxt = text[tok.end_pos:tok.end_pos + 1] if tok.end_pos is not None else ""
    if value == "=" and nxt == ">":
        span = _span_at(tok.line, tok.column, 2)
        if ">=" in keywords:
            return Diagnostic("error", "unexpected '=>'", span, expected=expected, hint="did you mean '>='?",
                              code="syntax")
        return Diagnostic("error", "unexpected '=>'", span, expected=expected,
                          hint="did you mean '->'?" if "->" in keywords else "did you mean '>=' or '->'?",
                          code="syntax")
    if value == "-" and nxt in ("》", "＞"):
        return _ime(f"'-{nxt}'", _span_at(tok.line, tok.column, 2), "->", "write the arrow as '->'")
    if value == "/" and nxt == "/":
        return Diagnostic("error", "'//' does not start a comment", _span_at(tok.line, tok.column, 2),
                          expected=expected, hint="comments start with #", code="syntax")
    if value == "," and pos > 0:
        m = re.match(r",\d{3}(?:,\d{3})*(?:\.\d+)?", text[pos:])
        before = NUMBER_AT_END.search(text[_line_start(text, pos):pos])
        if m and before and re.fullmatch(r"\d{1,3}", before.group(0)):
            whole = before.group(0) + m.group(0)
            n = Decimal(whole.replace(",", ""))
            return Diagnostic("error", f"thousands separators in {whole}",
                              _span_at(tok.line, tok.column - len(before.group(0)), len(whole)),
                              expected="a number like 1_000_000 or 100万",
                              hint=f"write {_spellings(n)} (',' separates list items)", code="syntax")
    if tok.type == "NAME" and pos:
        before = NUMBER_AT_END.search(text[_line_start(text, pos):pos])
        if before:
            return number_word_diagnostic(tok, before.group(0), value)
    return None


def _plain(n: Decimal) -> str:
    return format(n.normalize(), "f") if n == n.to_integral_value() else format(n, "f")


def _spellings(n: Decimal) -> str:
    if n != n.to_integral_value():
        return _plain(n)
    i = int(n)
    out = [f"{i:_}" if abs(i) >= 10_000 else str(i)]
    if i and i % 100_000_000 == 0:
        out.append(f"{_plain(n / 100_000_000)}亿")
    elif i and i % 10_000 == 0:
        out.append(f"{_plain(n / 10_000)}万")
    return " or ".join(out)


def number_word_diagnostic(tok: Token, number: str, word: str) -> Diagnostic:
    """A number written with a suffix the language does not know: 500w, 3千, 5百万, 500万元, 1e6, 12个月."""
    assert tok.line is not None and tok.column is not None  # a lexer's token
    whole = number + word
    span = _span_at(tok.line, tok.column - len(number), len(whole))
    msg = f"'{whole}' is not a number the rules can read"
    expected = "a number like 1_000_000, 30%, 500万 or 1.2亿"
    try:
        unit: dict[str, Decimal | int] = {"%": Decimal("0.01"), "万": 10_000, "亿": 100_000_000}
        base = Decimal(number.rstrip("%万亿").replace("_", "")) * unit.get(number[-1], 1)
    except InvalidOperation:  # pragma: no cover - NUMBER_AT_END matched digits
        base = None
    lower = word.lower()
    hint = "put a space between the number and the name, or remove the letters"
    if word in TIME_WORDS:
        return Diagnostic("error", f"'{whole}' is not a time span", span, expected=f"{number} {TIME_WORDS[word]}",
                          hint=f"write {number} {TIME_WORDS[word]} (days, weeks, months or years)", code="syntax")
    if base is not None:
        mult = None
        if lower in ("w", "wan"):
            mult = 10_000
        elif lower == "k":
            mult = 1000
        elif lower in ("m", "mm"):
            mult = 1_000_000
        elif word in CHINESE_MULTIPLIERS:
            mult = CHINESE_MULTIPLIERS[word]
        elif re.fullmatch(r"[eE]\d+", word):
            mult = 10 ** int(word[1:])
        if mult is not None:
            hint = f"write {_spellings(base * mult)}"
        elif lower.startswith(CURRENCY_WORDS) or word[0] in CURRENCY_WORDS:
            hint = f"drop the currency: write {number}"
        elif word[0] in CHINESE_MULTIPLIERS and word.endswith(("元", "块")):
            hint = f"drop the currency: write {_spellings(base * CHINESE_MULTIPLIERS.get(word[:-1], 1))}"
    return Diagnostic("error", msg, span, expected=expected, hint=hint, code="syntax")
