"""What changed between two ratings of the same customers: the tier migration matrix, who moved, and why.

The core, ``compare_tables``, compares two tables of ratings (``customer``, ``tier``, ``score``) with
one set of portable SQL run where they live: ``compare_runs`` runs it in the rating store's database
over two stored runs (final tiers, never recomputed; nothing but the movers leaves the database);
``tierwise diff`` (engine.parallel_run) runs it in DuckDB over the results of one data set rated by
two rulesets. The matrix counts customers rated in both by (tier before, tier after); shares are
of those customers. The score shift per tier is the mean and median of after − before over the
customers of that tier before (scored in both). A mover's reasons are the indicators whose points
changed most (points are read for the movers only, through ``points_of``).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .store import Store
from .store.models import Rating, Run, table_of

NO_TIER = ""  # a customer without a tier, in the matrix

#: the movers' points before and after: customer -> (points before, points after), each name -> points
PointsOf = Callable[[list[str]], dict[str, tuple[dict[str, Any], dict[str, Any]]]]


@dataclass(frozen=True)
class PointsChange:
    indicator: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)


@dataclass
class Mover:
    customer: str
    tier_before: str | None
    tier_after: str | None
    score_before: float | None
    score_after: float | None
    changes: list[PointsChange]  # the indicators whose points changed, biggest change first


@dataclass(frozen=True)
class ScoreShift:
    """The score change (after − before) of the customers in ``tier`` before, scored in both."""

    tier: str
    customers: int
    mean: float | None
    median: float | None


@dataclass(kw_only=True)
class TierChanges:
    tiers: list[str]  # the tier order (the ruleset's), then NO_TIER when anyone has no tier
    matrix: dict[tuple[str, str], int]
    both: int  # customers rated in both
    movers: list[Mover] = field(default_factory=list)
    only_before: int = 0
    only_after: int = 0
    shifts: list[ScoreShift] = field(default_factory=list)  # in the order of ``tiers``

    def share(self, before: str, after: str) -> float:
        return self.matrix.get((before, after), 0) / self.both if self.both else 0.0

    @property
    def moved(self) -> int:
        return sum(n for (a, b), n in self.matrix.items() if a != b)

    @property
    def moved_share(self) -> float:
        return self.moved / self.both if self.both else 0.0


@dataclass(kw_only=True)
class RunChanges(TierChanges):
    before: Run
    after: Run


def tier_order(*runs: Run) -> list[str]:
    """The tiers in the ruleset's order, as each run recorded its counts (newer runs' tiers first)."""
    order: list[str] = []
    for run in runs:
        for t in json.loads(run.tier_counts or "{}"):
            if t not in order and t != NO_TIER:
                order.append(t)
    return order


#: runs the core's SQL over the two relations ``a`` and ``b`` (columns customer, tier, score) where
#: the ratings live, and gives the rows back as tuples
Query = Callable[[str], list[tuple[Any, ...]]]

_T = "coalesce({0}.tier, '')"  # NO_TIER
_JOIN = "a join b on a.customer = b.customer"
MATRIX = f"select {_T.format('a')}, {_T.format('b')}, count(*) from {_JOIN} group by {_T.format('a')}, {_T.format('b')}"
SIZES = "select (select count(*) from a), (select count(*) from b)"
# mean and exact median per tier before (the median from the middle rank(s): portable SQL, no median())
SHIFTS = (f"select t, count(*), avg(d), avg(case when 2 * rn between n and n + 2 then d end) from ("
          f"select {_T.format('a')} as t, b.score - a.score as d, "
          f"row_number() over (partition by {_T.format('a')} order by b.score - a.score) as rn, "
          f"count(*) over (partition by {_T.format('a')}) as n "
          f"from {_JOIN} where a.score is not null and b.score is not null) s group by t")
MOVED = (f"select a.customer, a.tier, b.tier, a.score, b.score from {_JOIN} "
         f"where {_T.format('a')} <> {_T.format('b')} order by a.customer")


def compare_tables(query: Query, tiers: list[str], points_of: PointsOf | None = None, top: int = 3) -> TierChanges:
    """Compare two tables of ratings, ``a`` (before) and ``b`` (after), each with ``customer``, ``tier``
    and ``score``, through ``query`` (the SQL runs where they are: the rating store's database, or
    DuckDB over two results): the migration matrix, the score shift per tier before, and every
    customer whose tier differs (in key order) with the ``top`` indicators whose points changed most.
    ``tiers``: the tier order to show."""
    matrix = {(x, y): int(n) for x, y, n in query(MATRIX)}
    [(n_before, n_after)] = query(SIZES)
    both = sum(matrix.values())
    order = list(tiers)
    if any(NO_TIER in k for k in matrix) and NO_TIER not in order:
        order.append(NO_TIER)
    for x, y in matrix:  # a tier the order did not name (a renamed tier): at the end, in order seen
        for t in (x, y):
            if t not in order:
                order.append(t)
    shifts = {t: ScoreShift(t, int(n), _float(mean), _float(median)) for t, n, mean, median in query(SHIFTS)}
    moved = query(MOVED)
    keys = [str(m[0]) for m in moved]
    points = points_of(keys) if points_of is not None and keys else {}
    movers = [Mover(k, ta, tb, sa_, sb, points_changes(*points.get(k, ({}, {})))[:top])
              for k, (_, ta, tb, sa_, sb) in zip(keys, moved)]
    return TierChanges(tiers=order, matrix=matrix, both=both, movers=movers, only_before=int(n_before) - both,
                       only_after=int(n_after) - both, shifts=[shifts[t] for t in order if t in shifts])


def _float(x: Any) -> float | None:
    return None if x is None else round(float(x), 10)  # as scores are: no float noise of the mean


def compare_runs(store: Store, before: Run, after: Run, top: int = 3) -> RunChanges:
    """The migration matrix of final tiers from ``before`` to ``after`` and every customer that moved."""
    r = table_of(Rating)
    side = f"select customer, final_tier as tier, score from {r.name} where run_id = "
    with_runs = f"with a as ({side}:before), b as ({side}:after) "

    def query(sql: str) -> list[tuple[Any, ...]]:
        with store.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(with_runs + sql),
                                                       {"before": before.id, "after": after.id})]

    def points_of(movers: list[str]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        a, b = r.alias("a"), r.alias("b")
        on = sa.and_(a.c.customer == b.c.customer, a.c.run_id == before.id, b.c.run_id == after.id)
        ta, tb = sa.func.coalesce(a.c.final_tier, NO_TIER), sa.func.coalesce(b.c.final_tier, NO_TIER)
        with store.engine.connect() as conn:  # the movers, by the same rule: their final tiers differ
            rows = conn.execute(sa.select(a.c.customer, a.c.points, b.c.points).select_from(a.join(b, on))
                                .where(ta != tb)).all()
        return {c: (json.loads(pa_ or "{}"), json.loads(pb or "{}")) for c, pa_, pb in rows}

    ch = compare_tables(query, tier_order(after, before), points_of, top)
    return RunChanges(before=before, after=after, **{f: getattr(ch, f) for f in ch.__dataclass_fields__})


def points_changes(before: dict[str, Any] | str | None, after: dict[str, Any] | str | None) -> list[PointsChange]:
    """The indicators whose points differ between two ratings' points (name -> points, or that as
    JSON), biggest change first."""
    pa: dict[str, Any] = json.loads(before or "{}") if not isinstance(before, dict) else before
    pb: dict[str, Any] = json.loads(after or "{}") if not isinstance(after, dict) else after
    out = [PointsChange(k, pa.get(k), pb.get(k)) for k in dict.fromkeys([*pa, *pb])
           if not _same(pa.get(k), pb.get(k))]
    return sorted(out, key=lambda c: -abs(c.delta))


def _same(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
