"""``tierwise diff --out``: the parallel run as .csv (the moved customers), .xlsx (sheets matrix, movers,
rule changes) or .html (one self-contained page of tables)."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

SUFFIXES = (".csv", ".xlsx", ".html")


def mover_rows(pr: Any) -> list[dict[str, Any]]:
    key = pr.old.key_column
    return [{key: m.customer, "old_tier": m.tier_before, "new_tier": m.tier_after,
             "old_score": m.score_before, "new_score": m.score_after,
             "score_change": None if m.score_before is None or m.score_after is None
             else round(m.score_after - m.score_before, 10),
             "why": "; ".join(r.text for r in m.reasons)} for m in pr.movers]


def matrix_rows(pr: Any) -> list[list[Any]]:
    """The matrix as rows: a header, then one row per old tier (counts), the new tiers across."""
    ch = pr.changes
    head = ["old \\ new", *(t or "no tier" for t in ch.tiers), "total"]
    rows = [head]
    for a in ch.tiers:
        counts = [ch.matrix.get((a, b), 0) for b in ch.tiers]
        rows.append([a or "no tier", *counts, sum(counts)])
    return rows


def shift_rows(pr: Any) -> list[dict[str, Any]]:
    return [{"old_tier": s.tier or "no tier", "customers": s.customers, "mean_shift": s.mean, "median_shift": s.median}
            for s in pr.changes.shifts]


def rule_rows(pr: Any) -> list[dict[str, Any]]:
    return [{"change": c.kind, "part": c.part, "name": c.name, "aspect": c.aspect, "old": c.before, "new": c.after,
             "text": c.text} for c in pr.rules]


def write_diff(pr: Any, path: Path) -> None:
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        write_csv(pr, path)
    elif suffix == ".xlsx":
        write_xlsx(pr, path)
    elif suffix == ".html":
        path.write_text(html_page(pr), encoding="utf-8")
    else:  # the command checks the suffix first
        raise ValueError(f"cannot write {path.name}: the output must end in {', '.join(SUFFIXES)}")


def write_csv(pr: Any, path: Path) -> None:
    import pyarrow as pa

    from ..engine.output import write_output

    rows = mover_rows(pr)
    key = pr.old.key_column
    names = [key, "old_tier", "new_tier", "old_score", "new_score", "score_change", "why"]
    types = [pa.string(), pa.string(), pa.string(), pa.float64(), pa.float64(), pa.float64(), pa.string()]
    table = pa.table({n: pa.array([r[n] for r in rows], t) for n, t in zip(names, types)})
    write_output(table, path)


def _text_cell(cell: Any) -> None:
    """Text stays text: a value starting with '=' is not a formula."""
    if isinstance(cell.value, str) and cell.value.startswith("="):
        cell.data_type = "s"


def write_xlsx(pr: Any, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def clean(v: Any) -> Any:
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v

    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook's one sheet
    ws.title = "matrix"
    ch = pr.changes
    ws.append([clean(summary_line(pr))])
    ws.append([])
    for row in matrix_rows(pr):
        ws.append([clean(v) for v in row])
    ws.append([])
    ws.append(["old tier", "customers", "mean score shift", "median score shift"])
    for s in shift_rows(pr):
        ws.append([clean(s["old_tier"]), s["customers"], s["mean_shift"], s["median_shift"]])
    ws.append([])
    ws.append(["moved", ch.moved, "of", ch.both, "share", ch.moved_share])
    for name, rows in (("movers", mover_rows(pr)), ("rule changes", rule_rows(pr))):
        sheet = wb.create_sheet(name)
        header = list(rows[0]) if rows else (["change", "part", "name", "aspect", "old", "new", "text"]
                                            if name == "rule changes" else
                                            [pr.old.key_column, "old_tier", "new_tier", "old_score", "new_score",
                                             "score_change", "why"])
        sheet.append([clean(h) for h in header])
        for r in rows:
            sheet.append([clean(r[h]) for h in header])
        sheet.freeze_panes = "A2"
    for sheet in wb.worksheets:
        for cells in sheet.iter_rows():
            for cell in cells:
                _text_cell(cell)
    wb.save(path)


def summary_line(pr: Any) -> str:
    ch = pr.changes
    old = " ".join(filter(None, [pr.old.name, pr.old.version]))
    new = " ".join(filter(None, [pr.new.name, pr.new.version]))
    return (f"{old} → {new}, as of {pr.as_of}: {ch.moved} of {ch.both} customers moved "
            f"({ch.moved_share * 100:.1f}%)")


def _table(header: list[Any], rows: list[list[Any]]) -> str:
    def cell(v: Any, tag: str = "td") -> str:
        if isinstance(v, float):
            text, cls = f"{v:,.4f}".rstrip("0").rstrip("."), ' class="num"'
        elif isinstance(v, int):
            text, cls = f"{v:,}", ' class="num"'
        else:
            text, cls = ("—" if v is None else str(v)), ""
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei",
"Noto Sans CJK SC","Source Han Sans SC",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}"""


def html_page(pr: Any) -> str:
    ch = pr.changes
    matrix = matrix_rows(pr)
    shares = [[a or "no tier", *(f"{ch.share(a, b) * 100:.1f}%" for b in ch.tiers)] for a in ch.tiers]
    parts = [f"<h1>{html.escape(summary_line(pr))}</h1>", "<h2>rule changes</h2>"]
    if pr.rules:
        parts.append("<ul>" + "".join(f"<li>{html.escape(c.text)}</li>" for c in pr.rules) + "</ul>")
    else:
        parts.append("<p>none: the two rulesets rate alike</p>")
    parts += ["<h2>migration matrix (customers)</h2>", _table(matrix[0], matrix[1:]),
              "<h2>migration matrix (shares)</h2>", _table(matrix[0][:-1], shares),
              "<h2>score shift per old tier (new − old)</h2>",
              _table(["old tier", "customers", "mean", "median"], [list(r.values()) for r in shift_rows(pr)]),
              f"<h2>moved customers ({len(pr.movers)})</h2>"]
    rows = mover_rows(pr)
    if rows:
        parts.append(_table(list(rows[0]), [list(r.values()) for r in rows]))
    else:
        parts.append("<p>nobody moved</p>")
    title = html.escape(summary_line(pr))
    return (f"<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
