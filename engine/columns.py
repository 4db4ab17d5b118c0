"""The columns a result can carry, which are in the default output, and what each is computed from.

``tierwise run --columns score,tier`` picks from these; evaluation computes only what the chosen
columns need (``needs``: internal names of the named values, see ``scoring.ref_name``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..dsl.diagnostics import suggest
from . import plan as P
from .scoring import ref_name


@dataclass(frozen=True)
class OutputColumn:
    name: str
    needs: frozenset[str]
    default: bool


class ColumnError(ValueError):
    """An unknown output column (the message has a did-you-mean where one fits)."""


def catalogue(plan: P.Plan, overrides: bool = False, points_given: frozenset[str] = frozenset()
              ) -> dict[str, OutputColumn]:
    """Every column a result of ``plan`` can carry, in output order. ``overrides``: tier overrides were
    given (``final_tier`` is then a default column). ``points_given``: indicators whose points an
    example fixes (they are not reported missing)."""
    out: dict[str, OutputColumn] = {}
    weighted = plan.scoring == "weighted"

    def add(name: str, needs: set[str], default: bool = True) -> None:
        out[name] = OutputColumn(name, frozenset(needs), default)

    add(plan.key_column, set())
    add("score", {"score"})
    add("tier", {"tier"})
    if any(tp.label for tp in plan.tiers):
        add("tier_label", {"tier"})
    add("final_tier", {"final_tier"},
        default=overrides or any(e.effect in ("cap", "downgrade") for t in plan.triggers for e in t.effects))
    for ind in plan.indicators:
        add(ind.name, {ref_name("value", ind.name)})
        add(f"{ind.name}.points", {ref_name("points", ind.name)})
        add(f"{ind.name}.band", {ref_name("band", ind.name)}, default=False)
        if weighted:
            add(f"{ind.name}.weight", {ref_name("weight", ind.name)}, default=False)
    for dim in plan.dimensions:
        add(dim.name, {ref_name("dimension", dim.name)})
        if weighted:
            add(f"{dim.name}.weight", {ref_name("weight", dim.name)}, default=False)
    for seg in plan.segments:
        add(seg.name, {ref_name("segment", seg.name)})
    if plan.labels:
        add("labels", {ref_name("label", n) for n in plan.labels})
    add("missing", {ref_name(k, i.name) for i in plan.indicators if i.name not in points_given
                    for k in ("value", "points")})
    add("no_score_reason", {"reason"}, default=False)
    add("previous_tier", set(), default=False)  # the final tier of the customer's last stored rating
    if plan.triggers:
        add("triggers", {ref_name("trigger", t.name) for t in plan.triggers}, default=False)
    for name in change_indicators(plan):  # what change(NAME) compared: the last stored value and the change
        add(f"{name}.last", {ref_name("value", name)}, default=False)
        add(f"{name}.change", {ref_name("value", name)}, default=False)
    return out


def change_indicators(plan: P.Plan) -> list[str]:
    """Indicators whose change against the last rating a trigger reads (``change(x)``), in order."""
    seen: dict[str, None] = {}
    for t in plan.triggers:
        for node in P.walk(t.condition):
            if isinstance(node, P.Change):
                seen.setdefault(node.indicator)
    return list(seen)


def default_columns(plan: P.Plan, overrides: bool = False) -> list[str]:
    return [c.name for c in catalogue(plan, overrides).values() if c.default]


def all_columns(plan: P.Plan, overrides: bool = False) -> list[str]:
    """Every column, the explanation columns included (what ``explain`` reads)."""
    return list(catalogue(plan, overrides))


def choose_columns(plan: P.Plan, names: list[str], overrides: bool = False) -> list[str]:
    """The output columns for ``--columns a,b,…``: the key first, then the named ones in the order
    given, each once. ColumnError for a name no result of this ruleset carries."""
    known = catalogue(plan, overrides)
    chosen = [plan.key_column]
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name not in known:
            close = suggest(name, list(known))
            if close:
                raise ColumnError(f"unknown column '{name}' — did you mean '{close}'?")
            per_item = {i.name for i in plan.indicators} | {d.name for d in plan.dimensions}
            own = [c for c in known if c.rpartition(".")[0] not in per_item and c not in per_item]
            raise ColumnError(f"unknown column '{name}'; the columns: {', '.join(own)}, and each indicator's "
                              f"NAME, NAME.points, NAME.band" + (", NAME.weight" if plan.scoring == "weighted" else "")
                              + " (dimensions: NAME" + (", NAME.weight" if plan.scoring == "weighted" else "") + ")")
        if name not in chosen:
            chosen.append(name)
    return chosen


def needs(plan: P.Plan, columns: list[str], points_given: frozenset[str] = frozenset()) -> set[str]:
    """The nodes the ``columns`` read. (Tier overrides change which columns are shown by default, never
    what a column reads.)"""
    known = catalogue(plan, points_given=points_given)
    out: set[str] = set()
    for c in columns:
        out |= known[c].needs
    return out
