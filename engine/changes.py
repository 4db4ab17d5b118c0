"""What changed between two stored runs: the tier migration matrix, who moved, and why.

Read from the rating store (never recomputed): each customer's final tier and points in both runs.
The matrix counts customers rated in both runs by (tier in A, tier in B); shares are of those
customers. A mover's reasons are the indicators whose points changed most.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .store import Store
from .store.models import Rating, Run

NO_TIER = ""  # a customer without a tier, in the matrix


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


@dataclass
class RunChanges:
    before: Run
    after: Run
    tiers: list[str]  # the tier order (the ruleset's), then NO_TIER when anyone has no tier
    matrix: dict[tuple[str, str], int]
    both: int  # customers rated in both runs
    movers: list[Mover] = field(default_factory=list)
    only_before: int = 0
    only_after: int = 0

    def share(self, before: str, after: str) -> float:
        return self.matrix.get((before, after), 0) / self.both if self.both else 0.0

    @property
    def moved(self) -> int:
        return sum(n for (a, b), n in self.matrix.items() if a != b)


def tier_order(*runs: Run) -> list[str]:
    """The tiers in the ruleset's order, as each run recorded its counts (newer runs' tiers first)."""
    order: list[str] = []
    for run in runs:
        for t in json.loads(run.tier_counts or "{}"):
            if t not in order and t != NO_TIER:
                order.append(t)
    return order


def compare_runs(store: Store, before: Run, after: Run, top: int = 3) -> RunChanges:
    """The migration matrix of final tiers from ``before`` to ``after`` and every customer that moved."""
    r = Rating.__table__
    a, b = r.alias("a"), r.alias("b")
    on = sa.and_(a.c.customer == b.c.customer, a.c.run_id == before.id, b.c.run_id == after.id)
    ta, tb = sa.func.coalesce(a.c.final_tier, NO_TIER), sa.func.coalesce(b.c.final_tier, NO_TIER)
    with store.engine.connect() as conn:
        cells = conn.execute(sa.select(ta, tb, sa.func.count()).select_from(a.join(b, on)).group_by(ta, tb)).all()
        counts = dict(conn.execute(sa.select(r.c.run_id, sa.func.count()).where(r.c.run_id.in_([before.id, after.id]))
                                   .group_by(r.c.run_id)).all())
        moved = conn.execute(
            sa.select(a.c.customer, a.c.final_tier, b.c.final_tier, a.c.score, b.c.score, a.c.points, b.c.points)
            .select_from(a.join(b, on))
            .where(ta != tb)
            .order_by(a.c.customer)).all()
    matrix = {(x, y): int(n) for x, y, n in cells}
    both = sum(matrix.values())
    tiers = tier_order(after, before)
    if any(NO_TIER in k for k in matrix):
        tiers.append(NO_TIER)
    for x, y in matrix:  # a tier the runs' counts did not name (a renamed tier): at the end, in order seen
        for t in (x, y):
            if t not in tiers:
                tiers.append(t)
    movers = [Mover(c, ta, tb, sa_, sb, points_changes(pa, pb)[:top]) for c, ta, tb, sa_, sb, pa, pb in moved]
    return RunChanges(before, after, tiers, matrix, both, movers,
                      only_before=int(counts.get(before.id, 0)) - both, only_after=int(counts.get(after.id, 0)) - both)


def points_changes(before: str | None, after: str | None) -> list[PointsChange]:
    """The indicators whose points differ between two ratings' points (JSON), biggest change first."""
    pa: dict[str, Any] = json.loads(before or "{}")
    pb: dict[str, Any] = json.loads(after or "{}")
    out = [PointsChange(k, pa.get(k), pb.get(k)) for k in dict.fromkeys([*pa, *pb])
           if not _same(pa.get(k), pb.get(k))]
    return sorted(out, key=lambda c: -abs(c.delta))


def _same(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
