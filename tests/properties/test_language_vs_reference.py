"""Property test: random rulesets over the whole language × random data, the engine against the
plain-Python reference in language_reference.py (which never calls engine code).

Each generated ruleset mixes weighted or additive scoring (base, caps on indicators, dimensions and the
total, negative points), bands of every kind on numbers and text (with cuts that floating-point sums like
0.1·x + 0.2·y land on exactly), normalizers, missing policies globally and per indicator, measures,
per-customer aggregates with `where` and `within`, population aggregates, `min`/`max`/`coalesce`/`abs`
given missing values, `==`/`!=`/`in`/`between` on numbers and text, when/top/otherwise tiers, labels and
segments. Every customer's indicator values and points, dimension scores, score, tier, labels, segments
and missing flags are compared.
"""
from __future__ import annotations

import os
from datetime import date, timedelta
from fractions import Fraction as F

import ibis
import pyarrow as pa
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from language_reference import Reference, indicators, rule_text

from tierwise.engine.backends.duckdb import DuckDBBackend
from tierwise.engine.build import compile_text
from tierwise.engine.columns import all_columns
from tierwise.engine.fetch import fetch_rows
from tierwise.engine.plugin_manager import default_registry
from tierwise.engine.run import check_data, evaluate, fit

REGISTRY = default_registry()
EXAMPLES = int(os.environ.get("TIERWISE_LANGUAGE_EXAMPLES", "40"))  # more for a long search: 2000
AS_OF = date(2026, 6, 30)
NUM_COLS = ["x0", "x1", "x2"]
CONSTS = [F(v) for v in ("-5", "0", "0.1", "0.3", "0.5", "0.6", "1", "2.5", "3", "7.5", "10", "50", "100")]
TEXTS = ["A", "B", "C"]
FACTORS = [F(v) for v in ("0.1", "0.2", "0.3", "0.6", "0.7")]
# a·f + b·g for small whole a, b: floating point misses some by an ulp (3·0.7 = 2.0999999999999996)
NOISY = sorted({a * f + b * g for a in range(4) for b in range(3) for f in FACTORS[:3] for g in FACTORS[3:]} - {F(0)})


# ---- expressions -------------------------------------------------------------------------------------

def lit(draw, pool=CONSTS):
    v = draw(st.sampled_from(pool))
    percent = v != 0 and abs(v) < 1 and (v * 100).denominator == 1 and draw(st.booleans())
    return ("lit", (v, True) if percent else v)


@st.composite
def row_condition(draw):
    kind = draw(st.sampled_from(["paid", "amt", "within", "and", "not"]))
    if kind == "paid":
        return ("cmp", draw(st.sampled_from(["==", "!="])), ("rcol", "st"), ("lit", "paid"))
    if kind == "amt":
        return ("cmp", draw(st.sampled_from([">=", ">", "<", "=="])), ("rcol", "amt"), lit(draw, [F(0), F(10), F(25)]))
    if kind == "within":
        return ("within", *draw(st.sampled_from([(6, "months"), (1, "years"), (90, "days"), (2, "weeks")])))
    if kind == "not":
        return ("not", draw(row_condition()))
    return ("and", draw(row_condition()), draw(row_condition()))


@st.composite
def aggregate(draw, dyadic=False):
    func = draw(st.sampled_from(["sum", "count", "min", "max"] if dyadic
                                else ["sum", "count", "avg", "min", "max", "count_distinct"]))
    arg = None if func == "count" and draw(st.booleans()) else ("st" if func == "count_distinct" else "amt")
    where = draw(st.none() | row_condition())
    return ("agg", func, arg, where)


@st.composite
def number(draw, card, depth=2, dyadic=False):
    """A number expression over the customer's columns, aggregates and measures."""
    leaves = ["col", "col", "k"] if not dyadic else ["k"]
    if card["uses_orders"]:
        leaves.append("agg")
    measures = [m for m, d in card["dyadic"].items() if d or not dyadic]
    if measures:
        leaves.append("measure")
    kinds = leaves + (["noisy", "arith", "fn", "div"] if depth > 0 and not dyadic else
                      ["arith"] if depth > 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "col":
        return ("col", draw(st.sampled_from(NUM_COLS)))
    if kind == "k":
        return ("col", "k")
    if kind == "agg":
        return draw(aggregate(dyadic))
    if kind == "measure":
        return ("measure", draw(st.sampled_from(measures)))
    if kind == "noisy":  # f·x + g·y: exact cuts that floating point misses by an ulp
        a, b = draw(st.sampled_from(NUM_COLS)), draw(st.sampled_from(NUM_COLS))
        f, g = draw(st.sampled_from(FACTORS[:3])), draw(st.sampled_from(FACTORS[3:]))
        return ("arith", "+", ("arith", "*", ("col", a), ("lit", f)), ("arith", "*", ("col", b), ("lit", g)))
    if kind == "div":
        return ("arith", "/", draw(number(card, depth - 1)), draw(number(card, 0)))
    if kind == "arith":
        op = draw(st.sampled_from(["+", "-", "*"]))
        right = draw(number(card, depth - 1, dyadic)) if draw(st.booleans()) else (
            ("lit", F(draw(st.integers(-3, 5)))) if dyadic else lit(draw))
        return ("arith", op, draw(number(card, depth - 1, dyadic)), right)
    fn = draw(st.sampled_from(["min", "max", "coalesce", "abs"]))
    if fn == "abs":
        return ("fn", "abs", (draw(number(card, depth - 1)),))
    args = [draw(number(card, depth - 1)) for _ in range(draw(st.integers(1, 2)))]
    if fn == "coalesce" or draw(st.booleans()):
        args.append(lit(draw))
    if len(args) < 2:
        args.append(draw(number(card, 0)))
    return ("fn", fn, tuple(args))


def numeric_refs(card, done_labels):
    refs = [("points", i["name"]) for i in card["_inds"]]
    refs += [("value", i["name"]) for i in card["_inds"] if i["type_"] == "number"]
    refs += [("dimension", d["name"]) for d in card["items"] if d["type"] == "dimension"]
    refs += [("score",)] + [("measure", m) for m in card["measures"]]
    return refs


@st.composite
def condition(draw, card, labels=(), depth=2, score=True):
    kinds = ["num", "num", "text", "in", "between"]
    if labels:
        kinds.append("label")
    if any(card["dyadic"].values()):
        kinds.append("pop")
    exact = [i["name"] for i in card["_inds"] if i["kind"] == "bands"]
    if len(exact) >= 2:
        kinds.append("points")
    if depth > 0:
        kinds += ["and", "or", "not"]
    kind = draw(st.sampled_from(kinds))
    refs = [r for r in numeric_refs(card, labels) if score or r != ("score",)]
    if kind == "num":
        x = draw(st.sampled_from(refs))
        op = draw(st.sampled_from([">=", ">", "<=", "<", "==", "!="]))
        c = lit(draw, CONSTS + NOISY[::3] + [F(card["lo"]), F(card["hi"])])
        return ("cmp", op, c, x) if draw(st.integers(0, 3)) == 0 else ("cmp", op, x, c)
    if kind == "text":
        op = draw(st.sampled_from(["==", "!="]))
        return ("cmp", op, ("col", "t"), ("lit", draw(st.sampled_from(TEXTS + [""]))))
    if kind == "in":
        if draw(st.booleans()):
            items = tuple(draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=2, unique=True)))
            return ("in", ("col", "t"), items, draw(st.booleans()))
        items = tuple(lit_value_list(draw))
        return ("in", draw(st.sampled_from(refs)), items, draw(st.booleans()))
    if kind == "between":
        a, b = sorted(draw(st.lists(st.sampled_from(CONSTS), min_size=2, max_size=2)))
        return ("between", draw(st.sampled_from(refs)), a, b)
    if kind == "label":
        return ("label", draw(st.sampled_from(list(labels))))
    if kind == "pop":
        m = draw(st.sampled_from([m for m, d in card["dyadic"].items() if d]))
        func = draw(st.sampled_from(["mean", "median", "percentile"]))
        q = draw(st.sampled_from([F(1, 4), F(1, 2), F(3, 4)]))
        return ("cmp", draw(st.sampled_from([">=", ">", "<=", "<"])), ("measure", m), ("pop", func, ("measure", m), q))
    if kind == "points":
        a, b = draw(st.lists(st.sampled_from(exact), min_size=2, max_size=2, unique=True))
        return ("cmp", draw(st.sampled_from([">=", ">", "<"])), ("points", a), ("points", b))  # == : see the report
    if kind == "not":
        return ("not", draw(condition(card, labels, depth - 1, score)))
    return (kind, draw(condition(card, labels, depth - 1, score)), draw(condition(card, labels, depth - 1, score)))


