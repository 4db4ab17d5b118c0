"""Source tables as evaluation reads them: the key as text (trimmed, without blanks, one row per key
as far as the data needs it) and the columns the rules read, typed. Builds expressions, runs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dsl.diagnostics import suggest
from . import plan as P
from .coerce import Coercion, WrongType, apply_steps, coercion, float_text
from .plan import walk as walk  # re-exported: the one walk over the Plan
from .plugin_api import DataError

KEY = "__key"


@dataclass(frozen=True)
class KeyFacts:
    """What is known about a source's keys (``quality`` finds it out). Each True asks evaluation to
    deal with it: trim padded keys, drop rows without a key, keep each key's first row."""

    padded: bool = True
    blank: bool = True
    duplicates: bool = True
    #: a source with many rows per customer: its census, computed while counting its bad data — one row
    #: per (trimmed) key with every aggregate the rules read of it (by id); evaluation reads it instead of
    #: aggregating the rows again. Rows without a key are its group of a missing or empty key.
    census: Any = field(default=None, compare=False, hash=False)


UNKNOWN_KEYS = KeyFacts()


def census_keyed(census: Any) -> Any:
    """A census without its group of rows that have no key (a missing or empty key)."""
    return census.filter(census[KEY].notnull() & (census[KEY] != ""))


def col_name(source: str, column: str) -> str:
    return f"s__{source}__{column}"


def all_exprs(plan: P.Plan) -> list[P.Expr]:
    out = list(plan.measures.values()) + [i.expr for i in plan.indicators]
    out += [t.condition for t in plan.tiers if t.condition is not None]
    out += list(plan.labels.values()) + [c for s in plan.segments for _, c in s.cases if c is not None]
    out += [t.condition for t in plan.triggers]
    return out


def column_type(plan: P.Plan, source: str, column: str) -> str:
    """The type the rules read ``source.column`` as."""
    types: dict[tuple[str, str], P.Type] | None = getattr(plan, "column_types", None)
    if types:
        return types.get((source, column), "any")
    for e in all_exprs(plan):
        for node in walk(e):
            if isinstance(node, (P.Col, P.RowCol)) and node.source == source and node.column == column \
                    and node.type != "any":
                return node.type
    return "any"


def source_columns(plan: P.Plan, source: str) -> set[str]:
    """The columns of ``source`` the rules read (its key not included)."""
    out = {c for (s, c) in getattr(plan, "column_types", {}) if s == source}
    for e in all_exprs(plan):
        for node in walk(e):
            if isinstance(node, (P.Col, P.RowCol)) and node.source == source:
                out.add(node.column)
    return out


def compared_texts(plan: P.Plan, source: str) -> dict[str, list[str]]:
    """Per column of ``source``, the texts the rules compare it with (``==``, ``!=``, ``in``), in order."""
    out: dict[str, list[str]] = {}

    def col(e: P.Expr) -> str | None:
        return e.column if isinstance(e, (P.Col, P.RowCol)) and e.source == source else None

    def text(e: P.Expr) -> str | None:
        return e.value if isinstance(e, P.Lit) and isinstance(e.value, str) else None

    for e in all_exprs(plan):
        for node in walk(e):
            pairs: list[tuple[str | None, str | None]] = []
            if isinstance(node, P.Cmp) and node.op in ("==", "!="):
                pairs = [(col(node.left), text(node.right)), (col(node.right), text(node.left))]
            elif isinstance(node, P.InList):
                pairs = [(col(node.operand), text(i)) for i in node.items]
            for c, v in pairs:
                if c is not None and v is not None:
                    out.setdefault(c, []).append(v)
    return out


def _missing_column(source: str, column: str, columns: list[str], what: str = "column") -> DataError:
    close = suggest(column, columns)
    return DataError(f"source '{source}' has no {what} '{column}'"
                     + (f" — did you mean '{close}'?" if close else f"; its columns: {', '.join(columns[:20])}"))


def text_key(table: Any, key: str) -> Any:
    """A key column as text: keys are compared as text; a float key 1001.0 (pandas) is "1001"."""
    raw = table[key]
    if raw.type().is_string():
        return raw
    return float_text(raw) if raw.type().is_floating() else raw.cast("string")


