"""One customer's scorecard as the rating form the practice fills in (客户关系评级表), with formulas.

Read from engine.explain's Scorecard (never recomputed in Python): the customer at the top, then
each dimension with its weight and each indicator's value, the rule that scored it, its points, its
weight and its weighted score, the dimension subtotals, the total, the tier and its label. The
cells are formulas over the points cells, so the sheet recomputes when a business user edits a
points cell (each formula's cached value is the engine's number, so a viewer that does not
recalculate shows the engine's result):

* weighted: weighted score = points × weight (the indicator's weight inside its dimension, after
  `missing -> exclude` re-spread it); subtotal = the sum of its weighted scores (the dimension's
  score on the points scale); contribution = subtotal × dimension weight × (score max / points max);
  total = the sum of the contributions;
* additive: subtotal = the points summed (at most the dimension's cap); total = base + subtotals
  (at most the total cap);
* tier: the tiers' `score >= c` cuts (each with the engine's 1e-9 tolerance) as nested IFs over the
  cuts table on the sheet (edit a cut and the tier follows); the label looked up beside it. A tier
  rule that is not a score cut (a quota, another condition) is written as the engine's value.

The final tier (overrides, trigger effects) is the engine's value: it is not a formula.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from . import plan as P
from .explain import Scorecard
from .headers import WORDS, Language
from .numbers import clean
from .workbook import Sheets, display_width, text_cell, tier_colours, write_value

COLS = "ABCDEFGHI"  # dimension, dimension weight, indicator, value, rule, points, weight, weighted, contribution


def cell(col: str, row: int, absolute: bool = False) -> str:
    """An A1 reference of a 0-based row."""
    return f"${col}${row + 1}" if absolute else f"{col}{row + 1}"


def score_cuts(plan: P.Plan) -> list[tuple[str, str, float]] | None:
    """(tier, op, cut) of each tier before `otherwise` when every one is `score OP number` (OP: >=, >,
    <=, <); None when a tier rule is something else (then the tier is not a formula)."""
    out: list[tuple[str, str, float]] = []
    for t in plan.tiers:
        if t.rule == "otherwise":
            return out
        c = t.condition
        if t.rule != "when" or not (isinstance(c, P.Cmp) and c.left == P.Ref("score") and isinstance(c.right, P.Lit)
                                    and c.op in (">=", ">", "<=", "<") and isinstance(c.right.value, (int, float))):
            return None
        out.append((t.name, c.op, float(c.right.value)))
    return out


def cut_test(score: str, op: str, cut: str) -> str:
    """``score OP cut`` with the engine's tolerance (a value within 1e-9 relative of a cut is on it)."""
    tol = f"1E-9*MAX(1,ABS({cut}))"
    return {">=": f"{score}>={cut}-{tol}", ">": f"{score}>{cut}+{tol}",
            "<=": f"{score}<={cut}+{tol}", "<": f"{score}<{cut}-{tol}"}[op]


