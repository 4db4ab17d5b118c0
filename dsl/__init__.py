"""The tierwise rule language: text -> parse tree -> typed AST."""
from __future__ import annotations

import re
from pathlib import Path

from lark import Tree
from lark.exceptions import VisitError

from .ast import Ruleset, Span
from .diagnostics import Diagnostic, Diagnostics, RuleFileError
from .parser import normalize_newlines, parse_tree, recursion_limit, too_deep, tree_depth, tree_span
from .transformer import to_ast

__all__ = ["parse", "parse_file", "read_rule_file", "decode_rule_bytes", "Ruleset", "Diagnostic", "Diagnostics",
           "RuleFileError"]

#: byte order marks, longest first (a UTF-32 LE mark starts like a UTF-16 LE one)
BOMS = [(b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")]
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def parse(text: str, filename: str = "<string>") -> Ruleset:
    """Parse rule text into the AST, or raise RuleFileError with a positioned diagnostic."""
    text = normalize_newlines(text)
    tree = parse_tree(text, filename)
    try:
        with recursion_limit():
            return to_ast(tree)
    except (RecursionError, VisitError) as exc:
        if isinstance(exc, VisitError) and not isinstance(exc.orig_exc, RecursionError):
            raise
        deepest = max((s for s in tree.children if isinstance(s, Tree)), key=tree_depth, default=None)
        raise too_deep(text, filename, tree_span(deepest) if deepest is not None else None) from None


def read_rule_file(path: str | Path) -> str:
    """Read a rule file: UTF-8 (a BOM is dropped), UTF-16/32 with a BOM (Windows Notepad), or GB18030.

    A file that is none of these raises RuleFileError with a diagnostic at the first byte that is not
    text; a UTF-8 file with some lines in GBK (pasted from another file) names those lines instead of
    decoding the whole file as GB18030 into mojibake.
    """
    return decode_rule_bytes(Path(path).read_bytes(), str(path))


def decode_rule_bytes(data: bytes, filename: str = "<bytes>") -> str:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                if encoding == "utf-8":
                    data = data[len(bom):]
                    break
                raise _not_text(data[len(bom):], filename, encoding, exc.start) from None
    guess = _utf16_guess(data)
    if b"\x00" in data and not guess:
        raise _not_text(data, filename, "utf-8", data.index(b"\x00"), "the file holds NUL bytes: it is not a text file")
    if guess:
        try:
            return data.decode(guess)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    bad: list[tuple[int, int]] = []  # (line index, byte offset of the first bad byte in it)
    utf8_text = False  # some line holds Chinese written as UTF-8
    for i, raw in enumerate(lines):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append((i, exc.start))
        else:
            utf8_text = utf8_text or bool(CJK.search(line))
    if not utf8_text:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            pass
        else:
            if _reads_as_chinese(text):
                return text
    diags = Diagnostics(filename, _printable(data.decode("utf-8", errors="replace")))
    for i, offset in bad[:10]:
        raw = lines[i]
        column = len(raw[:offset].decode("utf-8", errors="replace")) + 1
        span = Span(line=i + 1, column=column, end_line=i + 1, end_column=column + 1)
        try:
            as_gbk = raw.rstrip(b"\r").decode("gb18030")
        except UnicodeDecodeError:
            as_gbk = None
        if utf8_text and as_gbk is not None:
            diags.error("this line is not UTF-8 like the rest of the file (pasted from a GBK file?)", span,
                        expected="UTF-8 text",
                        hint=f"as GBK it reads: {as_gbk.strip()[:60]} — retype that line here, or convert it to UTF-8")
        else:
            diags.error("file is not UTF-8 or GBK text", span, expected="a text file saved as UTF-8",
                        hint="save the rule file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)")
            break
    raise RuleFileError(diags)


def _reads_as_chinese(text: str) -> bool:
    """GB18030 decodes most byte soup (Latin-1 `für` becomes a rare character): real GBK text is mostly
    common characters, whose two bytes are both 0xA1 or above (GB2312)."""
    wide = [c for c in text if ord(c) > 0x7F]
    common = 0
    for c in wide:
        b = c.encode("gb18030")
        common += len(b) == 2 and b[0] >= 0xA1 and b[1] >= 0xA1
    return common * 2 >= len(wide)


def _utf16_guess(data: bytes) -> str | None:
    """UTF-16 without a BOM: every other byte of ASCII text is zero."""
    if len(data) < 4:
        return None
    sample = data[:2000]
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _not_text(data: bytes, filename: str, encoding: str, offset: int,
              message: str = "file is not UTF-8 or GBK text") -> RuleFileError:
    text = _printable(data.decode(encoding, errors="replace"))
    prefix = data[:offset].decode(encoding, errors="replace")
    line = prefix.count("\n") + 1
    column = len(prefix) - (prefix.rfind("\n") + 1) + 1
    diags = Diagnostics(filename, text)
    diags.error(message, Span(line=line, column=column, end_line=line, end_column=column + 1),
                expected="a text file saved as UTF-8",
                hint="save the rule file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)")
    return RuleFileError(diags)


def _printable(text: str) -> str:
    """Control characters of a binary file shown as U+FFFD (one for one: columns stay right)."""
    return CONTROL.sub("\ufffd", text)


def parse_file(path: str | Path) -> Ruleset:
    return parse(read_rule_file(path), str(path))
