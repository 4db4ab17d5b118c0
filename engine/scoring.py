"""Scoring as Ibis expressions: bands, normalized points, weighted and additive scores, tiers,
segments, and the explanation columns (matched band, effective weight, why there is no score).

Every function reads the columns of one table ``t`` by their internal names (``ref_name``) and
returns an expression; none runs a query. This is the one implementation of what a band, a weight
or a tier means: explanations and summaries read its results.
"""
from __future__ import annotations

from typing import Any

from . import plan as P
from .expressions import ExprBuilder, compare, ibis_coalesce

QUOTA_DIGITS = 9  # quota tiers rank scores rounded to this many decimals: float noise is a tie
NO_SCORE_EXCLUDED = "every indicator is missing (missing -> exclude)"


def ref_name(kind: str, name: str = "") -> str:
    """The internal column of a named value: ``points__年交易额``, ``score``."""
    return f"{kind}__{name}" if name else kind


def band_condition(band: P.BandRule, v: Any) -> Any:
    op, vals = band.op, band.values
    text = isinstance(vals[0], str) if vals else False
    if op == "range":
        return compare(">=", v, None, vals[0]) & compare("<", v, None, vals[1])
    if op == "in":
        if text:
            return v.isin(list(vals))
        cond = None
        for x in vals:
            c = compare("==", v, None, x)
            cond = c if cond is None else cond | c
        return cond
    if text:
        return v == vals[0] if op == "==" else v != vals[0]
    return compare(op, v, None, float(vals[0]))


def _first_band(ind: P.IndicatorPlan, v: Any, result: Any, typ: str) -> Any:
    """The first band that matches ``v`` (``result(index, band)`` of it); null when none or ``v`` is missing."""
    import ibis

    cases, fallback = [], ibis.null(typ)
    for i, band in enumerate(ind.bands or []):
        if band.op == "else":
            fallback = ibis.literal(result(i, band), type=typ)
            break
        cases.append((band_condition(band, v), ibis.literal(result(i, band), type=typ)))
    picked = ibis.cases(*cases, else_=fallback) if cases else fallback
    return ibis.cases((v.isnull(), ibis.null(typ)), else_=picked)


def band_points(ind: P.IndicatorPlan, v: Any) -> Any:
    return _first_band(ind, v, lambda i, b: float(b.points), "float64")


def band_index(ind: P.IndicatorPlan, v: Any) -> Any:
    """0-based index into ``ind.bands`` of the band that scored ``v``; null: missing, no band matched, no bands."""
    import ibis

    if not ind.bands:
        return ibis.null("int64")
    return _first_band(ind, v, lambda i, b: i, "int64")


def matched_no_band(ind: P.IndicatorPlan, v: Any) -> Any | None:
    """A present value that no band matches (None when a band always matches: `else`, or no bands)."""
    if not ind.bands or any(b.op == "else" for b in ind.bands):
        return None
    cond = None
    for b in ind.bands:
        c = band_condition(b, v)
        cond = c if cond is None else (cond | c)
    return v.notnull() & ~ibis_coalesce(cond, False)


def cap_at(x: Any, cap: float) -> Any:
    """``x`` but no more than ``cap``; missing stays missing (SQL's least would return the cap)."""
    import ibis

    return ibis.cases((x > cap, ibis.literal(float(cap), type="float64")), else_=x)


def combine(items: list[tuple[Any, float, bool]]) -> Any:
    """Weighted average of (points, weight, may_be_excluded): excluded items re-spread their weight."""
    import ibis

    if not any(ex for _, _, ex in items):
        total = None
        for p, w, _ in items:
            term = p * w
            total = term if total is None else total + term
        return total
    num: Any = None  # Ibis float values
    den: Any = None
    for p, w, ex in items:
        n = ibis.coalesce(p * w, 0.0) if ex else p * w
        dn = ibis.cases((p.isnull(), 0.0), else_=w) if ex else ibis.literal(w, type="float64")
        num = n if num is None else num + n
        den = dn if den is None else den + dn
    return ibis.cases((den <= 0, ibis.null("float64")), else_=num / den)


def _points(t: Any, name: str) -> Any:
    return t[ref_name("points", name)]


def dimension_score(plan: P.Plan, t: Any, dim: P.DimensionPlan) -> Any:
    import ibis

    inds = [plan.indicator(n) for n in dim.indicators]
    if plan.scoring == "additive":
        total = None
        for ind in inds:
            p = _points(t, ind.name)
            p = ibis.coalesce(p, 0.0) if ind.missing.policy == "exclude" else p
            total = p if total is None else total + p
        return cap_at(total, dim.cap) if dim.cap is not None else total
    return combine([(_points(t, i.name), i.weight or 0.0, i.missing.policy == "exclude") for i in inds])


def score(plan: P.Plan, t: Any) -> Any:
    import ibis

    items = []
    for kind, name, weight in plan.top_level:
        if kind == "dimension":
            dim = next(d for d in plan.dimensions if d.name == name)
            excl = any(plan.indicator(i).missing.policy == "exclude" for i in dim.indicators)
            items.append((t[ref_name("dimension", name)], weight or 0.0, excl))
        else:
            ind = plan.indicator(name)
            items.append((_points(t, name), weight or 0.0, ind.missing.policy == "exclude"))
    if plan.scoring == "additive":
        total = ibis.literal(float(plan.base), type="float64")
        for p, _, ex in items:
            total = total + (ibis.coalesce(p, 0.0) if ex else p)
        result = cap_at(total, plan.total_cap) if plan.total_cap is not None else total
    else:
        composite = combine(items)
        result = composite if plan.score_range is None else composite / plan.points_range[1] * plan.score_range[1]
    errors = [_points(t, i.name).isnull() for i in plan.indicators if i.missing.policy == "error"]
    if errors:
        any_error = errors[0]
        for e in errors[1:]:
            any_error = any_error | e
        result = ibis.cases((any_error, ibis.null("float64")), else_=result)
    return result.cast("float64")


