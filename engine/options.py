"""Plugin options from a rule file -> the plugin's pydantic model, with positioned errors."""
from __future__ import annotations

import os
from typing import Any, Sequence

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..dsl import ast as A
from ..dsl.diagnostics import Diagnostics, suggest

ENV_PLACEHOLDER = "<env:{}>"


def literal_value(expr: A.Node, diags: Diagnostics, env: dict[str, str], option: str) -> Any:
    """The Python value of an option: a literal, a list of literals or ``env("VAR")``."""
    if isinstance(expr, (A.Number,)):
        v = expr.value
        return int(v) if float(v).is_integer() and not expr.percent and "." not in expr.text else v
    if isinstance(expr, (A.String, A.Bool)):
        return expr.value
    if isinstance(expr, A.Name):  # bare words as enum values: ties: high
        return expr.name
    if isinstance(expr, A.Call) and expr.func == "env":
        if len(expr.args) != 1 or not isinstance(expr.args[0], A.String):
            diags.error('env() takes one quoted variable name', expr.span, expected='env("VAR_NAME")')
            return None
        var = expr.args[0].value
        env[option] = var
        return os.environ.get(var, ENV_PLACEHOLDER.format(var))
    diags.error("an option value must be a literal or env(\"VAR\")", getattr(expr, "span", None),
                expected='a number, a "string", true/false or env("VAR")')
    return None


def build_options(
    plugin_cls: Any,
    kind: str,
    args: Sequence[A.Node],
    options: Sequence[A.NamedArg],
    diags: Diagnostics,
    span: A.Span,
) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """Validate a plugin call's arguments against its ``Options`` model.

    Returns (model or None, raw values, env var per option).
    """
    model = plugin_cls.Options
    fields = list(model.model_fields)
    raw: dict[str, Any] = {}
    env: dict[str, str] = {}
    spans: dict[str, A.Span] = {}
    positional = list(getattr(plugin_cls, "positional", ()))
    if len(args) > len(positional):
        extra = args[len(positional)]
        expected = (f"at most {len(positional)} positional argument(s): {', '.join(positional)}"
                    if positional else "named options only, like name: value")
        diags.error(f"{kind} '{plugin_cls.name}' takes {len(positional)} positional argument(s)", extra.span,
                    expected=expected)
    for name, expr in zip(positional, args):
        raw[name] = literal_value(expr, diags, env, name)
        spans[name] = expr.span
    ok = True
    for opt in options:
        if opt.name not in fields:
            close = suggest(opt.name, fields)
            diags.error(
                f"{kind} '{plugin_cls.name}' has no option '{opt.name}'", opt.span,
                expected="one of: " + ", ".join(fields) if fields else "no options",
                hint=f"did you mean '{close}'?" if close else None,
            )
            ok = False
            continue
        if opt.name in raw:
            diags.error(f"option '{opt.name}' is given twice", opt.span)
            ok = False
        raw[opt.name] = literal_value(opt.value, diags, env, opt.name)
        spans[opt.name] = opt.span
    for name, var in env.items():
        schema_extra = model.model_fields[name].json_schema_extra if name in model.model_fields else None
        if isinstance(schema_extra, dict) and schema_extra.get("env_name"):
            # the option names a variable read at delivery time; env() would put its value (a secret)
            # into the plan
            diags.error(f"option '{name}' of {kind} '{plugin_cls.name}' is the name of an environment variable, "
                        f"not its value", spans.get(name, span), expected=f'{name}: "{var}"')
            ok = False
    if not ok:
        return None, raw, env
    try:
        return model(**raw), raw, env
    except ValidationError as exc:
        for err in exc.errors():
            loc = err.get("loc") or ()
            field = str(loc[0]) if loc else ""
            where = spans.get(field, span)
            msg = validation_message(err)
            if err.get("type") == "missing":
                diags.error(f"{kind} '{plugin_cls.name}' needs option '{field}'", span,
                            expected=f"{field}: <value>")
            elif not field:  # a check across options (a model validator): no single option to name
                diags.error(f"{kind} '{plugin_cls.name}': {msg}", where)
            else:
                diags.error(f"option '{field}' of {kind} '{plugin_cls.name}': {msg}", where)
        return None, raw, env


def validation_message(err: ErrorDetails) -> str:
    """A pydantic error's message without the "Value error, " pydantic puts before a validator's own text."""
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg
