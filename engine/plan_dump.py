"""A stable, readable dump of a Plan (for golden files and for reading what a ruleset compiles to).

JSON with the Plan's fields in declaration order; expressions as one line of prefix-free text with each
column's type (``(c.年交易额:number >= 5000000)``); spans as ``LINE:COL-LINE:COL``; the dependency graph
and the declaration spans keyed ``"kind name"``, sorted. The text hash is left out (it changes with every
comment).
"""
from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from typing import Any

from ..dsl.ast import Span
from . import plan as P

SKIP = {"text_hash"}


def fmt_number(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def expr_text(e: P.Expr | None) -> str | None:
    """An expression as one line of text."""
    if e is None:
        return None
    t = expr_text
    if isinstance(e, P.Lit):
        if e.value is None:
            return "null"
        if e.type == "string":
            return json.dumps(e.value, ensure_ascii=False)
        if e.percent:
            return f"{fmt_number(round(e.value * 100, 12))}%"
        return fmt_number(e.value)
    if isinstance(e, P.Col):
        return f"{e.source}.{e.column}:{e.type}"
    if isinstance(e, P.RowCol):
        return f"row {e.source}.{e.column}:{e.type}"
    if isinstance(e, P.Ref):
        return f"{e.kind}({e.name})" if e.name else e.kind
    if isinstance(e, P.Agg):
        arg = t(e.arg) if e.arg is not None else f"rows of {e.source}"
        where = f" where {t(e.where)}" if e.where is not None else ""
        return f"{e.func}[{e.id} per customer over {e.source}]({arg}{where})"
    if isinstance(e, P.PopAgg):
        q = f", {fmt_number(e.q)}" if e.q is not None else ""
        return f"{e.func}[{e.id} over the population]({t(e.arg)}{q})"
    if isinstance(e, P.Func):
        return f"{e.name}({', '.join(t(a) or '' for a in e.args)})"
    if isinstance(e, (P.Arith, P.Cmp, P.Logic)):
        return f"({t(e.left)} {e.op} {t(e.right)})"
    if isinstance(e, P.Neg):
        return f"-{t(e.operand)}"
    if isinstance(e, P.Not):
        return f"not {t(e.operand)}"
    if isinstance(e, P.InList):
        return f"({t(e.operand)} {'not in' if e.negated else 'in'} [{', '.join(t(i) or '' for i in e.items)}])"
    if isinstance(e, P.Between):
        return f"({t(e.operand)} between {t(e.low)} and {t(e.high)})"
    if isinstance(e, P.Within):
        return f"({t(e.operand)} within {fmt_number(e.amount)} {e.unit})"
    if isinstance(e, P.Change):
        return f"change({e.indicator})"
    raise TypeError(f"no text for {type(e).__name__}")  # pragma: no cover


def _span(s: Span) -> str:
    return f"{s.line}:{s.column}-{s.end_line}:{s.end_column}"


def _key(k: Any) -> str:
    return " ".join(x for x in k if x) if isinstance(k, tuple) else str(k)


def to_data(v: Any) -> Any:
    """JSON-ready data of a plan (or any part of one)."""
    if isinstance(v, P.EXPR_TYPES):
        return expr_text(v)
    if isinstance(v, Span):
        return _span(v)
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: to_data(getattr(v, f.name)) for f in fields(v) if f.name not in SKIP}
    if hasattr(v, "model_dump"):  # plugin options (pydantic)
        return v.model_dump(mode="json")
    if isinstance(v, dict):
        items = [(_key(k), to_data(x)) for k, x in v.items()]
        if any(isinstance(k, tuple) for k in v):
            items.sort()
        return dict(items)
    if isinstance(v, (frozenset, set)):
        return sorted(_key(x) for x in v)
    if isinstance(v, (list, tuple)):
        return [to_data(x) for x in v]
    if isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < 1e16 else v
    return v


def dump(plan: P.Plan) -> str:
    """The plan as indented JSON text, ending with a newline."""
    return json.dumps(to_data(plan), ensure_ascii=False, indent=1) + "\n"
