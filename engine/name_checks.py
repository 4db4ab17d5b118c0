"""Checks on the Plan's names: circular definitions, names that clash with output columns, comparisons
with a tier or segment case that does not exist. Each reads only the Plan and the spans it carries."""
from __future__ import annotations

from typing import Sequence

from ..dsl import ast as A
from ..dsl.diagnostics import Diagnostics, suggest
from . import plan as P

#: the columns of a result besides the rules' own (the key column is added per plan); ``NAME.band`` and
#: ``NAME.weight`` are the explanation columns of each indicator, reserved with ``NAME.points``
OUTPUT_COLUMNS = ("score", "tier", "tier_label", "labels", "missing", "no_score_reason", "final_tier")
PER_INDICATOR = ("points", "band", "weight")
KIND_WORDS = {"measure": "measure", "value": "indicator", "points": "indicator", "dimension": "dimension",
              "score": "score", "tier": "tiers", "label": "label", "segment": "segment"}


def _node_text(plan: P.Plan, node: tuple[str, str]) -> str:
    kind, name = node
    word = KIND_WORDS.get(kind, kind)
    text = f"{word} {name}" if name else word
    span = plan.spans.get(node)
    return f"{text} (line {span.line})" if span is not None and span.line else text


def check_cycles(plan: P.Plan, d: Diagnostics) -> None:
    """Named values may read each other, but not in a circle (measures, indicators, labels, segments,
    and through score and tiers): each circle once, with its names and lines, at its first name."""
    # an indicator's value and points are one name for a reader: fold them together
    def fold(node: tuple[str, str]) -> tuple[str, str]:
        return ("value", node[1]) if node[0] == "points" else node

    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for node, refs in plan.deps.items():
        if node[0] != "points":  # points come from the value: folded, that edge is no circle
            graph.setdefault(node, set()).update(fold(r) for r in refs)
    reported: set[frozenset[tuple[str, str]]] = set()
    state: dict[tuple[str, str], int] = {}
    for root in graph:
        if state.get(root):
            continue
        # iterative depth-first search: (node, its successors still to visit)
        path: list[tuple[str, str]] = [root]
        stack = [iter(sorted(graph.get(root, ())))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):]
                members = frozenset(cycle)
                if members not in reported:
                    reported.add(members)
                    span = next((plan.spans.get(n) for n in cycle if plan.spans.get(n) is not None), None)
                    d.error("circular definition: " + " -> ".join(_node_text(plan, n) for n in cycle)
                            + f" -> {_node_text(plan, nxt).split(' (line')[0]}", span,
                            hint="a value cannot be computed from itself: compute one of them from the data "
                                 "(source columns), not from the others")
            elif nxt in graph and not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))


def check_output_names(plan: P.Plan, d: Diagnostics) -> None:
    """An indicator, dimension or segment is a column of the result: named like another column of it (the
    key, score, tier, an indicator's NAME.points ...) one would silently replace the other."""
    key = plan.key_column if plan.sources else None
    taken: dict[str, str] = {c.casefold(): f"the output column '{c}'" for c in OUTPUT_COLUMNS}
    for ind in plan.indicators:
        for suffix in PER_INDICATOR:
            taken.setdefault(f"{ind.name}.{suffix}".casefold(),
                             f"the column '{ind.name}.{suffix}' of indicator {ind.name}")
    if key is not None:
        taken[key.casefold()] = f"the key column '{key}' of source {plan.primary}"
    named = [("indicator", i.name, plan.spans.get(("value", i.name))) for i in plan.indicators]
    named += [("dimension", dm.name, plan.spans.get(("dimension", dm.name))) for dm in plan.dimensions]
    named += [("segment", s.name, s.name_span) for s in plan.segments]
    for kind, name, span in named:
        clash = taken.get(name.casefold())
        if clash is not None:
            d.error(f"{kind} '{name}' is named like {clash}: in the results one would replace the other",
                    span, hint=f"rename the {kind}")


def check_named_values(plan: P.Plan, d: Diagnostics) -> None:
    """`tier == "C"` with no tier C (or a tier's label), `SEGMENT == "x"` with no case x: never true."""
    tiers = {t.name for t in plan.tiers}
    segments = {s.name: [value for value, _ in s.cases] for s in plan.segments}
    exprs = [lb.condition for lb in plan.label_rules] + [t.condition for t in plan.triggers]
    exprs += [cond for s in plan.segments for _, cond in s.cases if cond is not None]
    for expr in exprs:
        for node in P.walk(expr):
            pairs: list[tuple[P.Expr, P.Expr]] = []
            if isinstance(node, P.Cmp) and node.op in ("==", "!="):
                pairs = [(node.left, node.right), (node.right, node.left)]
            elif isinstance(node, P.InList):
                pairs = [(node.operand, item) for item in node.items]
            for ref, lit in pairs:
                if not (isinstance(ref, P.Ref) and isinstance(lit, P.Lit) and lit.type == "string"):
                    continue
                if ref.kind == "tier" and plan.tiers and lit.value not in tiers:
                    d.warning(f"there is no tier '{lit.value}': this comparison never matches", lit.span,
                              expected="one of: " + ", ".join(t.name for t in plan.tiers),
                              hint=tier_hint(lit.value, plan.tiers))
                elif ref.kind == "segment" and ref.name in segments and lit.value not in segments[ref.name]:
                    close = suggest(lit.value, segments[ref.name])
                    d.warning(f"segment {ref.name} has no case '{lit.value}': this comparison never matches",
                              lit.span, expected="one of: " + ", ".join(segments[ref.name]),
                              hint=f"did you mean '{close}'?" if close else None)


def tier_hint(name: str, tiers: Sequence[P.TierPlan | A.Tier]) -> str | None:
    """did you mean: a tier whose label this is (`核心客户` for A), or a close name (`a` for A)."""
    by_label = next((t for t in tiers if t.label is not None and t.label == name), None)
    if by_label is not None:
        return f"did you mean '{by_label.name}'? '{name}' is its label; rules name tiers by NAME"
    close = suggest(name or "", [t.name for t in tiers])
    return f"did you mean '{close}'?" if close else None


