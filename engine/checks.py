"""Scorecard checks on the Plan: bands, weights, tiers, rules that never fire.

Pure functions: each reads only the Plan (and the spans it carries) and fills a Diagnostics.
"""
from __future__ import annotations

import bisect
import math
from typing import Iterable, Sequence

from ..dsl.diagnostics import Diagnostics
from . import plan as P

INF = math.inf
EPS = 1e-9

# An interval is (low, low_included, high, high_included).
Interval = tuple[float, bool, float, bool]
ALL: Interval = (-INF, False, INF, False)


def _nonempty(iv: Interval) -> bool:
    lo, li, hi, hj = iv
    return lo < hi or (lo == hi and li and hj)


def _intersect(a: Interval, b: Interval) -> Interval:
    if a[0] > b[0]:
        lo, li = a[0], a[1]
    elif b[0] > a[0]:
        lo, li = b[0], b[1]
    else:
        lo, li = a[0], a[1] and b[1]
    if a[2] < b[2]:
        hi, hj = a[2], a[3]
    elif b[2] < a[2]:
        hi, hj = b[2], b[3]
    else:
        hi, hj = a[2], a[3] and b[3]
    return (lo, li, hi, hj)


def _subtract(a: Interval, b: Interval) -> list[Interval]:
    left = _intersect(a, (-INF, False, b[0], not b[1]))
    right = _intersect(a, (b[2], not b[3], INF, False))
    return [iv for iv in (left, right) if _nonempty(iv)]


def difference(pieces: Iterable[Interval], remove: Iterable[Interval]) -> list[Interval]:
    """The parts of ``pieces`` outside ``remove`` (for a few intervals; IntervalSet for many)."""
    out = list(pieces)
    for r in remove:
        out = [p for piece in out for p in _subtract(piece, r)]
    return out


def _joins(a: Interval, b: Interval) -> bool:
    """Whether a ∪ b is one interval (a overlaps b, or they meet at a point one of them includes)."""
    if _nonempty(_intersect(a, b)):
        return True
    return (a[2] == b[0] and (a[3] or b[1])) or (b[2] == a[0] and (b[3] or a[1]))


def _contains(a: Interval, b: Interval) -> bool:
    low = a[0] < b[0] or (a[0] == b[0] and (a[1] or not b[1]))
    high = a[2] > b[2] or (a[2] == b[2] and (a[3] or not b[3]))
    return low and high


class IntervalSet:
    """A union of intervals kept as sorted, disjoint, merged pieces: adding one and asking whether one is
    covered take a binary search (checking n bands costs n log n, not n²)."""

    def __init__(self, items: Iterable[Interval] = ()) -> None:
        self.pieces: list[Interval] = []
        self._lows: list[float] = []
        self._highs: list[float] = []
        for iv in items:
            self.add(iv)

    def add(self, iv: Interval) -> None:
        if not _nonempty(iv):
            return
        i = bisect.bisect_left(self._highs, iv[0])  # pieces before i end below iv: they cannot join it
        j = bisect.bisect_right(self._lows, iv[2])  # pieces from j on start above iv
        if i < j and not _joins(self.pieces[i], iv) and self.pieces[i][2] <= iv[0]:
            i += 1  # it ends where iv starts, each leaving that point out
        if i < j and not _joins(self.pieces[j - 1], iv):
            j -= 1
        lo, li, hi, hj = iv
        for p in self.pieces[i:j]:
            if p[0] < lo or (p[0] == lo and p[1]):
                lo, li = p[0], p[1] or (p[0] == lo and li)
            if p[2] > hi or (p[2] == hi and p[3]):
                hi, hj = p[2], p[3] or (p[2] == hi and hj)
        merged = (lo, li, hi, hj)
        self.pieces[i:j] = [merged]
        self._lows[i:j] = [lo]
        self._highs[i:j] = [hi]

    def covers(self, iv: Interval) -> bool:
        """Whether every value of ``iv`` is in the set."""
        if not _nonempty(iv):
            return True
        k = bisect.bisect_right(self._lows, iv[0]) - 1
        return k >= 0 and _contains(self.pieces[k], iv)

    def gaps(self) -> list[Interval]:
        """The values outside the set, in order."""
        out: list[Interval] = []
        lo, li = -INF, False
        for p in self.pieces:
            gap = (lo, li, p[0], not p[1])
            if _nonempty(gap):
                out.append(gap)
            lo, li = p[2], not p[3]
        if _nonempty((lo, li, INF, False)):
            out.append((lo, li, INF, False))
        return out