def lit_value_list(draw):
    vals = draw(st.lists(st.sampled_from(CONSTS + NOISY), min_size=1, max_size=3, unique=True))
    return [(v, True) if 0 < abs(v) < 1 and draw(st.booleans()) else v for v in vals]


# ---- scorecards ----------------------------------------------------------------------------------------

def split_100(draw, k):
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=k - 1, max_size=k - 1, unique=True)))
    return [b - a for a, b in zip([0, *cuts], [*cuts, 100])]


def policies(card):
    points = st.integers(card["lo"], min(card["hi"], card["lo"] + 5)).map(F)
    return st.one_of(st.tuples(st.just("points"), points), st.just(("exclude",)), st.just(("error",)))


@st.composite
def number_bands(draw, card):
    pts = st.integers(card["lo"], card["hi"])
    cuts = CONSTS + [F(-1, 4), F(5, 4)] + draw(st.lists(st.sampled_from(NOISY), max_size=3))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from([">=", ">", "<=", "<", "==", "!=", "in", "range"]))
        if op == "range":
            a, b = sorted(draw(st.lists(st.sampled_from(cuts), min_size=2, max_size=2, unique=True)))
            out.append(("range", (a, b), draw(pts)))
        elif op == "in":
            out.append(("in", tuple(lit_value_list(draw)), draw(pts)))
        else:
            out.append((op, (lit(draw, cuts)[1],), draw(pts)))
    if draw(st.booleans()):
        out.append(("else", (), draw(pts)))
    return out


@st.composite
def text_bands(draw, card):
    pts = st.integers(card["lo"], card["hi"])
    out = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["==", "!=", "in"]))
        if op == "in":
            out.append(("in", tuple(draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=2, unique=True))),
                        draw(pts)))
        else:
            out.append((op, (draw(st.sampled_from(TEXTS)),), draw(pts)))
    if draw(st.booleans()):
        out.append(("else", (), draw(pts)))
    return out


@st.composite
def indicator(draw, card, name, weight):
    additive = card["scoring"] == "additive"
    kind = "pass" if card["pass_only"] else draw(
        st.sampled_from(["bands", "bands", "text", "pass", "minmax", "zscore", "percentile", "quintile"]))
    ind = {"type": "indicator", "name": name, "weight": weight}
    if kind == "text":
        ind.update(kind="bands", expr=("col", "t"), type_="string", bands=draw(text_bands(card)))
    else:
        ind.update(kind=kind, expr=draw(number(card)), type_="number")
        if kind == "bands":
            ind["bands"] = draw(number_bands(card))
        elif kind == "pass":
            ind["expr"] = draw(st.sampled_from([("col", "p"), ("fn", "coalesce", (("col", "p"), ("lit", F(card["lo"])))),
                                                ("fn", "min", (("col", "p"), ("col", "x0")))]))
        elif kind != "pass":
            ind["reverse"] = draw(st.booleans())
            if kind in ("percentile", "quintile"):
                ind["ties"] = draw(st.sampled_from(["low", "high"]))
    if draw(st.integers(0, 2)) == 0:
        ind["missing"] = draw(policies(card))
    if additive and draw(st.integers(0, 2)) == 0:
        ind["cap"] = F(draw(st.integers(card["lo"], card["hi"])))
    return ind


