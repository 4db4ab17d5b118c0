"""``tierwise.toml``: the settings beside the rule files that name what a rule file must not — pools of
key-account managers and notification channels (webhook addresses, secrets' variable names, export files).

Found from the rule file's directory upwards (its parents up to the git root or the filesystem root), or
named by ``TIERWISE_SETTINGS``. Parsed with tomllib, validated by the pydantic models below; every error
comes out as the rule-file diagnostics do (``tierwise.toml:LINE:COL``, the line, a caret, what was expected):
tomllib gives no positions of keys, so ``locate`` finds each key, table and array element in the text.

    [managers.KA]
    managers = ["张三", "李四", "王五"]
    capacity = 40                       # or per manager: capacity = { "张三" = 40, "李四" = 30 }

    [channels.sales]
    kind = "webhook"
    url = "https://crm.example.com/hooks/tierwise"
    secret_env = "TIERWISE_SALES_SECRET"   # the variable that holds the signing secret, never the secret

    [channels.risk]
    kind = "export"
    path = "risk_alerts.xlsx"           # relative to this file's directory

    [channels.audit]
    kind = "log"
    message = "tier changed"
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from ..dsl.ast import Span
from ..dsl.diagnostics import Diagnostics, suggest
from .plugin_api import DataError

SETTINGS_FILE = "tierwise.toml"
SETTINGS_VARIABLE = "TIERWISE_SETTINGS"
CHANNEL_KINDS = ("webhook", "export", "log")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Pool(_Model):
    """A pool of managers ``assign_manager(pool: NAME)`` picks from, in this order on equal load."""

    managers: list[str] = Field(min_length=1)
    #: the most active customers a manager holds: one number for all, or per manager; None: no limit
    capacity: int | dict[str, int] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        """``KA = ["张三", "李四"]`` under [managers] is a pool without capacities."""
        return {"managers": data} if isinstance(data, list) else data

    @field_validator("managers")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        seen: set[str] = set()
        for name in names:
            if not name.strip():
                raise ValueError("a manager's name is blank")
            if name in seen:
                raise ValueError(f"'{name}' is listed twice")
            seen.add(name)
        return names

    @field_validator("capacity")
    @classmethod
    def _positive(cls, capacity: int | dict[str, int] | None) -> int | dict[str, int] | None:
        values = capacity.values() if isinstance(capacity, dict) else [] if capacity is None else [capacity]
        if any(v < 1 for v in values):
            raise ValueError("a capacity is a number of customers, 1 or more")
        return capacity

    @model_validator(mode="after")
    def _capacity_names(self) -> Pool:
        if isinstance(self.capacity, dict):
            unknown = [m for m in self.capacity if m not in self.managers]
            if unknown:
                raise ValueError(f"capacity names '{unknown[0]}', who is not in this pool's managers")
        return self

    def capacity_of(self, manager: str) -> int | None:
        if isinstance(self.capacity, dict):
            return self.capacity.get(manager)
        return self.capacity


WEBHOOK_OPTIONS = ("url", "secret_env", "timeout", "batch", "max_attempts", "backoff", "max_backoff")


class WebhookChannel(_Model):
    """POST the batch to ``url`` through the ``webhook`` handler (HMAC-signed with the secret in ``secret_env``)."""

    kind: Literal["webhook"]
    url: str
    secret_env: str | None = None
    timeout: float | None = Field(None, gt=0)
    batch: int | None = Field(None, gt=0)
    max_attempts: int | None = Field(None, ge=1)
    backoff: float | None = Field(None, gt=0)
    max_backoff: float | None = Field(None, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError("an http:// or https:// address")
        if re.match(r"^https?://[^/@\s]*:[^/@\s]*@", url):
            raise ValueError("a password in the address: put the secret in an environment variable and name it "
                             "in secret_env")
        return url

    @field_validator("secret_env")
    @classmethod
    def _variable(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError("the name of an environment variable (like TIERWISE_SALES_SECRET), not the secret")
        return name

    def handler_options(self, base_dir: Path) -> dict[str, Any]:
        """The ``webhook`` handler's options: what the file sets (the handler's defaults for the rest)."""
        return {k: getattr(self, k) for k in WEBHOOK_OPTIONS if k in self.model_fields_set}


class ExportChannel(_Model):
    """Write the batch's customers to a .csv or .xlsx file (the ``export`` handler)."""

    kind: Literal["export"]
    path: str

    @field_validator("path")
    @classmethod
    def _suffix(cls, path: str) -> str:
        if Path(path).suffix.lower() not in (".csv", ".xlsx"):
            raise ValueError("a file ending in .csv or .xlsx")
        return path

    def handler_options(self, base_dir: Path) -> dict[str, Any]:
        p = Path(self.path).expanduser()
        return {"path": str(p if p.is_absolute() else base_dir / p)}


