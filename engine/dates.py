"""The date spellings tierwise reads, everywhere: rule literals (an example's as_of), the CLI's --as-of and
the cells of data sources (through the SQL ``strptime`` formats below). One table; nothing else lists them.

Data cells also take what only exports write: a time of day after the date (dropped) and Excel serial
day numbers; see engine.coerce.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Spelling:
    example: str  # 2026-06-30 written this way
    strptime: str  # the format for SQL strptime (data cells)
    pattern: re.Pattern[str]  # year, month, day groups (rule literals, --as-of)


SPELLINGS = (
    Spelling("2026-06-30", "%Y-%m-%d", re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")),
    Spelling("2026/6/30", "%Y/%m/%d", re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")),
    Spelling("2026.6.30", "%Y.%m.%d", re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$")),
    Spelling("2026年6月30日", "%Y年%m月%d日", re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")),
    Spelling("20260630", "%Y%m%d", re.compile(r"^(\d{4})(\d{2})(\d{2})$")),
)
#: the formats data cells are parsed with (engine.coerce)
STRPTIME_FORMATS = tuple(s.strptime for s in SPELLINGS)
#: "2026/6/30, 2026.6.30, 2026年6月30日 and 20260630 also do": the forms besides ISO, for messages
ALSO = ", ".join(s.example for s in SPELLINGS[1:-1]) + f" and {SPELLINGS[-1].example} also do"


def _parts(text: str) -> tuple[str, str, str] | None:
    for s in SPELLINGS:
        m = s.pattern.match(text.strip())
        if m:
            return m.group(1), m.group(2), m.group(3)
    return None


def parse_date(text: str) -> date | None:
    """2026-06-30, 2026/6/30, 2026.6.30, 2026年6月30日, 20260630; None if it is not a date."""
    parts = _parts(text)
    if parts is None:
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def date_hint(text: str) -> str | None:
    """Why text written like a date is none ("month 2 has no day 30"); None if it is not written like one."""
    parts = _parts(text)
    if parts is None:
        return None
    month, dom = int(parts[1]), int(parts[2])
    return f"there is no month {month}" if not 1 <= month <= 12 else f"month {month} has no day {dom}"
