"""tierwise: rate and tier customers with declarative rules.

``tierwise.load(path)`` reads a rule file; ``.rate(records, calibration=...)`` rates records in
process (see ``tierwise.engine.api``). Imports stay lazy: ``import tierwise`` loads no query engine.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load(path: Any) -> Any:
    """A checked ruleset, ready to ``rate(records, calibration=...)`` (``tierwise.engine.api.Ruleset``)."""
    from .engine.api import load as _load

    return _load(path)