class LogChannel(_Model):
    """A line per customer in the run's log (the ``log`` handler)."""

    kind: Literal["log"]
    message: str = ""

    def handler_options(self, base_dir: Path) -> dict[str, Any]:
        return {"message": self.message}


Channel = Annotated[WebhookChannel | ExportChannel | LogChannel, Field(discriminator="kind")]


class Settings(_Model):
    """The validated ``tierwise.toml``."""

    managers: dict[str, Pool] = {}
    channels: dict[str, Channel] = {}
    _path: Path | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        """The file the settings were read from (None: made in code)."""
        return self._path

    @property
    def base_dir(self) -> Path:
        """The directory relative paths in the file are read from: the file's own."""
        return self._path.parent if self._path is not None else Path.cwd()


class SettingsError(DataError):
    """``tierwise.toml`` cannot be used: its diagnostics (file:line:col, caret, what was expected)."""

    def __init__(self, diagnostics: Diagnostics):
        super().__init__(diagnostics.format())
        self.diagnostics = diagnostics


# ---- finding and loading ---------------------------------------------------------------------------
def find_settings(rule_file: Path) -> Path | None:
    """``TIERWISE_SETTINGS``, else the first ``tierwise.toml`` in the rule file's directory or its parents,
    up to the git root (a directory holding .git) or the filesystem root."""
    named = os.environ.get(SETTINGS_VARIABLE)
    if named:
        return Path(named).expanduser()
    start = rule_file.parent
    folders = [start, *start.resolve().parents]
    for folder in folders:
        candidate = folder / SETTINGS_FILE
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None


class SettingsLookup:
    """The settings of one rule file as `check` sees them: looked for when an action first needs them,
    read once; a file with errors leaves ``error`` (its diagnostics) and ``get()`` None."""

    def __init__(self, rule_file: Path):
        self.rule_file = Path(rule_file)
        self.path: Path | None = None
        self.settings: Settings | None = None
        self.error: SettingsError | None = None
        self._looked = False

    def get(self) -> Settings | None:
        if not self._looked:
            self._looked = True
            self.path = find_settings(self.rule_file)
            if self.path is not None:
                try:
                    self.settings = read_settings(self.path)
                except SettingsError as exc:
                    self.error = exc
        return self.settings


@dataclass(frozen=True)
class UnreadableSettings:
    """What a delivery gets in place of settings whose file has errors: no pools, no channels, and the
    error, so a handler that needs them leaves its deliveries pending (to retry once the file is fixed)
    while every other handler delivers as usual."""

    error: str
    path: Path | None = None
    managers: dict[str, Pool] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def summary(self) -> str:
        lines = [ln for ln in self.error.split("\n") if ": error: " in ln]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        return f"{SETTINGS_FILE} has errors — fix it, then `tierwise actions retry`: {lines[0] if lines else self.error}{more}"


def settings_for_delivery(rule_file: Path) -> Settings | UnreadableSettings | None:
    """``load_settings`` for handing deliveries over: a file with errors gives UnreadableSettings instead of
    raising, so it holds back only the deliveries that read it."""
    try:
        return load_settings(rule_file)
    except SettingsError as exc:
        return UnreadableSettings(str(exc), find_settings(rule_file))


def load_settings(rule_file: Path) -> Settings | None:
    """The settings for ``rule_file`` (None: there is no tierwise.toml for it). Raises SettingsError
    with the file's diagnostics. Read once per file version (cached by path, size and mtime)."""
    path = find_settings(rule_file)
    if path is None:
        return None
    return read_settings(path)