def weight_deps(plan: P.Plan) -> set[str]:
    return {ref_name("points", i.name) for i in plan.indicators if i.missing.policy == "exclude"}


def effective_weights(plan: P.Plan, t: Any) -> dict[str, Any]:
    """Each indicator's and dimension's effective weight in the score (weighted scoring): its share of
    the composite after `missing -> exclude` re-spread the weight of what is missing. An indicator's
    share is its dimension's effective weight × its effective weight inside the dimension. Only
    `exclude` re-spreads: a missing `missing -> error` indicator keeps its declared weight."""
    import ibis

    def lit(x: float) -> Any:
        return ibis.literal(float(x), type="float64")

    def present(name: str) -> Any | None:  # None: always counts
        ind = plan.indicator(name)
        return _points(t, name).notnull() if ind.missing.policy == "exclude" else None

    def shares(items: list[tuple[str, float, Any | None]]) -> tuple[dict[str, Any], Any]:
        """(name -> weight / total weight of the present items, 0 when absent or nothing is present;
        the total weight present, a Python float when nothing can be absent)."""
        if all(p is None for _, _, p in items):
            total = sum(w for _, w, _ in items)
            return {n: lit(w / total if total > 0 else 0.0) for n, w, _ in items}, total
        den: Any = None  # an Ibis float value
        for _, w, p in items:
            d = lit(w) if p is None else ibis.cases((p, lit(w)), else_=lit(0.0))
            den = d if den is None else den + d
        out = {}
        for n, w, p in items:
            here = den > 0 if p is None else (p & (den > 0))
            out[n] = ibis.cases((here, lit(w) / den), else_=lit(0.0))
        return out, den

    inner: dict[str, Any] = {}
    top: list[tuple[str, float, Any | None]] = []
    for kind, name, w in plan.top_level:
        if kind == "dimension":
            dim = next(d for d in plan.dimensions if d.name == name)
            members = [(i, plan.indicator(i).weight or 0.0, present(i)) for i in dim.indicators]
            member_shares, den = shares(members)
            inner.update(member_shares)
            # a dimension drops out (its score is missing) when no weight inside it is present
            top.append((name, w or 0.0, None if isinstance(den, (int, float)) else den > 0))
        else:
            top.append((name, w or 0.0, present(name)))
    top_share, _ = shares(top)
    out: dict[str, Any] = {}
    for kind, name, _ in plan.top_level:
        out[name] = top_share[name]
        if kind == "dimension":
            dim = next(d for d in plan.dimensions if d.name == name)
            for i in dim.indicators:
                out[i] = top_share[name] * inner[i]
    return out


def no_score_reason(plan: P.Plan, t: Any) -> Any:
    """Why a customer has no score: the `missing -> error` indicators missing or matching no band,
    else every indicator excluded; null for a customer with a score."""
    import ibis

    parts = []
    for ind in plan.indicators:
        if ind.missing.policy != "error":
            continue
        p, v = _points(t, ind.name), t[ref_name("value", ind.name)]
        why = "matched no band" if ind.bands else "has no points"
        parts.append(ibis.cases((p.notnull(), ibis.null("string")),
                                (v.isnull(), ibis.literal(f"{ind.name} is missing")),
                                else_=ibis.literal(f"{ind.name} {why}")))
    s = t["score"]
    if not parts:
        return ibis.cases((s.isnull(), ibis.literal(NO_SCORE_EXCLUDED)), else_=ibis.null("string"))
    joined = ibis.literal(", ").join(parts)
    return ibis.cases((s.notnull(), ibis.null("string")),
                      (joined != "", joined.concat(" (missing -> error)")),
                      else_=ibis.literal(NO_SCORE_EXCLUDED))


def tier(plan: P.Plan, b: ExprBuilder, t: Any) -> Any:
    import ibis

    if not plan.tiers:
        return ibis.null("string")
    s = t["score"]
    cases = []
    otherwise = None
    for tp in plan.tiers:
        if tp.rule == "otherwise":
            otherwise = tp.name
            break
        if tp.rule == "when":
            assert tp.condition is not None  # a `when` tier has its condition
            cases.append((ibis.coalesce(b(tp.condition), False), tp.name))
        else:
            # customers with a higher score; scores equal but for floating-point error tie
            above = ibis.rank().over(order_by=s.round(QUOTA_DIGITS).desc())
            # top p%: the first floor(p·n) ranks, and every customer tied with the last of them
            limit = (s.count() * tp.top + 1e-9).floor() if tp.top_percent else ibis.literal(tp.top)
            cases.append((s.notnull() & (above < limit), tp.name))
    # a customer without a score can still meet a `when` tier that does not ask for the score
    # (`tier 无记录 when 工单数 == 0`), but gets no quota or `otherwise` tier
    fallback = (ibis.cases((s.isnull(), ibis.null("string")), else_=ibis.literal(otherwise, type="string"))
                if otherwise else ibis.null("string"))
    return ibis.cases(*cases, else_=fallback) if cases else fallback


def segment(b: ExprBuilder, seg: P.SegmentPlan) -> Any:
    import ibis

    cases, otherwise = [], None
    for value, cond in seg.cases:
        if cond is None:
            otherwise = value
            break
        cases.append((ibis.coalesce(b(cond), False), value))
    if not cases:
        return ibis.literal(otherwise, type="string")
    return ibis.cases(*cases, else_=ibis.literal(otherwise, type="string") if otherwise else ibis.null("string"))
