"""The backend interface: what evaluation and a run need from a query engine.

Evaluation builds Ibis expressions and never runs them; a backend runs them.
Everything engine-specific (connecting, reading sources, materialising,
fetching, writing files, the few built-in SQL functions Ibis has no method
for, memory limits) sits behind this class.

Sources: connectors read files with DuckDB's readers (GBK transcoding, ragged
lines, JSON) on the backend's *staging* DuckDB connection; ``adopt`` brings
such a table into the backend's engine (DuckDB: as it is; PostgreSQL: COPY;
Spark: through Parquet). A source the backend reads itself (``read_native``:
Spark reads Parquet, PostgreSQL a table of its own database) never passes
through staging.

Duplicate keys: every backend numbers a source's rows in source order when it
reads them (``ROW_ORDER``), and the first row of a key wins.
"""
from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

#: a source's row number in source order, taken when the backend reads it (see ``adopt``)
ROW_ORDER = "__tierwise_row"


@dataclass(frozen=True)
class Limits:
    """How much memory a backend may use and where it spills what does not fit."""

    memory: int  # bytes
    spill_dir: Path
    explicit: bool = False  # TIERWISE_MEMORY_LIMIT was given

    @classmethod
    def from_environment(cls) -> "Limits":
        """``TIERWISE_MEMORY_LIMIT`` (e.g. ``4GB``, ``512MB``; default: 75% of this machine's memory)
        and ``TIERWISE_SPILL_DIR`` (default: a folder in the system's temporary directory)."""
        text = os.environ.get("TIERWISE_MEMORY_LIMIT", "").strip()
        memory = parse_size(text) if text else int(physical_memory() * 0.75)
        spill = os.environ.get("TIERWISE_SPILL_DIR", "").strip()
        import tempfile

        return cls(memory, Path(spill) if spill else Path(tempfile.gettempdir()) / "tierwise-spill", bool(text))

    def text(self, unit: str = "MB") -> str:
        return f"{self.memory // 2 ** 20}{unit}"


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return 4 * 2 ** 30


