"""Text file encodings: detect (BOMs, UTF-8, else GB18030), check, and stream-transcode to UTF-8."""
from __future__ import annotations

import codecs
from pathlib import Path

from tierwise.engine.plugin_api import DataError

CHUNK = 1 << 20
GB_CODECS = ("gbk", "gb2312", "gb18030", "hz")
BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def codec_name(encoding: str) -> str:
    return codecs.lookup(encoding).name


def bom_encoding(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return next((enc for bom, enc in BOMS if head.startswith(bom)), None)


def first_error(path: Path, encoding: str) -> tuple[int, int] | None:
    """(byte offset, 1-based line) of the first bytes that are not valid ``encoding``, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = lines = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            pending = len(decoder.getstate()[0])  # bytes kept from the previous chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                pos = max(0, exc.start - pending)
                return offset + pos, lines + chunk[:pos].count(b"\n") + 1
            if not chunk:
                return None
            offset += len(chunk)
            lines += chunk.count(b"\n")


def detect(path: Path) -> str:
    """A BOM's encoding, else UTF-8 when every byte is valid UTF-8, else GB18030 (a superset of GBK)."""
    return bom_encoding(path) or ("utf-8" if first_error(path, "utf-8") is None else "gb18030")


def suggestion(path: Path, failed: str) -> str:
    """What to try instead of ``failed`` (never ``failed`` itself)."""
    tried = codec_name(failed)
    bom = bom_encoding(path)
    if bom and codec_name(bom) != tried:
        return f"the file starts with a {bom.upper()} byte-order mark: use encoding: \"{bom}\" or \"auto\""
    for cand, label in (("utf-8", "UTF-8"), ("gb18030", "GB18030/GBK")):
        if codec_name(cand) != tried and first_error(path, cand) is None:
            return f"it reads as {label}: use encoding: \"{cand}\" or \"auto\""
    return "check how the file was exported (encoding: \"auto\" tries UTF-8, then GB18030)"


def not_valid(path: Path, encoding: str, where: tuple[int, int]) -> DataError:
    offset, line = where
    return DataError(f"{path.name} is not valid {encoding} (line {line}, byte {offset}) — {suggestion(path, encoding)}")


def transcode(src: Path, dst: Path, encoding: str) -> None:
    """Stream ``src`` in ``encoding`` into UTF-8 ``dst`` (fixed-size chunks, never the whole file);
    a byte-order mark is dropped."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        first = True
        while True:
            chunk = fin.read(CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                raise not_valid(src, encoding, first_error(src, encoding) or (0, 1)) from None
            if first:
                text = text.lstrip("\ufeff")
                first = text == ""
            fout.write(text)
            if not chunk:
                break


def utf8_copy(path: Path, encoding: str, temp: Path) -> Path:
    """A UTF-8 file without a byte-order mark with the text of ``path``: ``path`` itself when it
    already is one."""
    name = codec_name(encoding)
    if name in ("utf-8", "utf-8-sig"):
        where = first_error(path, "utf-8")
        if where is not None:
            raise not_valid(path, "utf-8", where)
        if bom_encoding(path) is None:
            return path
        encoding = "utf-8-sig"  # copied without its byte-order mark
    if name in GB_CODECS and first_error(path, "utf-8") is None and not _ascii(path):
        # UTF-8 Chinese decoded as GBK gives mojibake without an error: 客户 -> 瀹㈡埛
        raise DataError(f"{path.name} is declared {encoding} but is UTF-8 (reading it as {encoding} would garble "
                        f"its Chinese text): use encoding: \"utf-8\" or \"auto\"")
    temp.parent.mkdir(parents=True, exist_ok=True)
    transcode(path, temp, encoding)
    return temp


def _ascii(path: Path) -> bool:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if not chunk.isascii():
                return False
    return True
