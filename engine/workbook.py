"""The ratings workbook (``tierwise run … --out ratings.xlsx``), written with xlsxwriter.

Three sheets: the ratings (frozen header and key column, autofilter, widths that count CJK
characters double, number formats by what a column holds, tier cells coloured best green … worst
red); the summary (the run's tier distribution against each tier's expected share, read from the
run's Summary, and a native Excel column chart of it); the data quality (missing values per
indicator and how they were scored, the run's DataIssues, its warnings).

Text is always written as text (``write_string``): a key ``=HYPERLINK(…)`` stays a string, never a
formula or a link; characters that .xlsx cannot hold become U+FFFD. Numbers are cleaned
(engine.numbers) and keep their full value; the format only decides what is shown.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import plan as P
from .headers import WORDS, Language, header_names
from .numbers import clean, clean_table
from .plugin_api import DataError

XLSX_MAX_ROWS = 1_048_575
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

#: number formats by what a column holds
FORMATS = {"score": "0.00", "points": "0.00", "rate": "0.0%", "weight": "0.0%", "money": "#,##0.00",
           "count": "#,##0", "band": "0", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm:ss"}
#: tier fills (and their text colours) from the best tier to the worst: green, light green, yellow, orange, red
PALETTE = [("#C6EFCE", "#006100"), ("#E2EFDA", "#375623"), ("#FFEB9C", "#9C5700"), ("#FCE4D6", "#833C0B"),
           ("#FFC7CE", "#9C0006")]
HEADER = {"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "text_wrap": True, "valign": "top"}
MONEY_FUNCS = ("sum", "avg", "min", "max")
WIDTH_SAMPLE = 2000


def text_cell(v: str) -> str:
    return ILLEGAL.sub("\ufffd", v)


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet cell: CJK (wide and full-width) characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def tier_colours(tiers: list[str]) -> dict[str, tuple[str, str]]:
    """A fill and font colour per tier, by its order: the first (best) green, the last (worst) red."""
    n = len(tiers)
    out = {}
    for i, t in enumerate(tiers):
        at = 0 if n == 1 else round(i * (len(PALETTE) - 1) / (n - 1))
        out[t] = PALETTE[at]
    return out


def _reads(plan: P.Plan, e: P.Expr, seen: set[str] | None = None) -> list[P.Expr]:
    """Every node ``e`` reads, through the measures it names."""
    seen = set() if seen is None else seen
    out = []
    for n in P.walk(e):
        out.append(n)
        if isinstance(n, P.Ref) and n.kind == "measure" and n.name not in seen and n.name in plan.measures:
            seen.add(n.name)
            out.extend(_reads(plan, plan.measures[n.name], seen))
    return out


def indicator_kind(plan: P.Plan, ind: P.IndicatorPlan) -> str:
    """How an indicator's raw values are shown: ``rate`` (its bands cut at percentages: 95% is 0.95),
    ``count`` (a count of rows), ``money`` (a sum, mean, min or max of amounts, or bands cutting at
    thousands), ``date``, else ``number`` (General)."""
    if ind.value_type == "date":
        return "date"
    if ind.value_type != "number":
        return "text"
    if ind.percent_compared:
        return "rate"
    top = ind.expr
    if isinstance(top, P.Ref) and top.kind == "measure" and top.name in plan.measures:
        top = plan.measures[top.name]
    if isinstance(top, P.Agg) and top.func in ("count", "count_distinct"):
        return "count"
    if isinstance(top, P.Func):  # days_since(…), years_between(…): not amounts
        return "number"
    nodes = _reads(plan, ind.expr)
    if any(isinstance(n, P.Agg) and n.func in MONEY_FUNCS and n.arg is not None for n in nodes):
        return "money"
    cuts = [v for b in ind.bands or [] for v in b.values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if cuts and max(abs(v) for v in cuts) >= 1000:
        return "money"
    return "number"


def column_kinds(plan: P.Plan, columns: list[str]) -> dict[str, str]:
    """What each result column holds, for its number format (see FORMATS) and colours (``tier``)."""
    inds = {i.name: i for i in plan.indicators}
    dims = {d.name for d in plan.dimensions}
    out: dict[str, str] = {}
    for c in columns:
        base, _, suffix = c.rpartition(".")
        if c == plan.key_column:
            kind = "key"
        elif c == "score":
            kind = "score"
        elif c in ("tier", "final_tier"):
            kind = "tier"
        elif c in inds:
            kind = indicator_kind(plan, inds[c])
        elif c in dims:
            kind = "points"
        elif base in inds or base in dims:
            kind = {"points": "points", "weight": "weight", "band": "band", "change": "rate",
                    "last": indicator_kind(plan, inds[base]) if base in inds else "number"}.get(suffix, "text")
        else:
            kind = "text"
        out[c] = kind
    return out


class Sheets:
    """An xlsxwriter workbook and its formats (made once, shared by every cell)."""

    def __init__(self, path: Path, big: bool = False):
        import xlsxwriter

        # constant_memory: rows are written in order and flushed, so a million rows fit in memory
        self.wb = xlsxwriter.Workbook(str(path), {"constant_memory": big, "nan_inf_to_errors": True,
                                                  "strings_to_formulas": False, "strings_to_urls": False,
                                                  "strings_to_numbers": False})
        self.header = self.wb.add_format(HEADER)
        self.title = self.wb.add_format({"bold": True, "font_size": 13})
        self.bold = self.wb.add_format({"bold": True})
        self.formats: dict[str, Any] = {k: self.wb.add_format({"num_format": v}) for k, v in FORMATS.items()}
        self.formats["text"] = self.formats["key"] = None
        self.formats["number"] = None

    def fmt(self, kind: str) -> Any:
        return self.formats.get(kind)

    def add(self, spec: dict[str, Any]) -> Any:
        return self.wb.add_format(spec)


def write_value(ws: Any, row: int, col: int, v: Any, fmt: Any = None, cleaned: bool = False) -> None:
    """One cell: text as text (never a formula), numbers cleaned (unless ``cleaned`` already), dates as
    dates, None and empty text blank."""
    if v is None or v == "":  # an empty text is a blank cell (Excel's filter lists it as "(Blanks)")
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
        return
    t = type(v)
    if t is float:
        ws.write_number(row, col, v if cleaned else clean(v), fmt)
    elif t is str:
        ws.write_string(row, col, text_cell(v), fmt)
    elif t is bool:
        ws.write_boolean(row, col, v, fmt)
    elif isinstance(v, (int, float)):
        ws.write_number(row, col, clean(float(v)) if isinstance(v, float) and not cleaned else v, fmt)
    elif isinstance(v, datetime):
        ws.write_datetime(row, col, v.replace(tzinfo=None), fmt)
    elif isinstance(v, date):
        ws.write_datetime(row, col, datetime(v.year, v.month, v.day), fmt)
    else:
        try:
            ws.write_number(row, col, clean(float(v)), fmt)  # Decimal
        except (TypeError, ValueError):
            ws.write_string(row, col, text_cell(str(v)), fmt)


def shown(v: Any, kind: str) -> str:
    """About what a cell shows (for the column's width)."""
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)[:80]
    if kind in ("rate", "weight"):
        return f"{v * 100:.1f}%"
    if kind == "money":
        return f"{v:,.2f}"
    if kind == "count":
        return f"{v:,.0f}"
    if kind in ("score", "points"):
        return f"{v:.2f}"
    return f"{clean(float(v)):.10g}"