def read_settings(path: Path) -> Settings:
    try:
        st = path.stat()
    except OSError as exc:
        d = Diagnostics(str(path), None)
        how = f"{SETTINGS_VARIABLE} names it" if os.environ.get(SETTINGS_VARIABLE) else "found"
        d.error(f"cannot read the settings file ({how}): {exc.strerror or exc}")
        raise SettingsError(d) from None
    return _read(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _read(path: str, _size: int, _mtime: int) -> Settings:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        d = Diagnostics(path, None)
        d.error(f"cannot read the settings file: {exc.strerror or exc}")
        raise SettingsError(d) from None
    settings = parse_settings(raw, path)
    settings._path = Path(path)
    return settings


def parse_settings(raw: bytes | str, filename: str = SETTINGS_FILE) -> Settings:
    """Parse and validate settings text; SettingsError with positioned diagnostics when it is wrong."""
    import tomllib

    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            d = Diagnostics(filename, None)
            d.error(f"the settings file is not UTF-8 (byte {exc.start}): TOML files are UTF-8",
                    hint="save it as UTF-8 (in Notepad: Save as… → Encoding: UTF-8)")
            raise SettingsError(d) from None
    else:
        text = raw
    text = text.replace("\r\n", "\n")
    diags = Diagnostics(filename, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        diags.error(f"not valid TOML: {_toml_message(exc)}", _toml_span(exc, text),
                    expected="key = value lines under [table] headers (see https://toml.io)")
        raise SettingsError(diags) from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        where = locate(text)
        seen: set[Loc] = set()
        for err in exc.errors():
            _report(err, data, where, seen, diags)
        raise SettingsError(diags) from None


def _toml_message(exc: Exception) -> str:
    return re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)$", "", str(exc))


def _toml_span(exc: Exception, text: str) -> Span:
    m = re.search(r"at line (\d+), column (\d+)", str(exc))
    lines = text.split("\n")
    if m:
        line, col = int(m.group(1)), int(m.group(2))
    else:  # "at end of document": the last line that holds anything
        line = max((i + 1 for i, ln in enumerate(lines) if ln.strip()), default=1)
        col = len(lines[line - 1]) + 1 if lines else 1
    return Span(line=line, column=col, end_line=line, end_column=col + 1)


# ---- errors -----------------------------------------------------------------------------------------
#: a place in the file: the keys (and list indexes) from the top, as pydantic's error locations give them
Loc = tuple[str | int, ...]
TOP = {"managers": "[managers.POOL] tables: managers = [\"张三\", \"李四\"], capacity = N",
       "channels": "[channels.NAME] tables: kind = \"webhook\" | \"export\" | \"log\" and that kind's options"}
OPTIONS = {"webhook": list(WEBHOOK_OPTIONS), "export": ["path"], "log": ["message"]}


def _report(err: ErrorDetails, data: dict[str, Any], where: dict[Loc, Span], seen: set[Loc],
            diags: Diagnostics) -> None:
    loc = tuple(err.get("loc") or ())
    kind = err.get("type", "")
    # a discriminated union puts the tag into the location: channels.sales.webhook.url -> channels.sales.url
    if len(loc) >= 3 and loc[0] == "channels" and loc[2] in CHANNEL_KINDS:
        loc = loc[:2] + loc[3:]
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg[len(prefix):] if msg.startswith(prefix) else msg
    # a union (capacity = N or a table) reports each form it tried, named in the location: one error
    real = _real_part(loc, data)
    if real != loc:
        loc, msg = real, f"{_get(data, real)!r} is none of the forms it takes"
    if loc in seen:
        return
    seen.add(loc)
    loc = _pinpoint(loc, msg, data)
    name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    span = _span_of(loc, where)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = loc[:-1]
        if not parent:
            allowed, what = list(TOP), "table"
        elif parent[0] == "managers":
            allowed, what = ["managers", "capacity"], "option"
        else:
            allowed, what = ["kind", *OPTIONS.get(_get(data, parent + ("kind",)), [])], "option"
        close = suggest(key, allowed)
        hint = f"did you mean '{close}'?" if close else None
        if key in ("secret", "token", "password") and parent[:1] == ("channels",):
            hint = "a secret lives in the environment: name its variable with secret_env = \"VAR\""
        where_text = "the file" if not parent else f"[{'.'.join(str(p) for p in parent)}]"
        diags.error(f"unknown {what} '{key}' in {where_text}", span,
                    expected="one of: " + ", ".join(allowed), hint=hint)
    elif kind == "missing":
        table = ".".join(str(p) for p in loc[:-1])
        diags.error(f"[{table}] needs '{loc[-1]}'", span, expected=_expected(loc))
    elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
        got = _get(data, loc + ("kind",))
        close = suggest(str(got), CHANNEL_KINDS) if got is not None else None
        what = f"unknown kind of channel '{got}'" if got is not None else f"[{name}] needs 'kind'"
        diags.error(what, _span_of(loc + ("kind",), where) if got is not None else span,
                    expected='kind = "webhook", "export" or "log"', hint=f"did you mean '{close}'?" if close else None)
    elif kind in ("dict_type", "model_type") and len(loc) == 2:
        diags.error(f"'{name}' must be a table", span, expected=_expected(loc))
    else:
        diags.error(f"{name}: {msg}", span, expected=_expected(loc))


def _real_part(loc: Loc, data: Any) -> Loc:
    """``loc`` up to the first part that is no key of the data (pydantic's names of a union's forms);
    a last part that is missing from the data (a required key) stays."""
    node = data
    for n, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif n == len(loc) - 1 and isinstance(node, dict):
            return loc
        else:
            return loc[:n]
    return loc


def _pinpoint(loc: Loc, msg: str, data: dict[str, Any]) -> Loc:
    """The element of a list or table the error is about, where the validator could only name the whole:
    the second of a name listed twice, the capacity that is below 1 or names someone not in the pool."""
    value = _get(data, loc)
    twice = re.match(r"'(.*)' is listed twice$", msg)
    if twice and isinstance(value, list):
        hits = [i for i, v in enumerate(value) if v == twice.group(1)]
        return loc + (hits[1],) if len(hits) > 1 else loc
    if loc[-1:] == ("capacity",) and isinstance(value, dict):
        low = [k for k, v in value.items() if isinstance(v, int) and v < 1]
        return loc + (low[0],) if low else loc
    stranger = re.match(r"capacity names '(.*)', who", msg)
    if stranger:
        return loc + ("capacity", stranger.group(1))
    return loc


def _expected(loc: Loc) -> str | None:
    if not loc:
        return None
    if loc[0] == "managers":
        if len(loc) >= 3 and loc[2] == "capacity":
            return 'capacity = N (customers per manager), or { "张三" = N, ... }'
        return f'[managers.{loc[1] if len(loc) > 1 else "POOL"}] with managers = ["张三", "李四", ...]'
    if loc[0] == "channels":
        field = str(loc[2]) if len(loc) > 2 else ""
        return {"url": 'url = "https://host/path"', "secret_env": 'secret_env = "VARIABLE_NAME"',
                "timeout": "timeout = SECONDS (above 0)", "batch": "batch = N (deliveries per request, 1 or more)",
                "max_attempts": "max_attempts = N (1 or more)", "backoff": "backoff = SECONDS (above 0)",
                "max_backoff": "max_backoff = SECONDS (above 0)",
                "path": 'path = "file.csv" or "file.xlsx"', "message": 'message = "text"'}.get(
            field, 'kind = "webhook" | "export" | "log" and that kind\'s options')
    return TOP.get(str(loc[0]))


def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _span_of(loc: Loc, where: dict[Loc, Span]) -> Span | None:
    """The position of the longest located prefix of ``loc`` (a value's key, a table's header)."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in where:
            return where[loc[:n]]
    return None


# ---- where keys are -------------------------------------------------------------------------------
BARE_KEY = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass
class _Cursor:
    lines: list[str]
    line: int = 0  # 0-based
    col: int = 0  # 0-based

    def char(self) -> str:
        ln = self.lines[self.line]
        return ln[self.col] if self.col < len(ln) else "\n"

    def done(self) -> bool:
        return self.line >= len(self.lines)

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.col < len(self.lines[self.line]):
                self.col += 1
            else:
                self.line, self.col = self.line + 1, 0
                if self.done():
                    return

    def skip_space(self, newlines: bool) -> None:
        while not self.done():
            c = self.char()
            if c in " \t":
                self.advance()
            elif c == "#":
                self.col = len(self.lines[self.line])
            elif c == "\n" and newlines:
                self.advance()
            else:
                return

    def rest(self) -> str:
        return self.lines[self.line][self.col:]

    def span(self, length: int) -> Span:
        return Span(line=self.line + 1, column=self.col + 1, end_line=self.line + 1,
                    end_column=self.col + 1 + max(length, 1))


def _key(cur: _Cursor) -> tuple[tuple[str, ...], Span] | None:
    """A (dotted) key at the cursor: its parts and the span of the whole key; the cursor after it."""
    parts: list[str] = []
    start = (cur.line, cur.col)
    while True:
        cur.skip_space(False)
        rest = cur.rest()
        if rest[:1] in ('"', "'"):
            q = rest[0]
            m = re.match(r'"((?:[^"\\]|\\.)*)"' if q == '"' else r"'([^']*)'", rest)
            if not m:
                return None
            part = m.group(1)
            if q == '"':
                part = re.sub(r'\\(["\\])', r"\1", part)
            parts.append(part)
            cur.advance(m.end())
        else:
            m = BARE_KEY.match(rest)
            if not m:
                return None
            parts.append(m.group(0))
            cur.advance(m.end())
        cur.skip_space(False)
        if cur.rest()[:1] != ".":
            break
        cur.advance()
    length = cur.col - start[1] if cur.line == start[0] else 1
    while length > 1 and cur.lines[start[0]][start[1] + length - 1] in " \t":
        length -= 1
    return tuple(parts), Span(line=start[0] + 1, column=start[1] + 1, end_line=start[0] + 1,
                              end_column=start[1] + 1 + length)


def _skip_string(cur: _Cursor) -> None:
    rest = cur.rest()
    for q in ('"""', "'''"):
        if rest.startswith(q):
            cur.advance(3)
            while not cur.done():
                if cur.rest().startswith(q) and not (q == '"""' and _escaped(cur)):
                    cur.advance(3)
                    while not cur.done() and cur.rest()[:1] == q[0]:  # up to two quotes belong to the string
                        cur.advance()
                    return
                cur.advance()
            return
    q = rest[0]
    m = re.match(r'"(?:[^"\\]|\\.)*"?' if q == '"' else r"'[^']*'?", rest)
    cur.advance(m.end() if m else 1)


def _escaped(cur: _Cursor) -> bool:
    ln = cur.lines[cur.line][:cur.col]
    return (len(ln) - len(ln.rstrip("\\"))) % 2 == 1


def _value(cur: _Cursor, path: Loc, where: dict[Loc, Span]) -> None:
    """Skip the value at the cursor, recording the positions of array elements and inline-table keys."""
    cur.skip_space(False)
    if cur.done():
        return
    c = cur.char()
    if c == "[":
        cur.advance()
        i = 0
        while not cur.done():
            cur.skip_space(True)
            if cur.done() or cur.char() == "]":
                cur.advance()
                return
            if cur.char() == ",":
                cur.advance()
                continue
            where.setdefault(path + (i,), cur.span(_token_length(cur.rest())))
            before = (cur.line, cur.col)
            _value(cur, path + (i,), where)
            i += 1
            if (cur.line, cur.col) == before:
                cur.advance()
    elif c == "{":
        cur.advance()
        while not cur.done():
            cur.skip_space(False)
            if cur.done() or cur.char() in "}\n":
                cur.advance()
                return
            if cur.char() == ",":
                cur.advance()
                continue
            found = _key(cur)
            if found is None:
                return
            parts, span = found
            where.setdefault(path + parts, span)
            cur.skip_space(False)
            if cur.rest()[:1] != "=":
                return
            cur.advance()
            _value(cur, path + parts, where)
    elif c in "\"'":
        _skip_string(cur)
    else:
        m = re.match(r"[^,\]}\s#]+", cur.rest())
        cur.advance(m.end() if m else 1)


def _token_length(rest: str) -> int:
    m = re.match(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^,\]}\s#]+', rest)
    return m.end() if m else 1