def write_scorecard_workbook(plan: P.Plan, card: Scorecard, path: Path, language: Language) -> None:
    w = WORDS[language]
    sheets = Sheets(path)
    wb = sheets.wb
    ws = wb.add_worksheet(w["scorecard"])
    border = {"border": 1, "valign": "vcenter"}
    box = wb.add_format(border)
    box_wrap = wb.add_format({**border, "text_wrap": True})
    box_pct = wb.add_format({**border, "num_format": "0.0%"})
    box_two = wb.add_format({**border, "num_format": "0.00"})
    box_money = wb.add_format({**border, "num_format": "#,##0.00"})
    editable = wb.add_format({**border, "num_format": "0.00", "bg_color": "#FFF2CC", "locked": False})
    sub_fmt = wb.add_format({**border, "bold": True, "num_format": "0.00", "bg_color": "#F2F2F2"})
    sub_text = wb.add_format({**border, "bold": True, "bg_color": "#F2F2F2"})
    dim_fmt = wb.add_format({**border, "bold": True, "text_wrap": True, "align": "center"})
    dim_pct = wb.add_format({**border, "bold": True, "num_format": "0.0%", "align": "center"})
    big = wb.add_format({"bold": True, "font_size": 12, "num_format": "0.00", "border": 1})
    big_text = wb.add_format({"bold": True, "font_size": 12, "border": 1})
    title = wb.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})

    additive = card.additive
    scale = (plan.score_range[1] / plan.points_range[1]) if plan.score_range and not additive else 1.0
    ws.merge_range(0, 0, 0, len(COLS) - 1, w["form"], title)
    ws.set_row(0, 28)
    r = 2
    info: list[tuple[str, Any]] = [(card.key_column, card.key), (w["as_of"], card.as_of),
                                   (w["ruleset"], " ".join(filter(None, [plan.name, plan.version])))]
    info += [(name, value if value is not None else "—") for name, value in card.segments]
    if plan.labels:
        info.append((w["labels"], ",".join(card.labels) or "—"))
    for label, value in info:
        ws.write_string(r, 0, text_cell(label), sheets.bold)
        write_value(ws, r, 2, value, sheets.fmt("date") if isinstance(value, date) else None)
        r += 1
    scale_row = r
    ws.write_string(r, 0, w["scale"], sheets.bold)
    ws.write_number(r, 2, clean(scale))
    r += 2

    head = [w["dimension"], w["dim_weight"], w["indicator"], w["value"], w["rule"], w["points"],
            w["weight"], w["weighted"], w["contribution"]]
    if additive:
        head[1] = head[6] = ""
    for j, h in enumerate(head):
        ws.write_string(r, j, h, sheets.header)
    ws.freeze_panes(r + 1, 0)
    r += 1

    scale_ref = cell("C", scale_row, True)
    contributions: list[str] = []  # the cells that add up to the total
    required: list[str] = []  # points cells of `missing -> error` indicators: blank means no score
    errors = {i.name for i in plan.indicators if i.missing.policy == "error"}
    lines = card.lines
    i = 0
    base_cell = None
    while i < len(lines):
        line = lines[i]
        if line.kind == "base":
            ws.write_string(r, 0, "base", sub_text)
            ws.write_string(r, 4, text_cell(line.rule), box)
            ws.write_number(r, 8, clean(line.contribution or 0.0), sub_fmt)
            base_cell = cell("I", r)
            r += 1
            i += 1
            continue
        if line.kind == "cap" and line.dimension is None:  # additive: the total cap, in the total formula
            i += 1
            continue
        dim = line.dimension
        group = []
        while i < len(lines) and lines[i].dimension == dim and lines[i].kind == "indicator":
            group.append(lines[i])
            i += 1
        if dim is None:  # indicators standing alone: their own contribution each
            for ln in group:
                _indicator_row(ws, r, ln, None, scale_ref, additive, box, box_wrap, box_two, box_pct, box_money,
                               editable, plan)
                contributions.append(cell("I", r))
                if ln.name in errors:
                    required.append(cell("F", r))
                r += 1
            continue
        # the dimension's cap line (additive) and subtotal line follow its indicators
        cap_line = None
        while i < len(lines) and lines[i].dimension == dim and lines[i].kind == "cap":
            cap_line = lines[i]
            i += 1
        sub = lines[i] if i < len(lines) and lines[i].kind == "subtotal" and lines[i].dimension == dim else None
        if sub is not None:
            i += 1
        first, last = r, r + len(group) - 1
        sub_row = last + 1
        weight_ref = cell("B", first, True)
        if len(group) > 1:
            ws.merge_range(first, 0, last, 0, text_cell(dim), dim_fmt)
            if not additive:
                ws.merge_range(first, 1, last, 1, None, dim_pct)
        else:
            ws.write_string(first, 0, text_cell(dim), dim_fmt)
        if not additive:
            ws.write_number(first, 1, clean(sub.weight if sub is not None and sub.weight is not None else 0.0), dim_pct)
        for ln in group:
            _indicator_row(ws, r, ln, weight_ref, scale_ref, additive, box, box_wrap, box_two, box_pct, box_money,
                           editable, plan)
            if ln.name in errors:
                required.append(cell("F", r))
            r += 1
        ws.write_string(sub_row, 0, "", sub_text)
        ws.write_string(sub_row, 2, f"{dim} {w['subtotal']}", sub_text)
        for j in (1, 3, 4, 5, 6):
            ws.write_blank(sub_row, j, None, sub_text)
        points_sum = f"SUM({cell('H', first)}:{cell('H', last)})"
        dim_plan = next((d for d in plan.dimensions if d.name == dim), None)
        if additive:
            cap = dim_plan.cap if dim_plan is not None else None
            sub_formula = f"MIN({points_sum},{clean(cap)!r})" if cap is not None else points_sum
            if cap_line is not None:
                ws.write_string(sub_row, 4, text_cell(cap_line.rule), sub_text)
            ws.write_formula(sub_row, 7, "=" + sub_formula, sub_fmt, _num(sub.points if sub else None))
            ws.write_formula(sub_row, 8, f"={cell('H', sub_row)}", sub_fmt, _num(sub.contribution if sub else None))
        else:
            ws.write_formula(sub_row, 7, "=" + points_sum, sub_fmt, _num(sub.points if sub else None))
            ws.write_formula(sub_row, 8, f"={cell('H', sub_row)}*{weight_ref}*{scale_ref}", sub_fmt,
                             _num(sub.contribution if sub else None))
        contributions.append(cell("I", sub_row))
        r = sub_row + 1

    # the total, the tier and its label
    r += 1
    total_row = r
    parts = ([base_cell] if base_cell else []) + contributions
    total = "+".join(parts) if parts else "0"
    if additive and plan.total_cap is not None:
        total = f"MIN({total},{clean(plan.total_cap)!r})"
    if required:
        total = f'IF(OR({",".join(f"ISBLANK({c})" for c in required)}),"",{total})'
    ws.merge_range(r, 0, r, 7, w["total"], big_text)
    ws.write_formula(r, 8, "=" + total, big, "" if card.score is None else clean(card.score))
    total_ref = cell("I", total_row, True)
    r += 1
    tier_row = r
    cuts = score_cuts(plan)
    cut_rows: dict[str, int] = {}
    table_row = tier_row + 7  # under the tier, its label, the final tier and the notes
    for k, t in enumerate(plan.tiers):
        cut_rows[t.name] = table_row + 1 + k
    colours = tier_colours([t.name for t in plan.tiers])
    tier_fmt = wb.add_format({"bold": True, "font_size": 12, "border": 1, "align": "center"})
    ws.merge_range(r, 0, r, 7, w["tier"], big_text)
    if cuts is not None:
        otherwise = next((t.name for t in plan.tiers if t.rule == "otherwise"), None)
        expr = f'"{otherwise}"' if otherwise else '""'
        for name, op, _ in reversed(cuts):
            expr = f'IF({cut_test(total_ref, op, cell("C", cut_rows[name], True))},"{name}",{expr})'
        ws.write_formula(r, 8, f'=IF({total_ref}="","",{expr})', tier_fmt, card.tier or "")
    else:
        ws.write_string(r, 8, text_cell(card.tier or ""), tier_fmt)
    for name, (bg, fg) in colours.items():  # the tier cell coloured by whatever tier it shows
        ws.conditional_format(r, 8, r, 8, {"type": "cell", "criteria": "==", "value": f'"{name}"',
                                           "format": wb.add_format({"bg_color": bg, "font_color": fg})})
    tier_ref = cell("I", tier_row, True)
    r += 1
    first_cut, last_cut = table_row + 1, table_row + len(plan.tiers)
    ws.merge_range(r, 0, r, 7, w["tier_label"], big_text)
    ws.write_formula(r, 8, f'=IFERROR(VLOOKUP({tier_ref},{cell("A", first_cut, True)}:{cell("B", last_cut, True)},'
                           f'2,FALSE),"")', big_text, card.tier_label or "")
    r += 1
    ws.merge_range(r, 0, r, 7, w["final_tier"], big_text)
    ws.write_string(r, 8, text_cell(card.final_tier or ""), big_text)
    r += 1
    if card.next_tier:
        r += 1
        ws.write_string(r, 0, text_cell(card.next_tier))
    if card.no_score_reason:
        ws.write_string(r + 1, 0, text_cell(card.no_score_reason))

    # the tiers and their cuts: the tier formula reads them
    r = table_row
    ws.write_string(r, 0, w["tier"], sheets.header)
    ws.write_string(r, 1, w["label"], sheets.header)
    ws.write_string(r, 2, w["from_score"], sheets.header)
    ws.write_string(r, 3, w["cuts"], sheets.header)
    cut_of = {name: (op, c) for name, op, c in cuts or []}
    for t in plan.tiers:
        r += 1
        bg, fg = colours[t.name]
        ws.write_string(r, 0, text_cell(t.name), wb.add_format({"bg_color": bg, "font_color": fg, "border": 1}))
        ws.write_string(r, 1, text_cell(t.label or ""), box)
        if t.name in cut_of:
            ws.write_number(r, 2, clean(cut_of[t.name][1]), box_two)
            ws.write_string(r, 3, f"score {cut_of[t.name][0]} {clean(cut_of[t.name][1]):g}", box)
        else:
            ws.write_blank(r, 2, None, box)
            ws.write_string(r, 3, "otherwise" if t.rule == "otherwise" else
                            (f"top {t.top_text}" if t.rule == "top" else "when …"), box)
    r += 2
    ws.write_string(r, 0, w["note"])

    widths = [14, 10, 18, 16, 34, 10, 10, 12, 14]
    for j, wd in enumerate(widths):
        longest = max([display_width(str(x)) for x in _column_texts(card, j)] + [display_width(head[j]) + 2])
        ws.set_column(j, j, min(max(wd, longest + 2), 50))
    ws.hide_gridlines(2)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    wb.close()