def width_for(header: str, values: list[Any], kind: str) -> float:
    w = max([display_width(header) + 3] + [display_width(shown(v, kind)) + 1 for v in values])  # + the filter button
    return float(min(max(w, 6), 60))


def write_sheet(sheets: Sheets, name: str, table: Any, kinds: dict[str, str], headers: list[str],
                colours: dict[str, tuple[str, str]] | None = None) -> Any:
    """A table as a sheet: header row frozen (with the first column), autofilter, widths, formats."""
    if table.num_rows > XLSX_MAX_ROWS:
        raise DataError(f"{table.num_rows} rows do not fit in one Excel sheet (max {XLSX_MAX_ROWS}); "
                        f"write .parquet or .csv instead")
    ws = sheets.wb.add_worksheet(name)
    columns = table.column_names
    sample = table.slice(0, WIDTH_SAMPLE).to_pydict() if table.num_rows else {c: [] for c in columns}
    fmts = []
    for j, c in enumerate(columns):
        kind = kinds.get(c, "text")
        fmts.append(sheets.fmt(kind))
        ws.set_column(j, j, width_for(headers[j], sample[c], kind))
    ws.freeze_panes(1, 1 if len(columns) > 1 else 0)
    ws.autofilter(0, 0, max(table.num_rows, 1), max(len(columns) - 1, 0))
    ws.set_row(0, None, sheets.header)
    for j, h in enumerate(headers):
        ws.write_string(0, j, text_cell(h), sheets.header)
    tier_fmt = {t: sheets.add({"bg_color": bg, "font_color": fg}) for t, (bg, fg) in (colours or {}).items()}
    tier_cols = {j for j, c in enumerate(columns) if kinds.get(c) == "tier"}
    r = 1
    for batch in clean_table(table).to_batches(50_000):
        cols = [c.to_pylist() for c in batch.columns]
        for values in zip(*cols):
            for j, v in enumerate(values):
                write_value(ws, r, j, v, tier_fmt.get(v) if j in tier_cols else fmts[j], True)  # cleaned above
            r += 1
    return ws