def locate(text: str) -> dict[Loc, Span]:
    """Where each key, table header and array element of TOML ``text`` is: {path: span}. ``[[x]]``
    tables are numbered (``("x", 0)``). For valid TOML (what tomllib read); best effort otherwise."""
    where: dict[Loc, Span] = {}
    cur = _Cursor(text.split("\n"))
    table: Loc = ()
    counts: dict[Loc, int] = {}
    while not cur.done():
        cur.skip_space(True)
        if cur.done():
            break
        line = cur.line
        if cur.char() == "[":
            many = cur.rest().startswith("[[")
            cur.advance(2 if many else 1)
            found = _key(cur)
            if found is not None:
                parts, span = found
                if many:
                    counts[parts] = counts.get(parts, -1) + 1
                    table = parts + (counts[parts],)
                else:
                    table = parts
                for n in range(1, len(table) + 1):
                    where.setdefault(table[:n], span)
        else:
            found = _key(cur)
            if found is not None:
                parts, span = found
                for n in range(1, len(parts) + 1):
                    where.setdefault(table + parts[:n], span)
                cur.skip_space(False)
                if cur.rest()[:1] == "=":
                    cur.advance()
                    _value(cur, table + parts, where)
        if not cur.done() and cur.line == line:  # the rest of the line (a comment, or what is not TOML)
            cur.line, cur.col = cur.line + 1, 0
    return where