def _column_texts(card: Scorecard, j: int) -> list[str]:
    if j == 0:
        return [ln.dimension or "" for ln in card.lines]
    if j == 2:
        return [ln.name for ln in card.lines if ln.kind == "indicator"] + \
            [f"{ln.dimension} 小计" for ln in card.lines if ln.kind == "subtotal"]
    if j == 4:
        return [ln.rule[:60] for ln in card.lines]
    return []


def _num(x: Any) -> Any:
    return "" if x is None else clean(float(x))


def _indicator_row(ws: Any, r: int, ln: Any, weight_ref: str | None, scale_ref: str, additive: bool, box: Any,
                   box_wrap: Any, box_two: Any, box_pct: Any, box_money: Any, editable: Any, plan: P.Plan) -> None:
    from .workbook import indicator_kind

    kind = indicator_kind(plan, plan.indicator(ln.name))
    vfmt = {"rate": box_pct, "money": box_money}.get(kind, box)
    if weight_ref is None:  # standing alone
        ws.write_blank(r, 0, None, box)
        ws.write_blank(r, 1, None, box)
    ws.write_string(r, 2, text_cell(ln.name), box)
    if ln.value is None:
        ws.write_string(r, 3, "—", box)
    else:
        write_value(ws, r, 3, ln.value, vfmt)
    ws.write_string(r, 4, text_cell(ln.rule), box_wrap)
    if ln.points is None:
        ws.write_blank(r, 5, None, editable)
    else:
        ws.write_number(r, 5, clean(float(ln.points)), editable)
    if additive:
        ws.write_blank(r, 6, None, box)
        ws.write_formula(r, 7, f"={cell('F', r)}", box_two, _num(ln.points or 0.0))
        ws.write_formula(r, 8, f"={cell('H', r)}", box_two, _num(ln.points or 0.0))
        return
    ws.write_number(r, 6, clean(ln.weight or 0.0), box_pct)
    weighted = (ln.points or 0.0) * (ln.weight or 0.0)  # a blank points cell counts 0, as in the formula
    ws.write_formula(r, 7, f"={cell('F', r)}*{cell('G', r)}", box_two, _num(weighted))
    if weight_ref is None:  # its weight is its share of the score
        ws.write_formula(r, 8, f"={cell('H', r)}*{scale_ref}", box_two, _num(ln.contribution or 0.0))
    else:
        ws.write_formula(r, 8, f"={cell('H', r)}*{weight_ref}*{scale_ref}", box_two, _num(ln.contribution or 0.0))