def band_intervals(band: P.BandRule) -> list[Interval] | None:
    """The numbers a band matches; None for text bands."""
    vals = list(band.values)
    if any(isinstance(v, str) for v in vals):
        return None
    op = band.op
    if op == ">=":
        return [(vals[0], True, INF, False)]
    if op == ">":
        return [(vals[0], False, INF, False)]
    if op == "<=":
        return [(-INF, False, vals[0], True)]
    if op == "<":
        return [(-INF, False, vals[0], False)]
    if op in ("==", "in"):
        return [(v, True, v, True) for v in vals]
    if op == "!=":
        return [(-INF, False, vals[0], False), (vals[0], False, INF, False)]
    if op == "range":
        return [(vals[0], True, vals[1], False)]
    return [ALL]


def fmt(x: float) -> str:
    if x in (INF, -INF):
        return "∞" if x > 0 else "-∞"
    return f"{x:g}" if abs(x) < 1e15 else repr(x)


def describe(iv: Interval) -> str:
    lo, li, hi, hj = iv
    if lo == hi:
        return f"exactly {fmt(lo)}"
    if lo == -INF:
        return f"values {'<=' if hj else '<'} {fmt(hi)}"
    if hi == INF:
        return f"values {'>=' if li else '>'} {fmt(lo)}"
    return f"values from {fmt(lo)} {'(included)' if li else '(excluded)'} to {fmt(hi)} {'(included)' if hj else '(excluded)'}"


def check_bands(plan: P.Plan, d: Diagnostics) -> None:
    """Each band block: points in range, no empty range, no band shadowed, gaps and overlaps warned."""
    for ind in plan.indicators:
        if ind.bands is not None:
            _check_band_block(ind, plan.points_check, d)


def _check_band_block(ind: P.IndicatorPlan, points_range: tuple[float, float] | None, d: Diagnostics) -> None:
    bands = ind.bands or []
    if not bands:
        d.error(f"indicator '{ind.name}' has an empty band block", ind.name_span, expected="band lines like `>= 100 -> 10`")
        return
    text_mode = any(band_intervals(b) is None for b in bands if b.op != "else")
    numeric_mode = any(band_intervals(b) is not None for b in bands if b.op != "else")
    if text_mode and numeric_mode:
        d.error(f"indicator '{ind.name}' mixes text and number bands", ind.name_span,
                hint='compare text with == "..." or in ("...", ...), numbers with >=, <, a..b')
        return
    covered = IntervalSet()
    texts: set[str] = set()
    else_seen = False
    for b in bands:
        if points_range is not None and not (points_range[0] - EPS <= b.points <= points_range[1] + EPS):
            d.error(f"{fmt(b.points)} points is outside the points range {fmt(points_range[0])}..{fmt(points_range[1])}",
                    b.span, expected=f"points between {fmt(points_range[0])} and {fmt(points_range[1])}")
        if b.op == "range" and not b.values[0] < b.values[1]:
            d.error(f"empty range {b.value_texts[0]}..{b.value_texts[1]}: the low end must be below the high end",
                    b.span, hint="a..b matches a <= x < b")
            continue
        if else_seen:
            d.warning("band is shadowed by the earlier 'else' and never applies", b.span)
            continue
        if b.op == "else":
            else_seen = True
            continue
        if text_mode:
            vals = set(b.values)
            if b.op in ("==", "in") and vals <= texts:
                d.warning("band is shadowed by earlier bands and never applies", b.span)
            if b.op in ("==", "in"):
                texts |= vals
            continue
        mine = band_intervals(b) or []
        if all(covered.covers(iv) for iv in mine):
            d.warning("band is shadowed by earlier bands and never applies", b.span,
                      hint="bands are tried top to bottom; the first match wins")
        for iv in mine:
            covered.add(iv)
    if numeric_mode:
        ranges = sorted((b for b in bands if b.op == "range" and b.values[0] < b.values[1]),
                        key=lambda b: b.values[0])
        for a, b in zip(ranges, ranges[1:]):
            a_hi, b_lo = a.values[1], b.values[0]
            if b_lo < a_hi:
                d.warning(f"range {b.value_texts[0]}..{b.value_texts[1]} overlaps {a.value_texts[0]}..{a.value_texts[1]}",
                          b.span, hint="a..b matches a <= x < b; the first matching band wins")
            elif b_lo > a_hi and not else_seen:  # with an else band the gap is the else band's
                d.warning(f"ranges leave a gap: values from {a.value_texts[1]} to {b.value_texts[0]} match neither",
                          b.span, hint="make the ranges meet (…..x then x..…) or add an else band")
        if not else_seen:
            gaps = covered.gaps()
            if gaps:
                d.warning(f"no band matches {describe(gaps[0])}; such customers score as missing", bands[-1].span,
                          hint="add `else -> POINTS`")