@st.composite
def cards(draw):
    scoring = draw(st.sampled_from(["weighted", "weighted", "additive"]))
    if scoring == "additive":
        lo, hi = draw(st.sampled_from([(-20, 40), (-5, 10), (0, 20)]))
    else:
        lo, hi = draw(st.sampled_from([(1, 10), (0, 10), (1, 5), (0, 100)]))
    card = {"scoring": scoring, "lo": lo, "hi": hi, "uses_orders": draw(st.booleans()),
            "measures": {}, "dyadic": {}, "items": [], "_inds": [],
            "tiers": [], "labels": {}, "segments": {},
            # every indicator passes c.p through: the score is p exactly, so on a cut for p = 7.5 say,
            # whatever floating point makes of the weighted sum
            "pass_only": draw(st.integers(0, 4)) == 0}
    card["missing"] = draw(policies(card))
    if scoring == "additive":
        card["base"] = F(draw(st.sampled_from([0, 10, 600, -5])))
        card["total_cap"] = draw(st.none() | st.integers(0, 60).map(lambda v: card["base"] + v))
    else:
        card["score_hi"] = draw(st.sampled_from([None, 100]))
    for m in range(draw(st.integers(0, 2))):
        dyadic = draw(st.booleans())
        card["measures"][f"M{m}"] = draw(number(card, 1, dyadic))
        card["dyadic"][f"M{m}"] = dyadic
    k = 0
    n_items = draw(st.integers(1, 3))
    for it, w in enumerate(split_100(draw, n_items)):
        if draw(st.booleans()):
            dim = {"type": "dimension", "name": f"D{it}", "weight": w, "indicators": []}
            if scoring == "additive" and draw(st.booleans()):
                dim["cap"] = F(draw(st.integers(0, 2 * hi)))
            for iw in split_100(draw, draw(st.integers(1, 3))):
                dim["indicators"].append(draw(indicator(card, f"i{k}", iw)))
                k += 1
            card["items"].append(dim)
        else:
            card["items"].append(draw(indicator(card, f"i{k}", w)))
            k += 1
    card["_inds"] = indicators(card)
    for n in range(draw(st.integers(0, 3))):
        card["labels"][f"L{n}"] = draw(condition(card, tuple(card["labels"])))
    card["tiers"] = draw(tiers(card))
    for s in range(draw(st.integers(0, 2))):
        cases = [(f"s{s}c{j}", draw(condition(card, tuple(card["labels"]))))
                 for j in range(draw(st.integers(1, 3)))]
        if draw(st.booleans()):
            cases.append((f"s{s}other", None))
        card["segments"][f"S{s}"] = cases
    return card


@st.composite
def tiers(draw, card):
    if card["scoring"] == "additive":
        cuts = [card["base"] + d for d in (-10, 0, 5, 10, 20, 40)]
    else:
        top = card.get("score_hi") or card["hi"]
        cuts = [F(top) * F(p, 100) for p in (90, 75, 60, 50, 25)]
        cuts += [p / card["hi"] * top if card.get("score_hi") else p for p in pass_values(card)]
    out = []
    for j in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "cut", "when", "top%", "top"]))
        if kind == "cut":
            out.append(("when", f"T{j}", ("cmp", draw(st.sampled_from([">=", ">"])), ("score",),
                                          ("lit", draw(st.sampled_from(cuts))))))
        elif kind == "when":
            out.append(("when", f"T{j}", draw(condition(card, tuple(card["labels"]), 1))))
        elif kind == "top%":
            out.append(("top", f"T{j}", F(draw(st.sampled_from([10, 25, 50])), 100), True))
        else:
            out.append(("top", f"T{j}", draw(st.integers(1, 3)), False))
    if draw(st.booleans()):
        out.append(("otherwise", "Tz"))
    return out


def pass_values(card):
    return sorted({F(card["lo"]), F(card["hi"]), F(card["lo"] + card["hi"], 2), F(15, 2), F(3, 10)})


# ---- data ---------------------------------------------------------------------------------------------

@st.composite
def data(draw, card):
    n = draw(st.integers(1, 14))
    number_ = st.one_of(st.none(), st.sampled_from(CONSTS), st.integers(-10, 120).map(F), st.integers(0, 3).map(F),
                        st.integers(-20, 20).map(lambda v: F(v, 4)))
    p_values = st.one_of(st.none(), st.sampled_from(pass_values(card)))
    rows = []
    for i in range(n):
        row = {"id": f"k{i:03d}", "k": draw(st.none() | st.integers(-3, 9).map(F)),
               "t": draw(st.none() | st.sampled_from(TEXTS)), "p": draw(p_values)}
        for col in NUM_COLS:
            row[col] = draw(number_)
        rows.append(row)
    orders = []
    if card["uses_orders"]:
        day = st.one_of(st.integers(-10, 400).map(lambda d: AS_OF - timedelta(days=d)),
                        st.sampled_from([AS_OF, AS_OF - relativedelta(months=6), AS_OF - relativedelta(years=1),
                                         AS_OF - timedelta(days=90), AS_OF - timedelta(days=14),
                                         AS_OF - timedelta(days=91), AS_OF + timedelta(days=1)]))
        for row in rows:
            for _ in range(draw(st.integers(0, 3))):
                orders.append({"id": row["id"], "amt": draw(st.none() | st.integers(-4, 80).map(lambda v: F(v, 2))),
                               "st": draw(st.none() | st.sampled_from(["paid", "refund"])),
                               "dt": draw(st.none() | day)})
    return rows, orders


# ---- the engine -----------------------------------------------------------------------------------------

def floats(values):
    return pa.array([None if v is None else float(v) for v in values], pa.float64())


def engine(card, rows, orders):
    text = rule_text(card)
    plan, diags, _ = compile_text(text, "gen.tier", REGISTRY)
    assert plan is not None, diags.format() + "\n" + text
    con = ibis.duckdb.connect()
    cols = {"id": pa.array([r["id"] for r in rows]), "t": pa.array([r["t"] for r in rows], pa.string())}
    for name in [*NUM_COLS, "k", "p"]:
        cols[name] = floats(r[name] for r in rows)
    tables = {"c": con.create_table("c", pa.table(cols))}
    if card["uses_orders"]:
        tables["o"] = con.create_table("o", pa.table({
            "id": pa.array([o["id"] for o in orders], pa.string()), "amt": floats(o["amt"] for o in orders),
            "st": pa.array([o["st"] for o in orders], pa.string()),
            "dt": pa.array([o["dt"] for o in orders], pa.date32())}))
    # the steps of evaluate_plan, asking for every column: the explanation columns too
    backend = DuckDBBackend(con)
    quality = check_data(plan, tables, backend)
    calibration = fit(plan, tables, AS_OF, backend, registry=REGISTRY, keys=quality.keys)
    ev = evaluate(plan, tables, AS_OF, calibration, registry=REGISTRY, backend=backend, keys=quality.keys,
                  columns=all_columns(plan))
    result = backend.materialise(ev.table, "result")
    return {r["id"]: r for r in fetch_rows(result)}


def same_number(got, want, what):
    if want is None:
        assert got is None, what
    else:
        assert got == pytest.approx(float(want), rel=1e-9, abs=1e-7), what


def check(card, rows, orders):
    got = engine(card, rows, orders)
    expected = Reference(card, rows, orders, AS_OF).evaluate()
    assert set(got) == {r["id"] for r in rows}
    text = rule_text(card)
    weighted = card["scoring"] == "weighted"
    for c in expected:
        row = got[c.row["id"]]
        ctx = f"customer {c.row} orders {c.orders}\n{text}"
        for ind in card["_inds"]:
            name = ind["name"]
            if ind["type_"] == "string":
                assert row[name] == c.values[name], (name, ctx)
            else:
                same_number(row[name], c.values[name], (name, ctx))
            same_number(row[f"{name}.points"], c.points[name], (f"{name}.points", ctx))
            assert row[f"{name}.band"] == c.bands[name], (f"{name}.band", ctx)  # the explanation columns
            if weighted:
                same_number(row[f"{name}.weight"], c.weights[name], (f"{name}.weight", ctx))
        for dim, value in c.dims.items():
            same_number(row[dim], value, (dim, ctx))
            if weighted:
                same_number(row[f"{dim}.weight"], c.weights[dim], (f"{dim}.weight", ctx))
        assert row["no_score_reason"] == c.no_score_reason, ("no_score_reason", ctx)
        same_number(row["score"], c.score, ("score", ctx))
        assert row["tier"] == c.tier, ("tier", row["score"], ctx)
        if card["labels"]:
            assert set(filter(None, (row["labels"] or "").split(","))) == {n for n, v in c.labels.items() if v}, \
                ("labels", ctx)
        for seg, value in c.segments.items():
            assert row[seg] == value, (seg, ctx)
        flagged = {i["name"] for i in card["_inds"] if c.values[i["name"]] is None or c.points[i["name"]] is None}
        assert set(filter(None, row["missing"].split(","))) == flagged, ("missing", ctx)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                HealthCheck.filter_too_much])
