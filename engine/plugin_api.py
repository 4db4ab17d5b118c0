"""Base classes that plugins subclass. Nothing here imports Ibis at import time.

A plugin class declares a ``name`` (what rule files call it), an ``Options``
pydantic model (what a rule file may pass it; unknown options are errors) and
the methods below. Ibis objects are passed in and returned; plugins import
``ibis`` inside their methods so ``tierwise check`` stays fast.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict

# for connectors that build Arrow tables of Python values (pyarrow's own builders import pandas)
from .arrow_arrays import arrow_table as arrow_table
from .arrow_arrays import text_array as text_array
from .backends.duckdb import lists_table as lists_table
from .coerce import YEARS

#: the years a date cell is read in (a date outside them is missing, as in text)
DATE_YEARS = YEARS

if TYPE_CHECKING:  # the types plugins annotate with (re-exported: plugins import only this module)
    from .plan import Type
    from .plugin_manager import Registry as Registry
    from .settings import Settings as Settings
    from .settings import UnreadableSettings as UnreadableSettings
    from .store import Store as Store


class PluginOptions(BaseModel):
    """Base of every plugin's options: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataError(Exception):
    """A problem with input data a user can fix (missing file, bad encoding, ...)."""


@dataclass
class DataIssue:
    """Rows of input data that could not be used as they are: counted and reported, never silently lost."""

    what: str  # e.g. "bad number", "duplicate key", "no band matched"
    where: str  # source.column or indicator
    count: int
    samples: list[str] = field(default_factory=list)

    def format(self) -> str:
        s = f"{self.count} row(s): {self.what} in {self.where}"
        if self.samples:
            s += " — e.g. " + "; ".join(self.samples[:5])
        return s