def check_weights(plan: P.Plan, d: Diagnostics) -> None:
    """Weighted scoring: a weight at every level, none negative, each level's summing to 100%."""
    if plan.scoring == "additive":
        weighted: list[P.DimensionPlan | P.IndicatorPlan] = [*plan.dimensions, *plan.indicators]
        for node in weighted:
            if node.weight_written is not None:
                d.warning(f"weight of '{node.name}' is ignored: additive scoring sums points", node.weight_written.span)
        return
    # the indicators are in file order, those of each dimension first: slice them per dimension
    members: list[list[P.IndicatorPlan]] = []
    at = 0
    for dim in plan.dimensions:
        members.append(plan.indicators[at:at + len(dim.indicators)])
        at += len(dim.indicators)
    standalone = plan.indicators[at:]
    levels: list[tuple[str, Sequence[P.DimensionPlan | P.IndicatorPlan]]] = [
        ("the top level", [*plan.dimensions, *standalone])]
    levels += [(f"dimension '{dim.name}'", inds) for dim, inds in zip(plan.dimensions, members)]
    for where, nodes in levels:
        if not nodes:
            continue
        total = 0.0
        missing = False
        weighed: list[tuple[P.DimensionPlan | P.IndicatorPlan, P.Written, float]] = []  # node, as written, weight
        for n in nodes:
            w = n.weight_written
            if w is None or n.weight is None:
                kind = "dimension" if isinstance(n, P.DimensionPlan) else "indicator"
                d.error(f"{kind} '{n.name}' has no weight", n.name_span, expected="weight NN%",
                        hint="weighted scoring needs a weight at every level (or `scoring additive`)")
                missing = True
            else:
                if n.weight < 0:
                    d.error(f"negative weight {w.text}", w.span)
                total += n.weight
                weighed.append((n, w, n.weight))
        names = [n.name for n in nodes]
        if len(set(names)) < len(names):
            continue  # a name declared twice is reported as such; its weight counted twice is no news
        if not missing and abs(total - 1.0) > 1e-9:  # not missing: every node is weighed
            first = weighed[0][1]
            parts = " + ".join(w.text for _, w, _ in weighed)
            plain = [(w, weight) for _, w, weight in weighed if not w.percent and weight > 1]
            hint = f"{parts} = {total * 100:g}%"
            if plain:  # `weight 30` for 30%: a weight without % is a fraction (30 = 3000%)
                fixed = ", ".join(f"{w.text}%" for w, _ in plain)
                hint = f"did you mean {fixed}? a weight without % is a fraction: {plain[0][0].text} = " \
                       f"{plain[0][1] * 100:g}%"
                first = plain[0][0]
            d.error(f"weights in {where} add up to {total * 100:g}%, not 100%", first.span,
                    expected="weights that sum to 100%", hint=hint)


def score_bounds(plan: P.Plan) -> tuple[float, float] | None:
    if plan.scoring != "weighted":
        return None
    lo, hi = plan.points_range
    if not lo < hi or hi <= 0 or (plan.score_range is not None and not plan.score_range[0] < plan.score_range[1]):
        return None  # an invalid range is an error of its own; bounds computed from it would mislead
    if plan.score_range is None:
        return lo, hi
    scale = plan.score_range[1] / hi if hi else 1.0
    return lo * scale, hi * scale


def _condition_interval(expr: P.Expr | None, target: P.Ref) -> list[Interval] | None:
    """The values of ``target`` a condition accepts, when it only compares it with constants."""
    if isinstance(expr, P.Cmp) and isinstance(expr.right, P.Lit) and expr.left == target and \
            isinstance(expr.right.value, (int, float)):
        c = float(expr.right.value)
        return {">=": [(c, True, INF, False)], ">": [(c, False, INF, False)], "<=": [(-INF, False, c, True)],
                "<": [(-INF, False, c, False)], "==": [(c, True, c, True)],
                "!=": [(-INF, False, c, False), (c, False, INF, False)]}.get(expr.op)
    if isinstance(expr, P.Between) and expr.operand == target and isinstance(expr.low, P.Lit) and \
            isinstance(expr.high, P.Lit):
        return [(float(expr.low.value), True, float(expr.high.value), True)]
    if isinstance(expr, P.Logic) and expr.op == "and":
        a, b = _condition_interval(expr.left, target), _condition_interval(expr.right, target)
        if a is not None and b is not None:
            return [iv for x in a for y in b if _nonempty(iv := _intersect(x, y))]
    return None