@given(st.data())
def test_whole_language_matches_the_reference(d):
    card = d.draw(cards())
    rows, orders = d.draw(data(card))
    check(card, rows, orders)


@st.composite
def noisy_cards(draw):
    """Indicators f·x + g·y scored by bands (every kind) cutting where a·f + b·g lands, labels comparing
    the values with such cuts, and tiers on a score that sits on a cut: what floating point misses by an ulp."""
    card = {"scoring": "weighted", "lo": 0, "hi": 10, "uses_orders": False, "missing": ("points", F(0)),
            "measures": {}, "dyadic": {}, "items": [], "tiers": [], "labels": {}, "segments": {},
            "score_hi": 100, "pass_only": False}
    weights = split_100(draw, draw(st.integers(1, 3)))
    for k, w in enumerate(weights):
        f, g = draw(st.sampled_from(FACTORS[:3])), draw(st.sampled_from(FACTORS[3:]))
        expr = ("arith", "+", ("arith", "*", ("col", "x0"), ("lit", f)), ("arith", "*", ("col", "x1"), ("lit", g)))
        cuts = sorted({a * f + b * g for a in range(4) for b in range(3)})
        bands = []
        for _ in range(draw(st.integers(1, 3))):
            op = draw(st.sampled_from([">=", ">", "<=", "<", "==", "!=", "in", "range"]))
            if op == "range":
                a, b = sorted(draw(st.lists(st.sampled_from(cuts), min_size=2, max_size=2, unique=True)))
                bands.append(("range", (a, b), draw(st.integers(0, 10))))
            elif op == "in":
                bands.append(("in", tuple(draw(st.lists(st.sampled_from(cuts), min_size=1, max_size=3, unique=True))),
                              draw(st.integers(0, 10))))
            else:
                bands.append((op, (draw(st.sampled_from(cuts)),), draw(st.integers(0, 10))))
        card["items"].append({"type": "indicator", "name": f"i{k}", "weight": w, "kind": "bands", "expr": expr,
                              "type_": "number", "bands": bands})
        op = draw(st.sampled_from([">=", ">", "<=", "<", "==", "!="]))
        card["labels"][f"L{k}"] = (("in", ("value", f"i{k}"), tuple(draw(st.lists(st.sampled_from(cuts), min_size=1,
                                                                                  max_size=2))), draw(st.booleans()))
                                   if draw(st.booleans()) else ("cmp", op, ("value", f"i{k}"), ("lit", draw(st.sampled_from(cuts)))))
    card["_inds"] = indicators(card)
    # points p·10 on 0..100 is p·10 exactly when every indicator scores p: on a cut at 10·p
    card["tiers"] = [("when", f"T{j}", ("cmp", draw(st.sampled_from([">=", ">"])), ("score",), ("lit", F(c))))
                     for j, c in enumerate(sorted(draw(st.lists(st.integers(0, 10), min_size=1, max_size=3,
                                                                unique=True)), reverse=True))]
    card["tiers"] = [(t[0], t[1], ("cmp", t[2][1], t[2][2], ("lit", t[2][3][1] * 10))) for t in card["tiers"]]
    card["tiers"].append(("otherwise", "Tz"))
    return card


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_cuts_that_floating_point_misses_by_an_ulp_match_the_reference(d):
    card = d.draw(noisy_cards())
    n = d.draw(st.integers(1, 12))
    small = st.none() | st.integers(0, 3).map(F)
    rows = [{"id": f"k{i:03d}", "k": None, "t": None, "p": None, "x0": d.draw(small), "x1": d.draw(small),
             "x2": None} for i in range(n)]
    check(card, rows, [])
