"""The backend interface: what evaluation and a run need from a query engine.

Evaluation builds Ibis expressions and never runs them; a backend runs them.
Everything engine-specific (connecting, materialising, fetching, writing files,
the few built-in SQL functions Ibis has no method for) sits behind this class.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar


class Backend(ABC):
    """One connection to a query engine. ``con`` is its Ibis backend."""

    name: ClassVar[str]
    con: Any

    # ---- running expressions --------------------------------------------------------
    @abstractmethod
    def fetch_rows(self, expr: Any) -> list[dict[str, Any]]:
        """Execute a (small) Ibis table expression; its rows as dicts."""

    def fetch_one(self, expr: Any) -> dict[str, Any]:
        rows = self.fetch_rows(expr)
        return rows[0] if rows else {}

    @abstractmethod
    def materialise(self, expr: Any, name: str) -> Any:
        """Compute ``expr`` once into a temporary table ``name``; the Ibis table over it."""

    @abstractmethod
    def write_parquet(self, expr: Any, path: Path) -> None:
        """Stream the result of ``expr`` into a Parquet file (the engine writes it, no rows through Python)."""

    @abstractmethod
    def read_parquet(self, path: Path, name: str) -> Any:
        """A Parquet file (e.g. one ``write_parquet`` wrote) as the table ``name``, read where it lies."""

    @abstractmethod
    def from_arrow(self, table: Any, name: str) -> Any:
        """A pyarrow Table (rows made in Python: examples, spreadsheets) as a temporary table."""

    def table(self, name: str) -> Any:
        """The Ibis table for a table or view of this backend."""
        return self.con.table(name)

    def query_progress(self) -> float | None:
        """How far the query under way is, 0..100, if this engine says (None: it does not, or no query)."""
        return None

    def close(self) -> None:
        self.con.disconnect()

    # ---- built-in functions Ibis has no method for ---------------------------------------
    @abstractmethod
    def trim(self, s: Any, characters: str) -> Any:
        """``s`` without any of ``characters`` at either end."""

    @abstractmethod
    def try_strptime(self, s: Any, formats: list[str]) -> Any:
        """The timestamp ``s`` reads as in the first of the strptime ``formats`` that fits; NULL if none."""

    @abstractmethod
    def local_timestamp(self, zone: str, ts: Any) -> Any:
        """The wall-clock time in ``zone`` of a time-zone aware timestamp."""