def write_table_workbook(table: Any, path: Path, kinds: dict[str, str] | None = None,
                         headers: list[str] | None = None, sheet: str = "ratings") -> None:
    """Any table (history, changes, a few ratings) as one sheet of a workbook."""
    sheets = Sheets(path, big=table.num_rows > 50_000)
    write_sheet(sheets, sheet, table, kinds or {}, headers or list(table.column_names))
    sheets.wb.close()


def write_ratings_workbook(outcome: Any, path: Path, language: Language) -> None:
    """A run's ratings, summary and data quality (see the module's docstring). Read from the run's
    result and summary: nothing is recomputed."""
    plan: P.Plan = outcome.plan
    w = WORDS[language]
    table = outcome.table
    if table.num_rows > XLSX_MAX_ROWS:
        raise DataError(f"{table.num_rows} rows do not fit in one Excel sheet (max {XLSX_MAX_ROWS}); "
                        f"write .parquet or .csv instead")
    columns = table.column_names
    sheets = Sheets(path, big=table.num_rows > 50_000)
    colours = tier_colours([t.name for t in plan.tiers])
    write_sheet(sheets, w["ratings"], table, column_kinds(plan, columns), header_names(plan, columns, language),
                colours)
    write_summary(sheets, outcome, w, colours)
    write_quality(sheets, outcome, w)
    sheets.wb.close()


def run_facts(outcome: Any, w: dict[str, str]) -> list[tuple[str, Any]]:
    plan = outcome.plan
    facts = [(w["ruleset"], plan.name), (w["version"], plan.version), (w["as_of"], outcome.as_of),
             (w["rated"], outcome.rows)]
    if getattr(outcome, "run_id", ""):
        facts.append((w["run"], outcome.run_id))
    return facts