def typed_columns(plan: P.Plan, sp: P.SourcePlan, table: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(``table`` with the intermediate values of typing, internal name -> typed column, column ->
    bad-cell flag; both over that table) for the columns the rules read of ``sp``; a DataError when
    the key or a column is absent or cannot be read as the rules use it. Text is typed in steps
    (``coerce.Coercion``), each intermediate value computed once per row."""
    from .backends.base import ROW_ORDER

    columns = [c for c in table.columns if c != ROW_ORDER]
    if sp.key not in columns:
        raise _missing_column(sp.name, sp.key, columns, "key column")
    coercions: dict[str, Coercion] = {}
    compared = compared_texts(plan, sp.name)
    for i, c in enumerate(sorted(source_columns(plan, sp.name))):
        if c not in columns:
            raise _missing_column(sp.name, c, columns)
        try:
            coercions[c] = coercion(c, table[c].type(), column_type(plan, sp.name, c), f"__tw{i}_",
                                    compared.get(c, ()))
        except WrongType as exc:
            raise DataError(f"source '{sp.name}': column '{c}' {exc}") from None
    staged = apply_steps(table, list(coercions.values()))
    typed = {col_name(sp.name, c): k.value(staged) for c, k in coercions.items()}
    bad = {c: k.flag(staged) for c, k in coercions.items() if k.flag is not None}
    return staged, typed, bad


def trim_key(x: Any, backend: Any) -> Any:
    """Keys without the whitespace exports pad cells with (the backend's built-in)."""
    from .coerce import WHITESPACE, trim

    return backend.trim(x, WHITESPACE) if backend is not None else trim(x)


def source_order(table: Any) -> Any:
    """The rows' number in source order: taken by the backend when it read the source
    (``ROW_ORDER``), else the order of the scan (DuckDB keeps a file's order)."""
    import ibis

    from .backends.base import ROW_ORDER

    return table[ROW_ORDER] if ROW_ORDER in table.columns else ibis.row_number()


def first_per_key(table: Any) -> Any:
    """Each key's first row in the table's order (duplicate keys: the first row is used)."""

    numbered = table.mutate(__row=source_order(table))
    return _first_rows(numbered)


def _first_rows(numbered: Any) -> Any:
    """The rows of ``numbered`` (with ``__row``) that come first for their key. The window is a column of
    its own before the filter: a filter on a window expression makes Ibis nest a subquery that PostgreSQL's
    SQL then names out of scope ("missing FROM-clause entry")."""
    marked = numbered.mutate(__first=numbered["__row"].min().over(group_by=numbered[KEY]))
    return marked.filter(marked["__row"] == marked["__first"]).drop("__row", "__first")


class PreparedSources:
    """The sources of ``tables`` typed and keyed (``prepare_source``), each built once for the steps of
    one rating: fitting, scoring and the summary read the same expressions (on Spark the same
    materialised table; on every backend the Python that builds them runs once). ``hold``: the sources of
    one row per customer are kept by the backend once typed (``Backend.held_typed``), for ratings whose
    queries each read them whole (explaining a customer: the fitting, then the population beside it)."""

    def __init__(self, plan: P.Plan, tables: dict[str, Any], facts: dict[str, KeyFacts] | None = None,
                 backend: Any = None, *, hold: bool = False):
        self.plan, self.tables, self.facts, self.backend = plan, tables, facts or {}, backend
        self.hold = hold and backend is not None
        self._built: dict[str, Any] = {}

    def get(self, sp: P.SourcePlan) -> Any:
        if sp.name not in self._built:
            if sp.name not in self.tables:
                raise DataError(f"no data for source '{sp.name}'")
            built = prepare_source(self.plan, sp, self.tables[sp.name], self.facts.get(sp.name, UNKNOWN_KEYS),
                                   self.backend)
            self._built[sp.name] = self.backend.held_typed(built, sp.name) if self.hold and not sp.multi_row else built
        return self._built[sp.name]

    def over(self, tables: dict[str, Any], facts: dict[str, KeyFacts] | None) -> "PreparedSources":
        """Itself, checked to be built over ``tables`` with ``facts`` (a step given another's sources)."""
        if tables is not self.tables or (facts or {}) != self.facts:
            raise ValueError("the prepared sources were built over other tables or key facts")
        return self


def prepare_source(plan: P.Plan, sp: P.SourcePlan, table: Any, facts: KeyFacts = UNKNOWN_KEYS,
                   backend: Any = None) -> Any:
    """The source as (__key, typed columns): keys trimmed, rows without a key dropped and duplicate
    keys reduced to their first row, as far as ``facts`` say that is needed."""
    table, typed, _ = typed_columns(plan, sp, table)
    raw = text_key(table, sp.key)
    key = trim_key(raw, backend) if facts.padded and table[sp.key].type().is_string() else raw
    if facts.duplicates and not sp.multi_row:
        out = table.select(**{KEY: key}, **typed, __row=source_order(table))
        if facts.blank:
            out = out.filter(out[KEY].notnull() & (out[KEY] != ""))
        out = _first_rows(out)
        return backend.prepared(out, sp.name) if backend is not None else out
    out = table.select(**{KEY: key}, **typed)
    out = out.filter(out[KEY].notnull() & (out[KEY] != "")) if facts.blank else out
    return backend.prepared(out, sp.name) if backend is not None else out