def parse_size(text: str) -> int:
    """``4GB`` / ``512 MB`` / ``2g`` / ``1073741824`` -> bytes; a DataError for anything else."""
    import re

    from ..plugin_api import DataError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text, re.IGNORECASE)
    if not m:
        raise DataError(f"TIERWISE_MEMORY_LIMIT={text!r} is not a size: write it like 4GB or 512MB")
    scale = {"": 1, "k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30, "t": 2 ** 40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (DuckDB and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


def typed_table_name(source: str) -> str:
    """A new temporary table's name for the typed rows of ``source`` (any characters of its name)."""
    import re
    import uuid

    return f"tierwise_typed_{re.sub(r'[^A-Za-z0-9_]', '_', source)}_{uuid.uuid4().hex[:8]}"


def out_of_memory_message(limits: Limits, engine: str, how: str) -> str:
    return (f"out of memory: the {engine} query needs more than the memory it may use "
            f"({limits.text()}; {how}). Set TIERWISE_MEMORY_LIMIT higher (e.g. TIERWISE_MEMORY_LIMIT=8GB), "
            f"rate fewer customers at once, or use a bigger backend (--backend spark)")


class Backend(ABC):
    """One connection to a query engine. ``con`` is its Ibis backend; ``staging`` a DuckDB Ibis
    connection connectors read files with (for DuckDB: ``con`` itself)."""

    name: ClassVar[str]
    con: Any
    limits: Limits

    # ---- sources -----------------------------------------------------------------------------
    @property
    @abstractmethod
    def staging(self) -> Any:
        """The DuckDB Ibis connection connectors read files with (their tables are ``adopt``-ed)."""

    @abstractmethod
    def adopt(self, table: Any, name: str) -> Any:
        """A source's table (on staging, or already this backend's) as a table of this backend,
        numbered in source order (``ROW_ORDER``) where the engine cannot number it later."""

    def read_native(self, kind: str, **what: Any) -> Any | None:
        """The source read by this engine itself, or None when it does not read this kind.
        kinds: ``parquet`` (files=[...]), ``sql`` (url=..., table=..., query=..., db_schema=...)."""
        return None

    def held(self, table: Any, columns: list[str], name: str) -> Any:
        """A source several queries read (one row per customer: counted, fitted, scored), its ``columns``
        held once by the engine where reading it again in every query costs more than keeping it; else
        ``table`` itself."""
        return table

    def prepared(self, table: Any, source: str) -> Any:
        """A source with its columns typed (text parsed as numbers and dates, in steps: see
        ``coerce.Coercion``): kept as an expression where a query computes it cheaply (DuckDB), else
        materialised once."""
        return table

    def held_typed(self, table: Any, source: str) -> Any:
        """A typed source (``prepared``) that several queries read whole, computed once into a temporary
        table: typing text cells and keeping each key's first row in every query costs more than that
        (and a query that reads a table plans in a fraction of the time)."""
        return self.materialise(table, typed_table_name(source))

    # ---- running expressions --------------------------------------------------------------------
    @abstractmethod
    def fetch_tuples(self, expr: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Execute an Ibis table expression: (its column names, its rows as tuples in that order)."""

    def fetch_rows(self, expr: Any) -> list[dict[str, Any]]:
        """Execute a (small) Ibis table expression; its rows as dicts."""
        names, rows = self.fetch_tuples(expr)
        return [dict(zip(names, row)) for row in rows]

    def fetch_one(self, expr: Any) -> dict[str, Any]:
        rows = self.fetch_rows(expr)
        return rows[0] if rows else {}

    @abstractmethod
    def materialise(self, expr: Any, name: str) -> Any:
        """Compute ``expr`` once into a temporary table ``name``; the Ibis table over it."""

    @abstractmethod
    def write_parquet(self, expr: Any, path: Path) -> None:
        """Write the result of ``expr`` into one Parquet file at ``path``."""

    @abstractmethod
    def read_parquet(self, path: Path, name: str) -> Any:
        """A Parquet file (e.g. one ``write_parquet`` wrote) as the table ``name``."""

    def save(self, expr: Any, path: Path, name: str) -> Any:
        """Compute ``expr`` once, write it to the Parquet file ``path`` and give a table over the
        saved rows (the run's result: summarised, acted on and written from there)."""
        self.write_parquet(expr, path)
        return self.read_parquet(path, name)

    @abstractmethod
    def from_arrow(self, table: Any, name: str) -> Any:
        """A pyarrow Table (rows made in Python: examples) as a temporary table, numbered in order."""

    def from_lists(self, table: Any, name: str) -> Any:
        """A ``ListTable`` (the store's last ratings, its overrides) as the temporary table ``name``."""
        return self.from_arrow(table.to_arrow(), name)

    def table(self, name: str) -> Any:
        """The Ibis table for a table or view of this backend."""
        return self.con.table(name)

    def query_progress(self) -> float | None:
        """How far the query under way is, 0..100, if this engine says (None: it does not, or no query)."""
        return None

    def close(self) -> None:
        self.con.disconnect()

    # ---- errors -----------------------------------------------------------------------------------
    def out_of_memory(self, exc: BaseException) -> bool:
        """True when ``exc`` is the engine running out of memory (or of spill space)."""
        return False

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Running out of memory becomes one clear DataError (never a crash or a traceback)."""
        from ..plugin_api import DataError

        try:
            yield
        except DataError:
            raise
        except Exception as exc:
            if self.out_of_memory(exc):
                raise DataError(self.memory_message()) from None
            raise

    def memory_message(self) -> str:
        return out_of_memory_message(self.limits, self.name, "TIERWISE_MEMORY_LIMIT")

    # ---- built-in functions Ibis has no method for -------------------------------------------------
    @abstractmethod
    def trim(self, s: Any, characters: str) -> Any:
        """``s`` without any of ``characters`` at either end."""

    @abstractmethod
    def try_strptime(self, s: Any, formats: list[str]) -> Any:
        """The date ``s`` reads as in the first of the strptime ``formats`` that fits; NULL if none
        (a 4-digit year; %m and %d take one or two digits, as DuckDB's strptime)."""

    @abstractmethod
    def local_timestamp(self, zone: str, ts: Any) -> Any:
        """The wall-clock time in ``zone`` of a time-zone aware timestamp."""


class PortableBuiltins:
    """trim and try_strptime written with Ibis's portable operations (engines without DuckDB's
    functions: PostgreSQL, Spark); put before Backend in the bases."""

    def trim(self, s: Any, characters: str) -> Any:
        from .portable import btrim

        return btrim(s, characters)

    def try_strptime(self, s: Any, formats: list[str]) -> Any:
        from .portable import regex_strptime

        return regex_strptime(s, formats)
