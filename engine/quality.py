"""Counting bad data: cells that do not read as their type, blank, padded and duplicate keys,
cells written as percentages, rows of a source whose key is no customer.

One aggregate query over every source at once (a cross join of one-row aggregates); a second
only when there are other sources to match keys against; sample rows only for what was found.
What it learns about the keys (``KeyFacts``) lets evaluation skip trimming and de-duplicating
keys that need neither.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from . import plan as P
from .aggregates import plan_aggregates, source_aggregates
from .prepare import KEY, KeyFacts, census_keyed, column_type, prepare_source, text_key, typed_columns
from .plugin_api import DataError, DataIssue


@dataclass
class DataQuality:
    issues: list[DataIssue] = field(default_factory=list)
    keys: dict[str, KeyFacts] = field(default_factory=dict)


def percent_suspects(plan: P.Plan, sp: P.SourcePlan, table: Any) -> dict[str, str]:
    """Text columns an indicator scores directly with number bands cutting above 1 (column -> indicator)."""
    out: dict[str, str] = {}
    for ind in plan.indicators:
        e = ind.expr
        if (isinstance(e, P.Col) and e.source == sp.name and ind.bands and not ind.percent_compared
                and e.column in table.columns and table[e.column].type().is_string()
                and any(isinstance(v, (int, float)) and abs(v) > 1 for b in ind.bands for v in b.values)):
            out.setdefault(e.column, ind.name)
    return out


def _source_metrics(plan: P.Plan, sp: P.SourcePlan, table: Any, backend: Any,
                    registry: Any, as_of: date | None) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, str], Any]:
    """(the table the metrics read: ``table`` with the intermediate values of typing, the metrics,
    the bad-cell flags, the percent suspects, the census of a source with many rows per customer)."""
    import ibis

    from .coerce import WHITESPACE_CLASS as ws

    table, typed, bad = typed_columns(plan, sp, table)
    raw = text_key(table, sp.key)
    is_text = table[sp.key].type().is_string()
    percent = percent_suspects(plan, sp, table)
    if sp.multi_row and sp.name != plan.primary and registry is not None and as_of is not None:
        census = _census(plan, sp, table, typed, bad, percent, raw, backend, registry, as_of)
        key, n = census[KEY], census["__rows"]
        metrics: dict[str, Any] = {"rows": n.sum(),  # blank and padded keys found among the distinct keys
                                   "blank": ibis.cases((key.isnull() | key.re_search(f"^{ws}*$"), n), else_=0).sum(),
                                   "padded": (ibis.cases((key.re_search(f"^{ws}|{ws}$"), n), else_=0).sum()
                                              if is_text else ibis.literal(0))}
        metrics.update({f"b{i}": census[f"__b{i}"].sum() for i in range(len(bad))})
        metrics.update({f"p{i}": census[f"__p{i}"].sum() for i in range(len(percent))})
        return table, metrics, bad, percent, census
    # regular expressions find blank and padded keys without building trimmed strings
    metrics = {"rows": table.count(),
               "blank": (raw.isnull() | raw.re_search(f"^{ws}*$")).sum(),
               "padded": raw.re_search(f"^{ws}|{ws}$").sum() if is_text else ibis.literal(0)}
    if not sp.multi_row:
        metrics["keys"] = raw.nullif("").nunique()
    for i, flag in enumerate(bad.values()):
        metrics[f"b{i}"] = flag.sum()
    for i, c in enumerate(percent):  # cells written "95%" that bands with cuts like 90 compare
        metrics[f"p{i}"] = table[c].re_search(r"[%％]\s*$").sum()
    return table, metrics, bad, percent, None


def _census(plan: P.Plan, sp: P.SourcePlan, table: Any, typed: dict[str, Any], bad: dict[str, Any],
            percent: dict[str, str], raw: Any, backend: Any, registry: Any, as_of: date) -> Any:
    """A log's census, materialised: one row per key as written with its rows, their bad cells and cells
    written with %, and every aggregate the rules read of the source — the one scan of the log a run
    makes. Grouped by the key as written (trimming every row's key costs more than the rest of the
    scan); when some keys turn out padded, evaluation aggregates the trimmed rows itself instead."""
    import ibis

    def one(flag: Any) -> Any:  # 1 where the flag holds (PostgreSQL casts no boolean to a number)
        return ibis.cases((flag, 1), else_=0)

    rows = table.select(**{KEY: raw}, **typed,
                        **{f"__b{i}": one(flag) for i, flag in enumerate(bad.values())},
                        **{f"__p{i}": one(table[c].re_search(r"[%％]\s*$")) for i, c in enumerate(percent)})
    counts = {"__rows": rows.count(),
              **{f"__b{i}": rows[f"__b{i}"].sum() for i in range(len(bad))},
              **{f"__p{i}": rows[f"__p{i}"].sum() for i in range(len(percent))}}
    aggregates = source_aggregates(rows, plan_aggregates(plan, sp.name), registry, as_of)
    census = rows.group_by(KEY).aggregate(**counts, **aggregates)
    return backend.materialise(census, unique_census_name(sp.name))


def unique_census_name(source: str) -> str:
    import re
    import uuid

    return f"tierwise_census_{re.sub(r'[^A-Za-z0-9_]', '_', source)}_{uuid.uuid4().hex[:8]}"


def check_data(plan: P.Plan, tables: dict[str, Any], backend: Any, *, registry: Any = None,
               as_of: date | None = None) -> DataQuality:
    """The data problems of ``tables`` and what their keys need; DataError when there is nothing to rate.
    With ``registry`` and ``as_of`` (a run's), each source with many rows per customer is counted in its
    census, which also aggregates it for evaluation (``KeyFacts.census``): one scan of the log."""
    out = DataQuality()
    per_source = {}
    one_row = None
    for j, sp in enumerate(plan.sources):
        if sp.name not in tables:
            raise DataError(f"no data for source '{sp.name}'")
        staged, metrics, bad, percent, census = _source_metrics(plan, sp, tables[sp.name], backend, registry, as_of)
        per_source[sp.name] = (staged, metrics, bad, percent, census)
        agg = (census if census is not None else staged).aggregate(**{f"s{j}_{k}": v for k, v in metrics.items()})
        one_row = agg if one_row is None else one_row.cross_join(agg)
    row = backend.fetch_one(one_row)
    for j, sp in enumerate(plan.sources):
        staged, metrics, bad, percent, census = per_source[sp.name]
        counts = {k: int(row.get(f"s{j}_{k}") or 0) for k in metrics}  # no rows: sums are NULL
        facts = _report_source(plan, sp, tables[sp.name], staged, counts, bad, percent, backend, out.issues)
        # a census by the keys as written serves evaluation when no key needs trimming
        out.keys[sp.name] = replace(facts, census=census) if census is not None and not facts.padded else facts
    _report_orphans(plan, tables, out, backend)
    return out


def _report_source(plan: P.Plan, sp: P.SourcePlan, table: Any, staged: Any, counts: dict[str, int],
                   bad: dict[str, Any], percent: dict[str, str], backend: Any, issues: list[DataIssue]) -> KeyFacts:
    """Issues from the counts; sample rows of bad cells from ``staged`` (``table`` typed, which the
    flags read); what the keys need."""
    if sp.name == plan.primary and counts["rows"] == 0:
        raise DataError(f"source '{sp.name}' has no data rows: no customers to rate")
    for i, (c, ind) in enumerate(percent.items()):
        if counts[f"p{i}"]:
            issues.append(DataIssue(
                f"cells written with % (95% reads as 0.95) but {ind}'s bands cut at numbers above 1: "
                f"write the bands with % (>= 90%) or the cells without it", f"{sp.name}.{c}", counts[f"p{i}"]))
    if counts["blank"]:
        issues.append(DataIssue("missing key (row skipped)", f"{sp.name}.{sp.key}", counts["blank"]))
    for i, (c, flag) in enumerate(bad.items()):
        n = counts[f"b{i}"]
        if n:
            sample = backend.fetch_rows(staged.filter(flag).select(k=staged[sp.key].cast("string"),
                                                                   v=staged[c]).limit(5))
            issues.append(DataIssue(f"not a {column_type(plan, sp.name, c)} (treated as missing)", f"{sp.name}.{c}", n,
                                    [f"{r['k']}: {r['v']!r}" for r in sample]))
    facts = KeyFacts(padded=counts["padded"] > 0, blank=counts["blank"] > 0, duplicates=False)
    if sp.multi_row:
        return facts
    keys = counts["keys"]
    if counts["padded"]:  # distinct raw keys undercount duplicates once trimmed
        trimmed = prepare_source(plan, sp, table, KeyFacts(padded=True, blank=facts.blank, duplicates=False), backend)
        keys = int(backend.fetch_one(trimmed.aggregate(n=trimmed[KEY].nunique())).get("n") or 0)
    if keys < counts["rows"] - counts["blank"]:
        prepared = prepare_source(plan, sp, table, KeyFacts(padded=facts.padded, blank=facts.blank,
                                                            duplicates=False), backend)
        dup = prepared.group_by(KEY).aggregate(n=prepared.count()).filter(lambda t: t.n > 1)
        dups = backend.fetch_rows(dup.order_by(KEY).limit(5))
        if dups:
            total = int(backend.fetch_one(dup.aggregate(n=dup.count()))["n"])
            issues.append(DataIssue("duplicate key (first row used)", f"{sp.name}.{sp.key}", total,
                                    [f"{r[KEY]} ×{r['n']}" for r in dups]))
            facts = KeyFacts(padded=facts.padded, blank=facts.blank, duplicates=True)
    return facts


def _report_orphans(plan: P.Plan, tables: dict[str, Any], out: DataQuality, backend: Any) -> None:
    """Rows of another source whose key is no customer of the primary source: counted, never silently lost."""
    others = [sp for sp in plan.sources if sp.name != plan.primary]
    if not others:
        return
    primary = next(sp for sp in plan.sources if sp.name == plan.primary)
    population = prepare_source(plan, primary, tables[primary.name], out.keys[primary.name], backend).select(KEY)
    if primary.multi_row:
        population = population.distinct()
    orphans = {}
    one_row = None
    for j, sp in enumerate(others):
        census = out.keys[sp.name].census
        if census is not None:  # the log's keys, counted once: its rows per key
            keys = census_keyed(census).select(KEY, "__rows")
            orphans[sp.name] = keys.anti_join(population, KEY)
            agg = orphans[sp.name].aggregate(**{f"o{j}": orphans[sp.name]["__rows"].sum()})
        else:
            keys = prepare_source(plan, sp, tables[sp.name], out.keys[sp.name], backend).select(KEY)
            orphans[sp.name] = keys.anti_join(population, KEY)
            agg = orphans[sp.name].aggregate(**{f"o{j}": orphans[sp.name].count()})
        one_row = agg if one_row is None else one_row.cross_join(agg)
    row = backend.fetch_one(one_row)
    for j, sp in enumerate(others):
        n = int(row.get(f"o{j}") or 0)
        if n:
            keys = backend.fetch_rows(orphans[sp.name].select(KEY).distinct().order_by(KEY).limit(5))
            out.issues.append(DataIssue(f"key matches no customer of '{plan.primary}' (row not used)",
                                        f"{sp.name}.{sp.key}", n, [str(r[KEY]) for r in keys]))