def resolve_path(base_dir: Path, path: str) -> Path:
    """A source's path as a connector reads it: ``~`` expanded, a relative one under ``base_dir`` (the rule
    file's directory)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


@dataclass
class ConnectorContext:
    """What a connector gets besides its options."""

    #: an Ibis DuckDB connection to read files with (DuckDB's read_csv/read_parquet/read_json):
    #: the backend's staging area, whatever the backend; the engine brings the table a connector
    #: returns into the backend (PostgreSQL: COPY; Spark: via Parquet)
    con: Any
    base_dir: Path  # directory of the ruleset file; relative paths resolve here
    temp_dir: Path  # scratch space that lives as long as the run
    source: str = ""  # the source's name in the rule file
    columns: frozenset[str] | None = None  # the columns the rules read (key included); None: not known
    #: how the rules read each of those columns but the key: number, date, string or any (None: not known).
    #: A connector of typed cells (a workbook) may hand a number or date column over in that type when
    #: every cell holds one; everything else, the key included, comes as text
    types: Mapping[str, str] | None = None
    issues: list[DataIssue] = field(default_factory=list)  # what the connector skipped, reported with the run
    backend: Any = None  # the engine the run evaluates on (engine.backends.Backend); None: DuckDB ``con``
    ahead: Any = None  # what the connector's ``prefetch`` returned for this source (None: nothing read ahead)

    def native(self, kind: str, **what: Any) -> Any | None:
        """The source read by the backend's engine itself (Spark reads Parquet files; PostgreSQL a
        table or query of its own database), or None: then read it through ``con`` as usual.
        kinds: ``parquet`` (files=[paths]), ``sql`` (url=, table=, query=, db_schema=)."""
        return self.backend.read_native(kind, **what) if self.backend is not None else None

    def report(self, what: str, where: str, count: int, samples: list[str] | None = None) -> None:
        """Report rows or columns the connector could not use (they are counted, never silently dropped)."""
        place = f"{self.source}.{where}" if self.source and where else (self.source or where)
        self.issues.append(DataIssue(what, place, count,
                                     list(samples or [])))

    def resolve(self, path: str) -> Path:
        return resolve_path(self.base_dir, path)

    def table(self, name: str) -> Any:
        """The Ibis table for a view or table the connector created in ``con`` (``con.table``
        without its Arrow round trip)."""
        from .backends.duckdb import duckdb_table

        return duckdb_table(self.con, name)


class Connector:
    """Reads a source into an Ibis table. ``positional`` names the options that
    positional arguments fill, in order (``csv("a.csv")`` fills ``path``)."""

    name: ClassVar[str]
    Options: ClassVar[type[PluginOptions]]
    positional: ClassVar[tuple[str, ...]] = ("path",)
    #: option that ``--source NAME=VALUE`` replaces
    location_option: ClassVar[str] = "path"
    #: the kinds of file this connector reads, by suffix: ``--source NAME=PATH`` picks by them
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: the URL schemes this connector reads (``postgresql``, ``sqlite``...; a ``+driver`` is
    #: ignored): ``--source NAME=URL`` picks by them
    url_schemes: ClassVar[tuple[str, ...]] = ()

    def open(self, options: Any, ctx: ConnectorContext) -> Any:  # -> ibis.Table
        raise NotImplementedError

    def prefetch(self, options: Any, base_dir: Path) -> Any:
        """Start reading the source in the background (a thread, for work that releases the GIL) while the
        engine connects; what it returns reaches ``open`` as ``ctx.ahead``. A failure there is for ``open``
        to meet again and report. Default: nothing read ahead (None)."""
        return None


class NormalizerOptions(PluginOptions):
    reverse: bool = False  # map high raw values to low points (recency, complaints)


class Normalizer:
    """Maps an indicator's raw values onto the points range, fitted on the run's population.

    ``fit`` returns named Ibis scalar reductions over the population column (e.g.
    ``{"min": col.min()}``); the engine evaluates them (as window reductions in the
    scoring query, or as one aggregate query for the stored calibration) and
    passes them to ``apply`` either as Ibis scalars or as plain floats.
    ``apply`` returns a float expression within [lo, hi] (null where the raw
    value is null); ``reverse`` is applied by the engine.
    """

    name: ClassVar[str]
    Options: ClassVar[type[PluginOptions]] = NormalizerOptions
    description: ClassVar[str] = ""

    def fit(self, column: Any, options: Any) -> dict[str, Any]:
        return {}

    def apply(self, column: Any, params: dict[str, Any], lo: float, hi: float, options: Any) -> Any:
        raise NotImplementedError


class ActionItem(NamedTuple):
    """One delivery: one customer an ``on`` line selected, for one action of that line. A tuple: a run
    may hand a handler hundreds of thousands (a dataclass costs twice as much to make)."""

    customer: str
    tier: str | None  # the final tier of this rating
    score: float | None
    reason: str  # the `on` line's event that fired, e.g. "enter A", "downgrade", "trigger 重大投诉"
    idempotency_key: str  # stable for (run, customer, action): a repeated delivery carries the same key
    previous_tier: str | None = None  # the final tier of the customer's last stored rating


@dataclass
class ActionContext:
    """What a handler may use besides its batch: the settings file (``tierwise.toml``) beside the rule
    file, the directory relative paths are read from, and the rating store (None: a run without one)."""

    settings: Settings | UnreadableSettings | None = None
    base_dir: Path | None = None
    store: Store | None = None
    registry: Registry | None = None  # the handlers a handler may hand on to (notify)

    def actions(self) -> dict[str, type["ActionHandler"]]:
        """The installed action handlers by name (``registry``'s, else the default registry's)."""
        if self.registry is not None:
            return self.registry.actions
        from .plugin_manager import default_registry

        return default_registry().actions

    def unreadable_settings(self) -> UnreadableSettings | None:
        """The settings in place of a ``tierwise.toml`` with errors (a handler that reads it leaves its
        deliveries pending: not their fault), else None."""
        from .settings import UnreadableSettings

        s = self.settings
        return s if isinstance(s, UnreadableSettings) and s.error else None


@dataclass
class ActionBatch:
    run_id: str
    ruleset: str
    action: str
    options: Any
    items: list[ActionItem]
    log: Any  # callable(str) -> None writing a line to the run's log
    context: ActionContext = field(default_factory=ActionContext)


DELIVERED, FAILED, PENDING = "delivered", "failed", "pending"


def closest(name: str, candidates: Any) -> str | None:
    """The candidate closest to ``name`` if one is close enough: what a did-you-mean offers (as `check` does)."""
    from ..dsl.diagnostics import suggest

    return suggest(name, candidates)


def write_table(table: Any, path: Path) -> None:
    """Write an Arrow table as a run's output is written: .csv (UTF-8 with a BOM), .xlsx or .parquet."""
    from .output import write_output

    write_output(table, path)