def check_tiers(plan: P.Plan, d: Diagnostics) -> None:
    tiers = plan.tiers
    if not tiers:
        return
    bounds = score_bounds(plan)
    covered = IntervalSet()
    outside = IntervalSet()  # scores outside the reachable range are "covered" already
    if bounds is not None:
        for edge in ((-INF, False, bounds[0] - EPS, False), (bounds[1] + EPS, False, INF, False)):
            covered.add(edge)
            outside.add(edge)
    otherwise_seen = None
    for t in tiers:
        if otherwise_seen is not None:
            d.warning(f"tier {t.name} can never be reached: tier {otherwise_seen} above it takes everyone left",
                      t.name_span)
            continue
        if t.rule == "otherwise":
            otherwise_seen = t.name
            continue
        if t.rule == "top":
            v = t.top or 0
            if t.top_text and t.top_percent and not 0 < v <= 1:
                d.error(f"top {t.top_text} must be between 0% and 100%", t.top_span)
            elif t.top_text and not t.top_percent and (v <= 0 or not float(v).is_integer()):
                d.error("top N takes a whole number of customers or a percentage", t.top_span)
            continue
        iv = _condition_interval(t.condition, P.Ref("score"))
        if iv is None:
            continue
        if not iv:
            d.warning(f"tier {t.name} can never be reached: its conditions on score contradict each other", t.span)
            continue
        if all(covered.covers(x) for x in iv):
            why = "the tiers above take every score it accepts"
            if bounds is not None and all(outside.covers(x) for x in iv):
                why = f"scores run from {fmt(bounds[0])} to {fmt(bounds[1])}"
            d.warning(f"tier {t.name} can never be reached: {why}", t.span)
        for x in iv:
            covered.add(x)
    if otherwise_seen is None and all(t.rule != "top" for t in tiers) and covered.gaps():
        d.warning("no `tier NAME otherwise`: customers matching no tier get no tier", tiers[-1].span)
    lows = highs = 0.0
    with_expect = [t for t in tiers if t.expect is not None]
    for t in with_expect:
        assert t.expect is not None
        low, high = t.expect
        if not (0 <= low <= high <= 1):
            d.error(f"expect {fmt(low * 100)}%..{fmt(high * 100)}% is not a share range",
                    t.expect_span, expected="expect LOW%..HIGH% with 0% <= LOW <= HIGH <= 100%")
        lows += low
        highs += high
    if len(with_expect) == len(tiers) and with_expect and not (lows <= 1 + EPS and highs >= 1 - EPS):
        d.warning(f"expected shares cannot add up to 100% (lows {lows * 100:g}%, highs {highs * 100:g}%)",
                  with_expect[0].expect_span)


def achievable_points(ind: P.IndicatorPlan, points_range: tuple[float, float]) -> list[Interval]:
    if ind.bands:
        vals = {b.points for b in ind.bands}
        if ind.missing.policy == "points" and ind.missing.points is not None:
            vals.add(ind.missing.points)
        return [(v, True, v, True) for v in vals]
    lo, hi = points_range
    return [(lo, True, hi, True)]


def check_never_fires(plan: P.Plan, d: Diagnostics) -> None:
    """Warn about conditions comparing an indicator's points with a value it cannot take."""
    where = [(f"tier {t.name}", t.condition, t.span) for t in plan.tiers if t.condition is not None]
    where += [(f"label {lb.name}", lb.condition, lb.span) for lb in plan.label_rules]
    where += [(f"trigger {t.name}", t.condition, t.span) for t in plan.triggers]
    for what, expr, span in where:
        contradiction = False
        for target in [P.Ref("score"), *(P.Ref("points", i.name) for i in plan.indicators)]:
            if _condition_interval(expr, target) == []:
                name = "score" if target.kind == "score" else f"'{target.name}'"
                if not what.startswith("tier ") or target.kind != "score":  # check_tiers says it for tiers
                    d.warning(f"{what} can never fire: its conditions on {name} contradict each other", span)
                contradiction = True
                break
        if contradiction:
            continue
        for ind in plan.indicators:
            target = P.Ref("points", ind.name)
            accepted = _condition_interval(expr, target)
            if accepted is None:
                continue
            possible = achievable_points(ind, plan.points_range)
            if not any(_nonempty(_intersect(a, p)) for a in accepted for p in possible):
                d.warning(f"{what} can never fire: '{ind.name}' here is the indicator's points "
                          f"({', '.join(describe(p) for p in possible[:4])})", span,
                          hint=f"for the raw value write value({ind.name})")
        if plan.scoring == "weighted" and not what.startswith("tier "):  # check_tiers covers tiers
            bounds = score_bounds(plan)
            accepted = _condition_interval(expr, P.Ref("score"))
            if accepted is not None and bounds is not None:
                possible = [(bounds[0], True, bounds[1], True)]
                if not any(_nonempty(_intersect(a, p)) for a in accepted for p in possible):
                    d.warning(f"{what} can never fire: scores run from {fmt(bounds[0])} to {fmt(bounds[1])}", span)