def write_summary(sheets: Sheets, outcome: Any, w: dict[str, str], colours: dict[str, tuple[str, str]]) -> None:
    """The run's tier distribution (outcome.distribution: Summary's TierCounts) and a column chart of it."""
    ws = sheets.wb.add_worksheet(w["summary"])
    ws.set_landscape()
    ws.fit_to_pages(1, 1)  # printed: the table and the chart on one page
    pct = sheets.fmt("rate")
    count = sheets.fmt("count")
    r = 0
    for label, value in run_facts(outcome, w):
        ws.write_string(r, 0, label, sheets.bold)
        write_value(ws, r, 1, value, sheets.fmt("date") if isinstance(value, date) else None)
        r += 1
    r += 1
    ws.write_string(r, 0, w["distribution"], sheets.title)
    r += 1
    head = [w["tier"], w["label"], w["customers"], w["share"], w["expect_lo"], w["expect_hi"], w["within"]]
    for j, h in enumerate(head):
        ws.write_string(r, j, h, sheets.header)
    first = r + 1
    fills = {t: sheets.add({"bg_color": bg, "font_color": fg}) for t, (bg, fg) in colours.items()}
    out_of_band = sheets.add({"font_color": "#9C0006", "bold": True})
    for t in outcome.distribution:
        r += 1
        ws.write_string(r, 0, text_cell(t.tier if t.tier is not None else "—"), fills.get(t.tier))
        ws.write_string(r, 1, text_cell(t.label or ""))
        ws.write_number(r, 2, t.count, count)
        ws.write_number(r, 3, clean(t.share), pct)
        if t.expect is not None:
            ws.write_number(r, 4, clean(t.expect[0]), pct)
            ws.write_number(r, 5, clean(t.expect[1]), pct)
        if t.within is not None:
            ws.write_string(r, 6, w["yes"] if t.within else w["no"], None if t.within else out_of_band)
    last = r
    widths = [10, 18, 10, 10, 14, 14, 14]
    ws.set_column(0, 0, max(widths[0], max([display_width(lb) + 2 for lb, _ in run_facts(outcome, w)], default=0)))
    for j, wd in enumerate(widths[1:], start=1):
        ws.set_column(j, j, max(wd, display_width(head[j]) + 2))
    if last < first:
        return
    name = w["summary"]
    chart = sheets.wb.add_chart({"type": "column"})
    chart.add_series({"name": w["share"], "categories": [name, first, 0, last, 0],
                      "values": [name, first, 3, last, 3], "fill": {"color": "#4472C4"},
                      "data_labels": {"value": True, "num_format": "0.0%"}})
    bounds = sheets.wb.add_chart({"type": "line"})
    for col, key, colour in ((4, "expect_lo", "#70AD47"), (5, "expect_hi", "#C00000")):
        bounds.add_series({"name": w[key], "categories": [name, first, 0, last, 0],
                           "values": [name, first, col, last, col], "line": {"none": True},
                           "marker": {"type": "dash", "size": 12, "fill": {"color": colour},
                                      "border": {"color": colour}}})
    chart.combine(bounds)
    chart.set_title({"name": w["distribution"]})
    chart.set_y_axis({"num_format": "0%", "min": 0})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 640, "height": 360})
    ws.insert_chart(1, 8, chart)


def missing_policy_text(m: P.MissingRule) -> str:
    return f"missing -> {m.policy}" + (f" {clean(m.points):g}" if m.points is not None else "")


def write_quality(sheets: Sheets, outcome: Any, w: dict[str, str]) -> None:
    """Missing values per indicator and how they were scored, the data problems, the warnings."""
    ws = sheets.wb.add_worksheet(w["quality"])
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    pct, count = sheets.fmt("rate"), sheets.fmt("count")
    plan = outcome.plan
    r = 0
    ws.write_string(r, 0, w["missing_title"], sheets.title)
    r += 1
    for j, h in enumerate([w["indicator"], w["missing"], w["share"], w["scored"]]):
        ws.write_string(r, j, h, sheets.header)
    for ind in plan.indicators:
        r += 1
        n = int(outcome.missing_counts.get(ind.name, 0))
        ws.write_string(r, 0, text_cell(ind.name))
        ws.write_number(r, 1, n, count)
        ws.write_number(r, 2, clean(n / outcome.rows) if outcome.rows else 0, pct)
        ws.write_string(r, 3, missing_policy_text(ind.missing))
    r += 2
    ws.write_string(r, 0, w["issues_title"], sheets.title)
    r += 1
    for j, h in enumerate([w["problem"], w["where"], w["count"], w["samples"]]):
        ws.write_string(r, j, h, sheets.header)
    if not outcome.issues:
        r += 1
        ws.write_string(r, 0, w["none"])
    for issue in outcome.issues:
        r += 1
        ws.write_string(r, 0, text_cell(issue.what))
        ws.write_string(r, 1, text_cell(issue.where))
        ws.write_number(r, 2, issue.count, count)
        ws.write_string(r, 3, text_cell("; ".join(issue.samples[:5])))
    r += 2
    ws.write_string(r, 0, w["warnings_title"], sheets.title)
    for text in outcome.warnings or [w["none"]]:
        r += 1
        ws.write_string(r, 0, text_cell(text))
    widest = max([display_width(i.name) for i in plan.indicators] + [display_width(i.what) for i in outcome.issues]
                 + [12])
    ws.set_column(0, 0, min(widest + 2, 70))
    ws.set_column(1, 1, max(18, min(40, max([display_width(i.where) for i in outcome.issues] + [0]) + 2)))
    ws.set_column(2, 2, 12)
    ws.set_column(3, 3, 50)