def postgres_password() -> str | None:
    """The PostgreSQL password from the environment, as the PostgreSQL backend reads it
    (``TIERWISE_PG_PASSWORD``, else ``PGPASSWORD``); None when neither is set."""
    import os

    from .backends.postgres import PASSWORD_VARIABLES

    return next((os.environ[v] for v in PASSWORD_VARIABLES if os.environ.get(v)), None)


class DeliveryResult(NamedTuple):
    """How one item's delivery ended: ``delivered``; ``failed`` for good (the receiver refused it: its
    answer in ``detail``); or ``pending`` (not delivered yet: `tierwise actions retry` tries again).
    A tuple, like the items."""

    idempotency_key: str
    status: str = DELIVERED
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == DELIVERED


@dataclass
class SettingsProblem:
    """What an action's options name that the settings file (``tierwise.toml``) lacks: a check error
    at the action in the rule file (under ``option``'s value when given)."""

    message: str
    option: str | None = None
    expected: str | None = None
    hint: str | None = None


class ActionHandler:
    """Delivers a batch of customers an ``on`` line selected; returns one result per item.

    A handler must be safe to call again with items it may have delivered before (after a crash,
    or a timeout whose answer never came): the items carry the same idempotency keys."""

    name: ClassVar[str]
    Options: ClassVar[type[PluginOptions]] = PluginOptions
    positional: ClassVar[tuple[str, ...]] = ()
    batch_size: ClassVar[int] = 500  # items per deliver() call (a handler's option may say otherwise)
    #: on an `on enter X` line, also hand over the customers leaving X (reason "leave X"): for what a
    #: customer holds while in the tier (a key-account manager), released when they leave
    held_while_in_tier: ClassVar[bool] = False
    #: reads ``tierwise.toml`` (pools, channels): `tierwise check` finds the file beside the rule file and
    #: hands it to ``check_settings``; a rule file that uses the handler without one is an error
    needs_settings: ClassVar[bool] = False

    @classmethod
    def check_settings(cls, options: Any, settings: Settings, registry: Registry | None) -> list[SettingsProblem]:
        """What ``options`` name that ``settings`` lacks; checked by `check`."""
        return []

    def deliver(self, batch: ActionBatch) -> list[DeliveryResult]:
        raise NotImplementedError


@dataclass(frozen=True)
class FunctionContext:
    """What a function gets besides its arguments."""

    as_of: Any  # the rating date, an Ibis date scalar


class Function:
    """A vectorised function callable from rule expressions.

    ``arg_types`` name what each argument is ("number", "date", "string", "any");
    the last one repeats when ``variadic``. ``returns`` is the result type.
    ``build`` gets Ibis expressions and returns one; ``ctx`` carries ``as_of``
    (an Ibis date scalar). ``finite``: the value is never NaN or ±inf when the
    arguments are not (then an indicator reading it needs no guard turning them
    into missing values; left False, the engine guards it). ``strict``: the value
    is missing exactly when an argument is (SQL's RETURNS NULL ON NULL INPUT), so
    the engine counts an indicator's missing values from its columns alone.
    """

    name: ClassVar[str]
    arg_types: ClassVar[tuple[Type, ...]] = ("number",)
    variadic: ClassVar[bool] = False
    returns: ClassVar[Type] = "number"
    description: ClassVar[str] = ""
    finite: ClassVar[bool] = False
    strict: ClassVar[bool] = False

    def build(self, args: list[Any], ctx: FunctionContext) -> Any:
        raise NotImplementedError
