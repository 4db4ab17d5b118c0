"""A plain-Python reference evaluator of the whole .tier language, written from docs/language.md.

It never calls engine code. A ruleset is a "card" (plain dicts and tuples, built by the generators in
test_language_vs_reference.py) that renders to .tier text (`rule_text`) and is evaluated here customer by
customer (`evaluate`). Arithmetic is exact (fractions); only the z-score's σ is a float. So a value exactly
on a cut in exact arithmetic is on it, whatever floating point makes of it, and the engine has to agree.

Semantics, as the language defines them:
- a number compared with a number literal counts as equal to it within 1e-9·max(1, |literal|), and two
  computed numbers within 1e-9·max(1, |right-hand side|) of each other are equal;
- a missing value equals nothing (`==`, `in` false; `!=`, `not in` true); order comparisons with a missing
  value are unknown, and logic is three-valued (unknown and false is false, unknown or true is true, not
  unknown is unknown); a condition that ends unknown is false;
- `a / 0` is missing; `min`/`max` are missing when an argument is; `coalesce` takes the first present value;
- bands: first match wins, `a..b` is a <= x < b, `else` catches every present value, a missing value
  matches no band;
- normalizers are fitted on the present values of the population;
- weighted scoring: weights re-spread over the present items when missing values are excluded;
  additive: base + Σ points, caps on indicators, dimensions and the total; missing stays missing under a cap;
- tiers: first match; `top P%` takes the first ⌊P·n⌋ by score and their ties, `top N` the first N and ties,
  ranked over all customers with a score; `otherwise` only for customers with a score.
"""
from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction as F
from typing import Any

from dateutil.relativedelta import relativedelta

EPS = F(1, 10**9)


def tol(c: Any) -> Any:
    return EPS * max(1, abs(F(c)))


# ---- rendering ------------------------------------------------------------------------------------

def num(x: Any, percent: bool = False) -> str:
    x = F(x)
    if percent:
        return num(x * 100) + "%"
    if x.denominator == 1:
        return str(x.numerator)
    return format(Decimal(x.numerator) / Decimal(x.denominator), "f").rstrip("0")


