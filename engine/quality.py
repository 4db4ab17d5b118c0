"""Counting bad data: cells that do not read as their type, blank, padded and duplicate keys,
cells written as percentages, rows of a source whose key is no customer.

One aggregate query over every source at once (a cross join of one-row aggregates); a second
only when there are other sources to match keys against; sample rows only for what was found.
What it learns about the keys (``KeyFacts``) lets evaluation skip trimming and de-duplicating
keys that need neither.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import plan as P
from .prepare import KEY, KeyFacts, column_type, prepare_source, text_key, typed_columns
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


def _source_metrics(plan: P.Plan, sp: P.SourcePlan, table: Any,
                    backend: Any) -> tuple[Any, dict[str, Any], dict, dict]:
    """(the table the metrics read: ``table`` with the intermediate values of typing, the metrics,
    the bad-cell flags, the percent suspects)."""
    import ibis

    from .coerce import WHITESPACE_CLASS as ws

    table, _, bad = typed_columns(plan, sp, table)
    raw = text_key(table, sp.key)
    is_text = table[sp.key].type().is_string()
    # regular expressions find blank and padded keys without building trimmed strings
    metrics: dict[str, Any] = {"rows": table.count(),
                               "blank": (raw.isnull() | raw.re_search(f"^{ws}*$")).sum(),
                               "padded": raw.re_search(f"^{ws}|{ws}$").sum() if is_text else ibis.literal(0)}
    if not sp.multi_row:
        metrics["keys"] = raw.nullif("").nunique()
    for i, flag in enumerate(bad.values()):
        metrics[f"b{i}"] = flag.sum()
    percent = percent_suspects(plan, sp, table)
    for i, c in enumerate(percent):  # cells written "95%" that bands with cuts like 90 compare
        metrics[f"p{i}"] = table[c].re_search(r"[%％]\s*$").sum()
    return table, metrics, bad, percent


def check_data(plan: P.Plan, tables: dict[str, Any], backend: Any) -> DataQuality:
    """The data problems of ``tables`` and what their keys need; DataError when there is nothing to rate."""
    out = DataQuality()
    per_source = {}
    one_row = None
    for j, sp in enumerate(plan.sources):
        if sp.name not in tables:
            raise DataError(f"no data for source '{sp.name}'")
        staged, metrics, bad, percent = _source_metrics(plan, sp, tables[sp.name], backend)
        per_source[sp.name] = (staged, metrics, bad, percent)
        agg = staged.aggregate(**{f"s{j}_{k}": v for k, v in metrics.items()})
        one_row = agg if one_row is None else one_row.cross_join(agg)
    row = backend.fetch_one(one_row)
    for j, sp in enumerate(plan.sources):
        staged, metrics, bad, percent = per_source[sp.name]
        counts = {k: int(row.get(f"s{j}_{k}") or 0) for k in metrics}  # no rows: sums are NULL
        out.keys[sp.name] = _report_source(plan, sp, tables[sp.name], staged, counts, bad, percent, backend,
                                           out.issues)
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
