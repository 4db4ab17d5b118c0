"""Evaluate a Plan over source tables as one columnar Ibis query (DuckDB by default).

Stages: type the referenced columns (counting bad cells) -> population of keys
-> per-customer aggregates of multi-row sources -> one chain of ``mutate``
levels computing measures, indicator values, points, dimension scores,
score, tier, labels and segments. Normalizer fits and population aggregates
are whole-table window reductions inside the same query.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..dsl.diagnostics import suggest
from . import plan as P
from .backends import backend_of
from .backends.base import ROW_ORDER
from .fetch import fetch_one, fetch_rows
from .coerce import WrongType, coerce, finite, float_text
from .expressions import ExprBuilder, compare, ibis_coalesce
from .plugin_api import DataError, DataIssue

KEY = "__key"
OUTPUT_DECIMALS = 10  # scores, points and dimension scores in the output are rounded to this many decimals
QUOTA_DIGITS = 9  # quota tiers rank scores rounded to this many decimals: float noise is a tie


def col_name(source: str, column: str) -> str:
    return f"s__{source}__{column}"


def ref_name(kind: str, name: str = "") -> str:
    return f"{kind}__{name}" if name else kind


@dataclass
class Evaluation:
    """The result query plus what evaluating it found out about the data."""

    table: Any  # ibis table: one row per customer
    issues: list[DataIssue]
    output_columns: list[str]
    key_column: str
    calibration: dict[str, dict[str, float | None]] = field(default_factory=dict)


def walk(e: Any):
    yield e
    for name in getattr(e, "__dataclass_fields__", {}):
        v = getattr(e, name)
        for item in (v if isinstance(v, tuple) else (v,)):
            if hasattr(item, "__dataclass_fields__"):
                yield from walk(item)


def _deps(e: P.Expr | None) -> set[str]:
    out: set[str] = set()
    if e is None:
        return out
    for node in walk(e):
        if isinstance(node, P.Ref) and node.kind != "as_of":
            out.add(ref_name(node.kind, node.name))
    return out


class Evaluator:
    def __init__(self, plan: P.Plan, registry: Any, as_of: date, points_override: dict[str, float] | None = None):
        self.plan = plan
        self.reg = registry
        self.as_of = as_of
        self.override = points_override or {}
        self.issues: list[DataIssue] = []
        self.calibration: dict[str, dict[str, float | None]] = {}

    # ---- sources ------------------------------------------------------------------------
    def prepare_source(self, sp: P.SourcePlan, table: Any) -> Any:
        """Rename needed columns to internal names, type them, report bad cells and bad keys."""
        import ibis

        needed = sorted(source_columns(self.plan, sp.name))
        columns = [c for c in table.columns if c != ROW_ORDER]
        if sp.key not in columns:
            close = suggest(sp.key, columns)
            raise DataError(f"source '{sp.name}' has no key column '{sp.key}'"
                            + (f" — did you mean '{close}'?" if close else f"; its columns: {', '.join(columns[:20])}"))
        for c in needed:
            if c not in columns:
                close = suggest(c, columns)
                raise DataError(f"source '{sp.name}' has no column '{c}'"
                                + (f" — did you mean '{close}'?" if close else f"; its columns: {', '.join(columns[:20])}"))
        from .coerce import WHITESPACE_CLASS as ws, trim

        raw_key = table[sp.key]
        text_key = raw_key.type().is_string()
        if not text_key:  # keys are compared as text; a float key 1001.0 (pandas) is "1001"
            raw_key = float_text(raw_key) if raw_key.type().is_floating() else raw_key.cast("string")
        bad_flags = {}
        typed = {}
        for c in needed:
            want = self.plan.column_types.get((sp.name, c), "any")
            try:
                value, bad = coerce(table[c], want)
            except WrongType as exc:
                raise DataError(f"source '{sp.name}': column '{c}' {exc}") from None
            typed[col_name(sp.name, c)] = value
            if bad is not None:
                bad_flags[c] = bad
        # data quality in one aggregate query: rows, blank keys, padded keys, distinct keys, bad cells.
        # Regular expressions find blank and padded keys without building trimmed strings.
        metrics = {"__rows": table.count(),
                   "__null_keys": (raw_key.isnull() | raw_key.re_search(f"^{ws}*$")).sum(),
                   "__padded": raw_key.re_search(f"^{ws}|{ws}$").sum() if text_key else ibis.literal(0)}
        if not sp.multi_row:
            metrics["__keys"] = raw_key.nullif("").nunique()
        for i, (c, flag) in enumerate(bad_flags.items()):
            metrics[f"b{i}"] = flag.sum()
        percent_cols = self._percent_suspects(sp, table)
        for i, c in enumerate(percent_cols):  # cells written "95%" that bands with cuts like 90 compare
            metrics[f"p{i}"] = table[c].re_search(r"[%％]\s*$").sum()
        counts = {k: v or 0 for k, v in fetch_one(table.aggregate(**metrics)).items()}  # no rows: sums are NULL
        for i, (c, ind) in enumerate(percent_cols.items()):
            if counts[f"p{i}"]:
                self.issues.append(DataIssue(
                    f"cells written with % (95% reads as 0.95) but {ind}'s bands cut at numbers above 1: "
                    f"write the bands with % (>= 90%) or the cells without it", f"{sp.name}.{c}",
                    int(counts[f"p{i}"])))
        # trim keys only when some are padded: trimming a million strings costs more than scoring them
        key = trim(raw_key) if counts["__padded"] else raw_key

        def select(**extra: Any) -> Any:
            out = table.select(**{KEY: key}, **typed, **extra)
            return out.filter(out[KEY].notnull() & (out[KEY] != "")) if counts["__null_keys"] else out

        out = select()
        if sp.name == self.plan.primary and counts["__rows"] == 0:
            raise DataError(f"source '{sp.name}' has no data rows: no customers to rate")
        if counts["__null_keys"]:
            self.issues.append(DataIssue("missing key (row skipped)", f"{sp.name}.{sp.key}", int(counts["__null_keys"])))
        for i, (c, flag) in enumerate(bad_flags.items()):
            n = int(counts[f"b{i}"] or 0)
            if n:
                want = self.plan.column_types[(sp.name, c)]
                sample = fetch_rows(table.filter(flag).select(k=table[sp.key].cast("string"), v=table[c]).limit(5))
                samples = [f"{r['k']}: {r['v']!r}" for r in sample]
                self.issues.append(DataIssue(f"not a {want} (treated as missing)", f"{sp.name}.{c}", n, samples))
        if not sp.multi_row and counts["__padded"]:  # distinct raw keys undercount duplicates once trimmed
            counts["__keys"] = fetch_one(table.aggregate(n=key.nullif("").nunique()))["n"]
        has_dups = not sp.multi_row and counts["__keys"] < counts["__rows"] - counts["__null_keys"]
        if has_dups:
            dup = out.group_by(KEY).aggregate(n=out.count()).filter(lambda t: t.n > 1)
            dups = fetch_rows(dup.order_by(KEY).limit(5))
            if dups:
                total = int(fetch_one(dup.aggregate(n=dup.count()))["n"])
                self.issues.append(DataIssue("duplicate key (first row used)", f"{sp.name}.{sp.key}", total,
                                             [f"{r[KEY]} ×{r['n']}" for r in dups]))
                # keep each key's first row in the source's order (row_number over the scan)
                numbered = select(__row=table[ROW_ORDER] if ROW_ORDER in table.columns else ibis.row_number())
                first = numbered["__row"].min().over(group_by=numbered[KEY])
                out = numbered.filter(numbered["__row"] == first).drop("__row")
        return backend_of(table).prepared(out, sp.name)  # a backend without CSE keeps typed columns

    def _percent_suspects(self, sp: P.SourcePlan, table: Any) -> dict[str, str]:
        """Text columns an indicator scores directly with number bands cutting above 1 (column -> indicator)."""
        out = {}
        for ind in self.plan.indicators:
            e = ind.expr
            if (isinstance(e, P.Col) and e.source == sp.name and ind.bands and not ind.percent_compared
                    and e.column in table.columns and table[e.column].type().is_string()
                    and any(isinstance(v, (int, float)) and abs(v) > 1 for b in ind.bands for v in b.values)):
                out.setdefault(e.column, ind.name)
        return out

    # ---- the query -----------------------------------------------------------------------
    def build(self, tables: dict[str, Any]) -> Evaluation:
        import ibis

        plan = self.plan
        prepared = {}
        for sp in plan.sources:
            if sp.name not in tables:
                raise DataError(f"no data for source '{sp.name}'")
            prepared[sp.name] = self.prepare_source(sp, tables[sp.name])
        primary = next(s for s in plan.sources if s.name == plan.primary)
        base = prepared[primary.name]
        if primary.multi_row:
            base = base.select(KEY).distinct()
        for sp in plan.sources:
            if sp.name != primary.name:
                self._report_orphans(sp, prepared[sp.name], base)
        # per-customer aggregates over multi-row sources
        aggs = [n for e in self._all_exprs() for n in walk(e) if isinstance(n, P.Agg)]
        by_source: dict[str, list[P.Agg]] = {}
        for a in {a.id: a for a in aggs}.values():
            by_source.setdefault(a.source, []).append(a)
        for src, items in by_source.items():
            t = prepared[src]
            builder = ExprBuilder(lambda c, t=t: t[col_name(c.source, c.column)], self._no_ref, self._no_agg,
                                  self.reg.functions, self.as_of)
            metrics = {}
            for a in items:
                where = builder(a.where) if a.where is not None else None
                if a.func == "count" and a.arg is None:
                    metrics[a.id] = t.count(where=where) if where is not None else t.count()
                    continue
                arg = builder(a.arg)
                fn = {"sum": "sum", "avg": "mean", "min": "min", "max": "max", "count": "count",
                      "count_distinct": "nunique"}[a.func]
                metrics[a.id] = getattr(arg, fn)(where=where)
            grouped = t.group_by(KEY).aggregate(**metrics)
            base = left_join(base, grouped)
            fills = {a.id: ibis.coalesce(base[a.id], 0) for a in items if a.func in ("sum", "count", "count_distinct")}
            if fills:
                base = base.mutate(**fills)
        # one-row-per-customer sources other than the primary
        for sp in plan.sources:
            if sp.name != primary.name and not sp.multi_row:
                base = left_join(base, prepared[sp.name])
        return self._score(base)

    def _report_orphans(self, sp: P.SourcePlan, table: Any, population: Any) -> None:
        """Rows of another source whose key is no customer of the primary source: counted, never silently lost."""
        orphans = table.anti_join(population, KEY)
        n = int(fetch_one(orphans.aggregate(n=orphans.count()))["n"] or 0)
        if n:
            keys = fetch_rows(orphans.select(KEY).distinct().order_by(KEY).limit(5))
            self.issues.append(DataIssue(f"key matches no customer of '{self.plan.primary}' (row not used)",
                                         f"{sp.name}.{sp.key}", n, [str(r[KEY]) for r in keys]))

    def _no_ref(self, e):  # pragma: no cover - the compiler forbids refs inside aggregates
        raise DataError("a named value cannot be used inside an aggregate over a source's rows")

    def _no_agg(self, e):  # pragma: no cover
        raise DataError("aggregates cannot be nested")

    def _all_exprs(self) -> list[P.Expr]:
        plan = self.plan
        out = list(plan.measures.values()) + [i.expr for i in plan.indicators]
        out += [t.condition for t in plan.tiers if t.condition is not None]
        out += list(plan.labels.values()) + [c for s in plan.segments for _, c in s.cases if c is not None]
        return out

    # ---- named values in dependency levels ---------------------------------------------------
    def _nodes(self) -> dict[str, tuple[set[str], Any]]:
        """name -> (dependencies, function(builder, table) -> ibis expression)."""
        plan = self.plan
        nodes: dict[str, tuple[set[str], Any]] = {}
        for name, e in plan.measures.items():
            nodes[ref_name("measure", name)] = (_deps(e), lambda b, t, e=e: b(e))
        for ind in plan.indicators:
            nodes[ref_name("value", ind.name)] = (_deps(ind.expr), lambda b, t, ind=ind: self._value(b, ind))
            nodes[ref_name("points", ind.name)] = ({ref_name("value", ind.name)},
                                                   lambda b, t, ind=ind: self._points(t, ind))
        for dim in plan.dimensions:
            nodes[ref_name("dimension", dim.name)] = ({ref_name("points", i) for i in dim.indicators},
                                                      lambda b, t, dim=dim: self._dimension(t, dim))
        top_deps = {ref_name("dimension" if k == "dimension" else "points", n) for k, n, _ in plan.top_level}
        errs = {ref_name("points", i.name) for i in plan.indicators if i.missing.policy == "error"}
        nodes["score"] = (top_deps | errs, lambda b, t: self._score_expr(t))
        tier_deps = {"score"} | set().union(*[_deps(tp.condition) for tp in plan.tiers]) if plan.tiers else set()
        nodes["tier"] = (tier_deps, lambda b, t: self._tier(b, t))
        for name, e in plan.labels.items():
            nodes[ref_name("label", name)] = (_deps(e), lambda b, t, e=e: ibis_coalesce(b(e), False))
        for seg in plan.segments:
            deps = set().union(*[_deps(c) for _, c in seg.cases])
            nodes[ref_name("segment", seg.name)] = (deps, lambda b, t, seg=seg: self._segment(b, seg))
        return nodes

    def _score(self, base: Any) -> Evaluation:
        nodes = self._nodes()
        level: dict[str, int] = {}

        def depth(n: str, stack: tuple = ()) -> int:
            if n in level:
                return level[n]
            if n in stack:
                raise DataError("circular definition: " + " -> ".join(stack + (n,)))
            deps = nodes[n][0] if n in nodes else set()
            level[n] = 1 + max((depth(d, stack + (n,)) for d in deps if d in nodes), default=-1)
            return level[n]

        for n in nodes:
            depth(n)
        self._fit(base, nodes, level)
        return self._output(self._levels(base, nodes, level, set(nodes)))

    def _levels(self, base: Any, nodes: dict, level: dict[str, int], wanted: set[str]) -> Any:
        t = base
        for lv in range(max(level.values(), default=-1) + 1):
            names = [n for n in nodes if level[n] == lv and n in wanted]
            if names:
                builder = self._builder(t)
                t = t.mutate(**{n: nodes[n][1](builder, t) for n in names})
        return t

    def _fit(self, base: Any, nodes: dict, level: dict[str, int]) -> None:
        """Fit the normalizers on the population in one aggregate query; the parameters
        become literals of the scoring query (and the run's calibration)."""
        todo = [i for i in self.plan.indicators if i.normalizer and i.name not in self.override]
        if not todo:
            return
        closure: set[str] = set()
        stack = [ref_name("value", i.name) for i in todo]
        while stack:
            n = stack.pop()
            if n in closure or n not in nodes:
                continue
            closure.add(n)
            stack.extend(nodes[n][0])
        normalized = {ref_name("points", i.name) for i in todo}
        if closure & normalized:  # a normalized value built on normalized points: fit inside the query
            return
        t = self._levels(base, nodes, level, closure)
        metrics, keys = {}, []
        for i, ind in enumerate(todo):
            params = self.reg.normalizers[ind.normalizer]().fit(t[ref_name("value", ind.name)], ind.normalizer_options)
            for k, expr in params.items():
                metrics[f"f{i}_{k}"] = expr
                keys.append((ind.name, k, f"f{i}_{k}"))
        row = fetch_one(t.aggregate(**metrics)) if metrics else {}
        for ind in todo:
            self.calibration[ind.name] = {}
        for name, k, col in keys:
            v = row.get(col)
            self.calibration[name][k] = float(v) if v is not None else None

    def _builder(self, t: Any) -> ExprBuilder:
        return ExprBuilder(lambda c: t[col_name(c.source, c.column)], lambda r: t[ref_name(r.kind, r.name)],
                           lambda a: t[a.id], self.reg.functions, self.as_of)

    def _value(self, b: ExprBuilder, ind: P.IndicatorPlan) -> Any:
        v = b(ind.expr)
        if ind.value_type != "number":
            return v
        v = v.cast("float64")
        # NaN or ±inf from a function or arithmetic is missing (typed columns are finite already)
        return finite(v) if any(isinstance(n, (P.Func, P.Arith)) for n in walk(ind.expr)) else v

    def _points(self, t: Any, ind: P.IndicatorPlan) -> Any:
        import ibis

        if ind.name in self.override:
            return ibis.literal(float(self.override[ind.name]), type="float64")
        v = t[ref_name("value", ind.name)]
        lo, hi = self.plan.points_range
        if ind.bands:
            cases = []
            else_points = None
            for band in ind.bands:
                if band.op == "else":
                    else_points = band.points
                    break
                cases.append((band_condition(band, v), band.points))
            pts = ibis.cases(*[(c, ibis.literal(p, type="float64")) for c, p in cases],
                             else_=ibis.literal(else_points, type="float64") if else_points is not None
                             else ibis.null("float64")) if cases else ibis.literal(else_points, type="float64")
            raw = ibis.cases((v.isnull(), ibis.null("float64")), else_=pts)
        elif ind.normalizer:
            norm = self.reg.normalizers[ind.normalizer]()
            opts = ind.normalizer_options
            fitted = self.calibration.get(ind.name)
            if fitted is not None and any(x is None for x in fitted.values()):
                raw = ibis.null("float64")  # no value to fit on: everyone's value is missing
            else:
                params = ({k: ibis.literal(x, type="float64") for k, x in fitted.items()} if fitted is not None
                          else norm.fit(v, opts))
                raw = norm.apply(v, params, lo, hi, opts)
                if getattr(opts, "reverse", False):
                    raw = lo + hi - raw
        else:
            raw = v
        if ind.cap is not None:  # additive scoring: an indicator's points stop at its cap
            raw = cap_at(raw, ind.cap)
        if ind.missing.policy == "points":
            return ibis.coalesce(raw, ibis.literal(float(ind.missing.points), type="float64"))
        return raw

    def _combine(self, items: list[tuple[Any, float, bool]]) -> Any:
        """Weighted average of (points, weight, may_be_excluded): excluded items re-spread their weight."""
        import ibis

        if not any(ex for _, _, ex in items):
            total = None
            for p, w, _ in items:
                term = p * w
                total = term if total is None else total + term
            return total
        num = den = None
        for p, w, ex in items:
            n = ibis.coalesce(p * w, 0.0) if ex else p * w
            dn = ibis.cases((p.isnull(), 0.0), else_=w) if ex else ibis.literal(w, type="float64")
            num = n if num is None else num + n
            den = dn if den is None else den + dn
        return ibis.cases((den <= 0, ibis.null("float64")), else_=num / den)

    def _dimension(self, t: Any, dim: P.DimensionPlan) -> Any:
        import ibis

        inds = [self.plan.indicator(n) for n in dim.indicators]
        if self.plan.scoring == "additive":
            total = None
            for ind in inds:
                p = t[ref_name("points", ind.name)]
                p = ibis.coalesce(p, 0.0) if ind.missing.policy == "exclude" else p
                total = p if total is None else total + p
            return cap_at(total, dim.cap) if dim.cap is not None else total
        return self._combine([(t[ref_name("points", i.name)], i.weight or 0.0, i.missing.policy == "exclude")
                              for i in inds])

    def _score_expr(self, t: Any) -> Any:
        import ibis

        plan = self.plan
        items = []
        for kind, name, weight in plan.top_level:
            if kind == "dimension":
                dim = next(d for d in plan.dimensions if d.name == name)
                excl = any(plan.indicator(i).missing.policy == "exclude" for i in dim.indicators)
                items.append((t[ref_name("dimension", name)], weight or 0.0, excl))
            else:
                ind = plan.indicator(name)
                items.append((t[ref_name("points", name)], weight or 0.0, ind.missing.policy == "exclude"))
        if plan.scoring == "additive":
            total = ibis.literal(float(plan.base), type="float64")
            for p, _, ex in items:
                total = total + (ibis.coalesce(p, 0.0) if ex else p)
            score = cap_at(total, plan.total_cap) if plan.total_cap is not None else total
        else:
            composite = self._combine(items)
            score = composite if plan.score_range is None else composite / plan.points_range[1] * plan.score_range[1]
        errors = [t[ref_name("points", i.name)].isnull() for i in plan.indicators if i.missing.policy == "error"]
        if errors:
            any_error = errors[0]
            for e in errors[1:]:
                any_error = any_error | e
            score = ibis.cases((any_error, ibis.null("float64")), else_=score)
        return score.cast("float64")

    def _tier(self, b: ExprBuilder, t: Any) -> Any:
        import ibis

        plan = self.plan
        if not plan.tiers:
            return ibis.null("string")
        score = t["score"]
        cases = []
        otherwise = None
        for tp in plan.tiers:
            if tp.rule == "otherwise":
                otherwise = tp.name
                break
            if tp.rule == "when":
                cases.append((ibis.coalesce(b(tp.condition), False), tp.name))
            else:
                # customers with a higher score; scores equal but for floating-point error tie
                above = ibis.rank().over(order_by=score.round(QUOTA_DIGITS).desc())
                # top p%: the first floor(p·n) ranks, and every customer tied with the last of them
                limit = (score.count() * tp.top + 1e-9).floor() if tp.top_percent else ibis.literal(tp.top)
                cases.append((score.notnull() & (above < limit), tp.name))
        # a customer without a score can still meet a `when` tier that does not ask for the score
        # (`tier 无记录 when 工单数 == 0`), but gets no quota or `otherwise` tier
        fallback = (ibis.cases((score.isnull(), ibis.null("string")), else_=ibis.literal(otherwise, type="string"))
                    if otherwise else ibis.null("string"))
        return ibis.cases(*cases, else_=fallback) if cases else fallback

    def _segment(self, b: ExprBuilder, seg: P.SegmentPlan) -> Any:
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

    # ---- output ----------------------------------------------------------------------------
    def _output(self, t: Any) -> Evaluation:
        import ibis

        plan = self.plan
        def shown(x: Any) -> Any:  # scores as people read them: 66, not 65.99999999999999 (tiers are already set)
            return x.round(OUTPUT_DECIMALS)

        cols: dict[str, Any] = {plan.key_column: t[KEY], "score": shown(t["score"]), "tier": t["tier"]}
        labelled = {tp.name: tp.label for tp in plan.tiers if tp.label}
        if labelled:  # the tier's name for people: A -> 核心客户
            cols["tier_label"] = t["tier"].cases(*labelled.items(), else_=ibis.null("string"))
        for ind in plan.indicators:
            cols[ind.name] = t[ref_name("value", ind.name)]
            cols[f"{ind.name}.points"] = shown(t[ref_name("points", ind.name)])
        for dim in plan.dimensions:
            cols[dim.name] = shown(t[ref_name("dimension", dim.name)])
        for seg in plan.segments:
            cols[seg.name] = t[ref_name("segment", seg.name)]
        if plan.labels:
            cols["labels"] = ibis.literal(",").join(
                [ibis.cases((t[ref_name("label", n)], ibis.literal(n)), else_=ibis.null("string")) for n in plan.labels])
        flags = [ibis.cases((t[ref_name("value", i.name)].isnull() | t[ref_name("points", i.name)].isnull(),
                             ibis.literal(i.name)), else_=ibis.null("string"))
                 for i in plan.indicators if i.name not in self.override]
        cols["missing"] = ibis.literal(",").join(flags) if flags else ibis.literal("")
        out = t.select(**cols)
        return Evaluation(out, self.issues, list(cols), plan.key_column, self.calibration)


def source_columns(plan: P.Plan, source: str) -> set[str]:
    """The columns of ``source`` the rules read (its key not included)."""
    exprs = list(plan.measures.values()) + [i.expr for i in plan.indicators]
    exprs += [t.condition for t in plan.tiers if t.condition is not None]
    exprs += list(plan.labels.values())
    exprs += [c for s in plan.segments for _, c in s.cases if c is not None]
    out = {c for (s, c) in plan.column_types if s == source}
    for e in exprs:
        for node in walk(e):
            if isinstance(node, (P.Col, P.RowCol)) and node.source == source:
                out.add(node.column)
    return out


def left_join(base: Any, other: Any) -> Any:
    joined = base.left_join(other, KEY)
    return joined.drop(f"{KEY}_right") if f"{KEY}_right" in joined.columns else joined


def cap_at(x: Any, cap: float) -> Any:
    """``x`` but no more than ``cap``; missing stays missing (SQL's least would return the cap)."""
    import ibis

    return ibis.cases((x > cap, ibis.literal(float(cap), type="float64")), else_=x)



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