def lit_text(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    return num(v[0], v[1]) if isinstance(v, tuple) else num(v)


def lit_value(v: Any) -> Any:
    return v[0] if isinstance(v, tuple) else v


def render(e: tuple) -> str:
    k = e[0]
    if k == "col":
        return f"c.{e[1]}"
    if k == "lit":
        return lit_text(e[1])
    if k == "arith":
        return f"({render(e[2])} {e[1]} {render(e[3])})"
    if k == "fn":
        return f"{e[1]}({', '.join(render(a) for a in e[2])})"
    if k == "agg":
        _, func, arg, where = e
        inner = "o" if arg is None else f"o.{arg}"
        return f"{func}({inner}{' where ' + render(where) if where is not None else ''})"
    if k == "rcol":
        return f"o.{e[1]}"
    if k == "within":
        return f"o.dt within {e[1]} {e[2]}"
    if k in ("measure", "points", "dimension", "label"):
        return e[1]
    if k == "value":
        return f"value({e[1]})"
    if k == "score":
        return "score"
    if k == "pop":
        _, func, arg, q = e
        return f"{func}({render(arg)}{', ' + num(q, True) if func == 'percentile' else ''})"
    if k == "cmp":
        return f"({render(e[2])} {e[1]} {render(e[3])})"
    if k == "in":
        return f"({render(e[1])} {'not in' if e[3] else 'in'} ({', '.join(lit_text(v) for v in e[2])}))"
    if k == "between":
        return f"({render(e[1])} between {lit_text(e[2])} and {lit_text(e[3])})"
    if k in ("and", "or"):
        return f"({render(e[1])} {k} {render(e[2])})"
    if k == "not":
        return f"(not {render(e[1])})"
    raise ValueError(e)


def policy_text(p: tuple) -> str:
    return f"points {num(p[1])}" if p[0] == "points" else p[0]


def band_text(b: tuple) -> str:
    op, vals, pts = b
    if op == "range":
        return f"{lit_text(vals[0])}..{lit_text(vals[1])} -> {num(pts)}"
    if op == "else":
        return f"else -> {num(pts)}"
    if op == "in":
        return f"in ({', '.join(lit_text(v) for v in vals)}) -> {num(pts)}"
    return f"{op} {lit_text(vals[0])} -> {num(pts)}"


def indicator_text(card: dict, ind: dict, indent: str) -> list[str]:
    head = f"{indent}indicator {ind['name']} = {render(ind['expr'])}"
    if card["scoring"] == "weighted":
        head += f" weight {ind['weight']}%"
    if ind.get("cap") is not None:
        head += f" cap {num(ind['cap'])}"
    if ind.get("missing"):
        head += f" missing -> {policy_text(ind['missing'])}"
    kind = ind["kind"]
    if kind == "bands":
        return [head + " {", *[f"{indent}  {band_text(b)}" for b in ind["bands"]], f"{indent}}}"]
    if kind == "pass":
        return [head]
    opts = []
    if ind.get("reverse"):
        opts.append("reverse: true")
    if ind.get("ties", "low") != "low":
        opts.append(f"ties: {ind['ties']}")
    return [head + f" scale {kind}" + (f"({', '.join(opts)})" if opts else "")]


def rule_text(card: dict) -> str:
    lines = ['source c = csv("c.csv") key id']
    if card["uses_orders"]:
        lines.append('source o = csv("o.csv") key id')
    lines.append(f"points {num(card['lo'])}..{num(card['hi'])}")
    if card["scoring"] == "additive":
        lines.append(f"scoring additive base {num(card['base'])}")
        if card.get("total_cap") is not None:
            lines.append(f"cap {num(card['total_cap'])}")
    elif card.get("score_hi") is not None:
        lines.append(f"score 0..{num(card['score_hi'])}")
    lines.append(f"missing -> {policy_text(card['missing'])}")
    for name, e in card["measures"].items():
        lines.append(f"measure {name} = {render(e)}")
    for item in card["items"]:
        if item["type"] == "dimension":
            head = f"dimension {item['name']}"
            if card["scoring"] == "weighted":
                head += f" weight {item['weight']}%"
            if item.get("cap") is not None:
                head += f" cap {num(item['cap'])}"
            lines.append(head + " {")
            for ind in item["indicators"]:
                lines += indicator_text(card, ind, "  ")
            lines.append("}")
        else:
            lines += indicator_text(card, item, "")
    for t in card["tiers"]:
        if t[0] == "when":
            lines.append(f"tier {t[1]} when {render(t[2])}")
        elif t[0] == "top":
            lines.append(f"tier {t[1]} top {num(t[2], t[3])}")
        else:
            lines.append(f"tier {t[1]} otherwise")
    for name, cond in card["labels"].items():
        lines.append(f"label {name} when {render(cond)}")
    for name, cases in card["segments"].items():
        lines.append(f"segment {name} {{")
        lines += [f"  {v} when {render(c)}" if c is not None else f"  {v} otherwise" for v, c in cases]
        lines.append("}")
    return "\n".join(lines) + "\n"


def indicators(card: dict) -> list[dict]:
    out = []
    for item in card["items"]:
        out += item["indicators"] if item["type"] == "dimension" else [item]
    return out


# ---- three-valued logic and comparisons -----------------------------------------------------------

def and3(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def or3(a: Any, b: Any) -> Any:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def not3(a: Any) -> Any:
    return None if a is None else not a


def cmp_const(op: str, x: Any, c: Any) -> Any:
    """``x op c`` for a number literal ``c``: within the tolerance of ``c`` is on it."""
    c = F(c)
    if op in ("==", "!="):
        eq = x is not None and abs(x - c) <= tol(c)
        return eq if op == "==" else not eq
    if x is None:
        return None
    t = tol(c)
    return {">=": x >= c - t, ">": x > c + t, "<=": x <= c + t, "<": x < c - t}[op]


def cmp_values(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for two computed values (no literal): numbers within 1e-9·max(1, |b|) are equal; other
    values exactly."""
    if isinstance(a, (int, float, F)) and isinstance(b, (int, float, F)) and not isinstance(a, bool) and not isinstance(b, bool):
        t = tol(b)
        if op in ("==", "!="):
            eq = abs(a - b) <= t
            return eq if op == "==" else not eq
        return {">=": a >= b - t, ">": a > b + t, "<=": a <= b + t, "<": a < b - t}[op]
    if op in ("==", "!="):
        eq = a is not None and b is not None and a == b
        return eq if op == "==" else not eq
    if a is None or b is None:
        return None
    return {">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b}[op]


FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}


def within(d: date | None, amount: int, unit: str, as_of: date) -> Any:
    if d is None:
        return None
    start = {"days": as_of - timedelta(days=amount), "weeks": as_of - timedelta(weeks=amount),
             "months": as_of - relativedelta(months=amount), "years": as_of - relativedelta(years=amount)}[unit]
    return start <= d <= as_of


def quantile(values: list, q: Any) -> Any:
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * F(q)
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# ---- evaluation ---------------------------------------------------------------------------------------

class Customer:
    def __init__(self, row: dict, orders: list[dict]):
        self.row = row
        self.orders = orders
        self.measures: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self.points: dict[str, Any] = {}
        self.dims: dict[str, Any] = {}
        self.score: Any = None
        self.labels: dict[str, bool] = {}
        self.bands: dict[str, Any] = {}  # indicator -> index of the matched band
        self.weights: dict[str, Any] = {}  # indicator or dimension -> effective weight (weighted scoring)
        self.no_score_reason: Any = None
        self.tier: Any = None
        self.segments: dict[str, Any] = {}


class Reference:
    def __init__(self, card: dict, rows: list[dict], orders: list[dict], as_of: date):
        self.card = card
        self.as_of = as_of
        self.customers = [Customer(r, [o for o in orders if o["id"] == r["id"]]) for r in rows]
        self.pops: dict[str, Any] = {}

    # expressions
    def ev(self, e: tuple, c: Customer, row: dict | None = None) -> Any:
        k = e[0]
        if k == "col":
            return c.row[e[1]]
        if k == "rcol":
            return row[e[1]]  # type: ignore[index]
        if k == "lit":
            return lit_value(e[1])
        if k == "arith":
            a, b = self.ev(e[2], c, row), self.ev(e[3], c, row)
            if a is None or b is None:
                return None
            if e[1] == "/":
                return None if b == 0 else a / b
            return {"+": a + b, "-": a - b, "*": a * b}[e[1]]
        if k == "fn":
            args = [self.ev(a, c, row) for a in e[2]]
            if e[1] == "coalesce":
                return next((a for a in args if a is not None), None)
            if any(a is None for a in args):
                return None
            return {"min": min, "max": max, "abs": lambda x: abs(x)}[e[1]](*args)
        if k == "agg":
            return self.aggregate(e, c)
        if k == "within":
            return within(row["dt"], e[1], e[2], self.as_of)  # type: ignore[index]
        if k == "measure":
            return c.measures[e[1]]
        if k == "value":
            return c.values[e[1]]
        if k == "points":
            return c.points[e[1]]
        if k == "dimension":
            return c.dims[e[1]]
        if k == "score":
            return c.score
        if k == "label":
            return c.labels[e[1]]
        if k == "pop":
            return self.population(e)
        if k == "cmp":
            op, left, right = e[1], e[2], e[3]
            if right == ("lit", ""):  # an empty text cell is missing: x == "" asks "is x blank?"
                x = self.ev(left, c, row)
                return (x is None or x == "") if op == "==" else not (x is None or x == "")
            if right[0] == "lit" and not isinstance(right[1], str):
                return cmp_const(op, self.ev(left, c, row), lit_value(right[1]))
            if left[0] == "lit" and not isinstance(left[1], str):
                return cmp_const(FLIP[op], self.ev(right, c, row), lit_value(left[1]))
            return cmp_values(op, self.ev(left, c, row), self.ev(right, c, row))
        if k == "in":
            x = self.ev(e[1], c, row)
            if all(isinstance(v, str) for v in e[2]):
                hit = x is not None and x in e[2]
            else:
                hit = any(cmp_const("==", x, lit_value(v)) for v in e[2])
            return (not hit) if e[3] else hit
        if k == "between":
            x = self.ev(e[1], c, row)
            return and3(cmp_const(">=", x, lit_value(e[2])), cmp_const("<=", x, lit_value(e[3])))
        if k == "and":
            return and3(self.ev(e[1], c, row), self.ev(e[2], c, row))
        if k == "or":
            return or3(self.ev(e[1], c, row), self.ev(e[2], c, row))
        if k == "not":
            return not3(self.ev(e[1], c, row))
        raise ValueError(e)

    def aggregate(self, e: tuple, c: Customer) -> Any:
        _, func, arg, where = e
        rows = [r for r in c.orders if where is None or self.ev(where, c, r) is True]
        if arg is None:  # count(o)
            return F(len(rows))
        values = [r[arg] for r in rows if r[arg] is not None]
        if func == "count":
            return F(len(values))
        if func == "count_distinct":
            return F(len(set(values)))
        if func == "sum":
            return sum(values, F(0))
        if not values:
            return None
        return {"avg": lambda v: sum(v, F(0)) / len(v), "min": min, "max": max}[func](values)

    def population(self, e: tuple) -> Any:
        key = render(e)
        if key not in self.pops:
            _, func, arg, q = e
            values = [v for v in (self.ev(arg, c) for c in self.customers) if v is not None]
            if func == "mean":
                self.pops[key] = sum(values, F(0)) / len(values) if values else None
            elif func == "median":
                self.pops[key] = quantile(values, F(1, 2))
            else:
                self.pops[key] = quantile(values, q)
        return self.pops[key]

    # scoring
    def policy(self, ind: dict) -> tuple:
        return ind.get("missing") or self.card["missing"]

    def band_points(self, bands: list, x: Any) -> Any:
        match = self.band_match(bands, x)
        return None if match is None else F(bands[match][2])

    def band_match(self, bands: list, x: Any) -> int | None:
        """The 0-based index of the band that scores ``x`` (first match), None: missing or no band matches."""
        if x is None:
            return None
        for index, (op, vals, pts) in enumerate(bands):
            if op == "else":
                return index
            if op == "range":
                hit = and3(cmp_const(">=", x, lit_value(vals[0])), cmp_const("<", x, lit_value(vals[1])))
            elif op == "in":
                hit = (x in vals) if isinstance(x, str) else any(cmp_const("==", x, lit_value(v)) for v in vals)
            elif isinstance(x, str):
                hit = (x == vals[0]) if op == "==" else (x != vals[0])
            else:
                hit = cmp_const(op, x, lit_value(vals[0]))
            if hit is True:
                return index
        return None

    def normalize(self, ind: dict, values: list) -> list:
        lo, hi = F(self.card["lo"]), F(self.card["hi"])
        present = [v for v in values if v is not None]
        n = len(present)
        kind, ties = ind["kind"], ind.get("ties", "low")
        out = []
        for x in values:
            if x is None:
                out.append(None)
                continue
            if kind == "minmax":
                mn, mx = min(present), max(present)
                p: Any = (lo + hi) / 2 if mx == mn else lo + (x - mn) / (mx - mn) * (hi - lo)
            elif kind == "zscore":
                mean = sum(present, F(0)) / n
                sd = math.sqrt(sum((v - mean) ** 2 for v in present) / n)
                if sd == 0:
                    p = (lo + hi) / 2
                else:
                    z = max(-3.0, min(3.0, float(x - mean) / sd))
                    p = float(lo) + (z + 3) / 6 * float(hi - lo)
            else:
                below = sum(v < x for v in present) if ties == "low" else sum(v <= x for v in present) - 1
                if kind == "percentile":
                    p = (lo + hi) / 2 if n <= 1 else lo + F(below, n - 1) * (hi - lo)
                else:  # quintile
                    q = 1 + (5 * below) // n
                    p = lo + F(q - 1, 4) * (hi - lo)
            out.append(lo + hi - p if ind.get("reverse") else p)
        return out

    def combine(self, items: list[tuple[Any, Any, bool]]) -> Any:
        """Weighted mean of (points, weight, excludable); missing excludable items re-spread their weight."""
        if any(p is None and not ex for p, _, ex in items):
            return None
        present = [(p, w) for p, w, _ in items if p is not None]
        den = sum((w for _, w in present), F(0))
        if den <= 0:
            return None
        return sum((p * w for p, w in present), F(0)) / den

    def capped(self, x: Any, cap: Any) -> Any:
        return x if x is None or cap is None or not x > cap else F(cap)

    def evaluate(self) -> list[Customer]:
        card, cs = self.card, self.customers
        for name, e in card["measures"].items():
            for c in cs:
                c.measures[name] = self.ev(e, c)
        inds = indicators(card)
        for ind in inds:
            for c in cs:
                c.values[ind["name"]] = self.ev(ind["expr"], c)
        for ind in inds:
            values = [c.values[ind["name"]] for c in cs]
            if ind["kind"] == "bands":
                pts = [self.band_points(ind["bands"], v) for v in values]
            elif ind["kind"] == "pass":
                pts = values
            else:
                pts = self.normalize(ind, values)
            policy = self.policy(ind)
            for c in cs:
                c.bands[ind["name"]] = (self.band_match(ind["bands"], c.values[ind["name"]])
                                        if ind["kind"] == "bands" else None)
            for c, p in zip(cs, pts):
                p = self.capped(p, ind.get("cap"))
                if p is None and policy[0] == "points":
                    p = F(policy[1])
                c.points[ind["name"]] = p
        for c in cs:
            self.score_customer(c)
            if card["scoring"] == "weighted":
                self.effective_weights(c)
            self.why_no_score(c)
        for name, cond in card["labels"].items():
            for c in cs:
                c.labels[name] = self.ev(cond, c) is True
        self.tiers()
        for name, cases in card["segments"].items():
            for c in cs:
                c.segments[name] = next((v for v, cond in cases if cond is None or self.ev(cond, c) is True), None)
        return cs

    def score_customer(self, c: Customer) -> None:
        card = self.card
        additive = card["scoring"] == "additive"
        items = []
        for item in card["items"]:
            if item["type"] == "dimension":
                members = item["indicators"]
                excl = any(self.policy(i)[0] == "exclude" for i in members)
                if additive:
                    parts = [c.points[i["name"]] for i in members]
                    parts = [F(0) if p is None and self.policy(i)[0] == "exclude" else p
                             for p, i in zip(parts, members)]
                    d = None if any(p is None for p in parts) else self.capped(sum(parts, F(0)), item.get("cap"))
                else:
                    d = self.combine([(c.points[i["name"]], F(i["weight"], 100), self.policy(i)[0] == "exclude")
                                      for i in members])
                c.dims[item["name"]] = d
                items.append((d, F(item.get("weight") or 0, 100), excl))
            else:
                items.append((c.points[item["name"]], F(item.get("weight") or 0, 100),
                              self.policy(item)[0] == "exclude"))
        if additive:
            parts = [F(0) if p is None and ex else p for p, _, ex in items]
            score = None if any(p is None for p in parts) else self.capped(card["base"] + sum(parts, F(0)),
                                                                           card.get("total_cap"))
        else:
            composite = self.combine(items)
            score = composite
            if composite is not None and card.get("score_hi") is not None:
                score = composite / card["hi"] * card["score_hi"]
        if any(self.policy(i)[0] == "error" and c.points[i["name"]] is None for i in indicators(card)):
            score = None
        c.score = score

    def effective_weights(self, c: Customer) -> None:
        """Each item's share of the composite: its weight over the weight of the present items at its level
        (an indicator missing under `exclude` is absent and carries 0; a dimension is absent when all of it
        is); an indicator's share is its dimension's share × its share inside the dimension."""
        def present(ind: dict) -> bool:
            return self.policy(ind)[0] != "exclude" or c.points[ind["name"]] is not None

        def shares(items: list[tuple[str, Any, bool]]) -> dict[str, Any]:
            den = sum((w for _, w, here in items if here), F(0))
            return {n: (w / den if here and den > 0 else F(0)) for n, w, here in items}

        top = []
        inner: dict[str, Any] = {}
        for item in self.card["items"]:
            if item["type"] == "dimension":
                members = [(i["name"], F(i["weight"], 100), present(i)) for i in item["indicators"]]
                inner.update(shares(members))
                top.append((item["name"], F(item["weight"], 100), any(here for _, _, here in members)))
            else:
                top.append((item["name"], F(item["weight"], 100), present(item)))
        top_shares = shares(top)
        c.weights.update(top_shares)
        for item in self.card["items"]:
            if item["type"] == "dimension":
                for i in item["indicators"]:
                    c.weights[i["name"]] = top_shares[item["name"]] * inner[i["name"]]

    def why_no_score(self, c: Customer) -> None:
        """For a customer without a score: the `missing -> error` indicators without points, else "excluded"."""
        if c.score is not None:
            c.no_score_reason = None
            return
        parts = []
        for ind in indicators(self.card):
            name = ind["name"]
            if self.policy(ind)[0] == "error" and c.points[name] is None:
                parts.append(f"{name} is missing" if c.values[name] is None else
                             f"{name} matched no band" if ind["kind"] == "bands" else f"{name} has no points")
        c.no_score_reason = (", ".join(parts) + " (missing -> error)") if parts else "every indicator is missing (missing -> exclude)"

    def tiers(self) -> None:
        scored = [c.score for c in self.customers if c.score is not None]
        n = len(scored)
        for c in self.customers:
            c.tier = None
            for t in self.card["tiers"]:
                if t[0] == "when":
                    hit = self.ev(t[2], c) is True
                elif t[0] == "top":
                    limit = math.floor(F(t[2]) * n) if t[3] else t[2]
                    hit = c.score is not None and sum(s > c.score for s in scored) < limit
                else:
                    hit = c.score is not None
                if hit:
                    c.tier = t[1]
                    break
