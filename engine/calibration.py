"""The calibration of a run: each normalized indicator's fitted parameters.

Normalizers (min-max, z-score, percentile, ...) are fitted on a run's population;
the fitted parameters are what ``evaluate`` scores with. Stored with a run, they
let a later re-rating of one customer use the same parameters, so a single
re-rate never shifts everyone else's scores.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FittedNormalizer:
    """One indicator's normalizer and its fitted parameters (``None``: nothing to fit on)."""

    normalizer: str
    params: dict[str, float | None]

    @property
    def complete(self) -> bool:
        return all(v is not None for v in self.params.values())


@dataclass(frozen=True)
class Calibration:
    """Fitted normalizer parameters per indicator name."""

    indicators: dict[str, FittedNormalizer] = field(default_factory=dict)

    def get(self, indicator: str) -> FittedNormalizer | None:
        return self.indicators.get(indicator)

    def params(self, indicator: str) -> dict[str, float | None]:
        fitted = self.indicators.get(indicator)
        return dict(fitted.params) if fitted is not None else {}

    def merged(self, more: "Calibration") -> "Calibration":
        return Calibration({**self.indicators, **more.indicators})

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1,
                "indicators": {name: {"normalizer": f.normalizer, "params": dict(f.params)}
                               for name, f in self.indicators.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> "Calibration":
        if not isinstance(data, dict) or not isinstance(data.get("indicators", {}), dict):
            raise ValueError("a calibration is an object with 'indicators'")
        out: dict[str, FittedNormalizer] = {}
        for name, item in data.get("indicators", {}).items():
            if not isinstance(item, dict) or not isinstance(item.get("normalizer"), str) \
                    or not isinstance(item.get("params"), dict):
                raise ValueError(f"calibration of '{name}': needs 'normalizer' (text) and 'params' (object)")
            params: dict[str, float | None] = {}
            for k, v in item["params"].items():
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                    raise ValueError(f"calibration of '{name}': parameter '{k}' is not a finite number")
                params[str(k)] = None if v is None else float(v)
            out[str(name)] = FittedNormalizer(item["normalizer"], params)
        return cls(out)

    @classmethod
    def from_json(cls, text: str) -> "Calibration":
        return cls.from_dict(json.loads(text))
